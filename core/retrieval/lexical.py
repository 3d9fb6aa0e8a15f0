"""Lexical retrievers: TF-IDF (word or character n-grams) with cosine similarity, and BM25.

TF-IDF uses scikit-learn's vectorizer with sublinear tf and L2-normalised rows, so a dot
product is the cosine. BM25 is written out here in the Lucene form (Kamphuis et al. 2020):

    score(q, d) = sum over query words t of  idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)),   tf = tf(t, d)

precomputed as one sparse (documents x vocabulary) weight matrix, so a batch of queries is one
sparse product. `tests/test_retrieval.py` checks it against `bm25s` (method "lucene").
"""

from collections.abc import Sequence
from typing import Self

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from core.retrieval.base import Retriever, check_documents
from core.retrieval.text import stemmed_tokens, tokenize


def _dense(matrix) -> np.ndarray:
    return np.asarray(matrix.toarray() if sparse.issparse(matrix) else matrix, dtype=np.float32)


class TfidfRetriever(Retriever):
    """Cosine similarity of TF-IDF vectors: words (the baseline) or character n-grams, which
    match word pieces ("lists" ~ "list") and so help with morphology (Russian) and typos."""

    matches_only = True

    def __init__(self, analyzer: str = "word", ngram_range: tuple[int, int] = (1, 1)) -> None:
        self.name = "tfidf" if analyzer == "word" else "tfidf-char"
        options = {"analyzer": tokenize} if analyzer == "word" else {"analyzer": analyzer}
        self.vectorizer = TfidfVectorizer(
            **options, ngram_range=ngram_range, sublinear_tf=True, norm="l2", dtype=np.float32
        )

    def fit(self, documents: Sequence[str]) -> Self:
        self.matrix = self.vectorizer.fit_transform(check_documents(documents)).T.tocsr()  # v x d
        self.n_documents = self.matrix.shape[1]
        return self

    def score(self, queries: Sequence[str]) -> np.ndarray:
        return _dense(self.vectorizer.transform(queries) @ self.matrix)


class BM25Retriever(Retriever):
    """Okapi BM25 (Lucene variant) over the shared word tokenizer, or over stemmed words
    (`stemmed=True`, named bm25-stem: "пакеты" finds "пакетов", "installing" finds "install")."""

    matches_only = True

    def __init__(self, k1: float = 1.5, b: float = 0.75, stemmed: bool = False) -> None:
        self.k1, self.b = k1, b
        self.name = "bm25-stem" if stemmed else "bm25"
        self.analyzer = stemmed_tokens if stemmed else tokenize

    def fit(self, documents: Sequence[str]) -> Self:
        self.vectorizer = CountVectorizer(analyzer=self.analyzer, dtype=np.float32)
        counts = self.vectorizer.fit_transform(check_documents(documents)).tocsr()
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * lengths / max(lengths.mean(), 1e-9))
        tf = counts.data
        rows = np.repeat(np.arange(n_docs), np.diff(counts.indptr))
        weights = counts.copy()
        weights.data = (self.idf[counts.indices] * tf / (tf + norm[rows])).astype(np.float32)
        self.matrix = weights.T.tocsr()  # vocabulary x documents
        self.n_documents = n_docs
        return self

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """Each occurrence of a query word adds its weight (as `bm25s` does)."""
        return _dense(self.vectorizer.transform(queries) @ self.matrix)
