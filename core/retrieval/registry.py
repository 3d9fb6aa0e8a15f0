"""The retrievers by name, and a fitted (and, for the hybrid, tuned) retriever per corpus."""

import functools
from collections.abc import Callable

from core.retrieval.base import Retriever
from core.retrieval.corpus import Corpus, split_queries
from core.retrieval.dense import DenseRetriever
from core.retrieval.fusion import HybridRetriever, RRFRetriever
from core.retrieval.lexical import BM25Retriever, TfidfRetriever

CHAR_NGRAMS = (3, 5)  # chosen on the tuning split (python, debian en, ru: 0.76, 0.51, 0.35)


def char_tfidf() -> TfidfRetriever:
    return TfidfRetriever("char_wb", CHAR_NGRAMS)


RETRIEVERS: dict[str, Callable[[], Retriever]] = {
    "tfidf": lambda: TfidfRetriever("word"),
    "tfidf-char": char_tfidf,
    "bm25": BM25Retriever,
    "dense": DenseRetriever,
    "rrf": lambda: RRFRetriever([BM25Retriever(), DenseRetriever()]),
    "hybrid": lambda: HybridRetriever([BM25Retriever(), char_tfidf(), DenseRetriever()]),
}

DESCRIPTIONS = {
    "tfidf": "TF-IDF over words, cosine (the baseline)",
    "tfidf-char": f"TF-IDF over character {CHAR_NGRAMS[0]}-{CHAR_NGRAMS[1]}-grams, cosine",
    "bm25": "Okapi BM25 (k1 1.5, b 0.75)",
    "dense": "all-MiniLM-L6-v2 embeddings, exact inner product (faiss)",
    "rrf": "reciprocal-rank fusion of BM25 and dense, untuned",
    "hybrid": "BM25 + char TF-IDF + dense, score mix tuned per script on the tuning split",
}


def check_retriever(name: str) -> str:
    """`name` itself when a retriever is registered under it; else ValueError naming the known
    ones. Every entry point (search, evaluation, the tab) checks a name here."""
    if name not in RETRIEVERS:
        raise ValueError(f"unknown retriever {name!r}; choose one of {', '.join(RETRIEVERS)}")
    return name


def build_retriever(name: str) -> Retriever:
    """A new, unfitted retriever; ValueError names the known ones."""
    return RETRIEVERS[check_retriever(name)]()


@functools.lru_cache(maxsize=32)
def prepared_retriever(name: str, corpus: Corpus) -> Retriever:
    """`name` fitted on the corpus's answers; a tunable one (the hybrid) is then tuned on the
    corpus's tuning split of questions, never on the evaluation split. Cached per corpus."""
    retriever = build_retriever(name).fit(corpus.answers)
    if hasattr(retriever, "tune"):
        tuning, _ = split_queries(len(corpus))
        retriever.tune([corpus.questions[i] for i in tuning], tuning)
    return retriever
