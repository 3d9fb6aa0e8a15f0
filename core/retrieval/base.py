"""The one retriever interface, and the top-k selection with its tie rule.

A retriever indexes documents once (`fit`) and answers a batch of queries (`search`) with, per
query, the ids (positions in the fitted document list) and scores of its k best documents.

Tie rule: a higher score ranks first; equal scores rank by document position, the earlier
document first. It is fixed because lexical scores tie often (two pointer answers, documents
sharing no query word) and a tie rule moves MRR by up to ~0.01.

Lexical retrievers (`matches_only = True`) retrieve only documents that share a term with the
query: the rest of their row is padded with id -1 and score 0, so that a document the query
never matched cannot enter the top k (or be counted as found) by the accident of its position.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Self

import numpy as np

from core.retrieval.metrics import PADDING


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (ids, scores) of the k best columns of `scores` under the tie rule; k is capped
    at the number of columns. Linear time per row: a partition finds k candidates, and only the
    rows where a tie straddles the k-th place are redone with the exact rule."""
    n_docs = scores.shape[1]
    k = min(k, n_docs)
    if k == n_docs:
        ids = np.argsort(-scores, axis=1, kind="stable")
        return ids, np.take_along_axis(scores, ids, axis=1)
    ids = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (selecting near the end is slower)
    values = np.take_along_axis(scores, ids, axis=1)
    kth = values.min(axis=1, keepdims=True)
    straddling = np.flatnonzero((scores == kth).sum(axis=1) > (values == kth).sum(axis=1))
    if len(straddling):
        ids[straddling] = _exact_candidates(scores[straddling], kth[straddling], k)
    values = np.take_along_axis(scores, ids, axis=1)
    order = np.lexsort((ids, -values), axis=1)  # best score first, then the earlier document
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(values, order, axis=1)


def _exact_candidates(scores: np.ndarray, kth: np.ndarray, k: int) -> np.ndarray:
    """The k ids per row above the k-th score, then the earliest of those tied with it."""
    above = scores > kth
    ties = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (ties & (np.cumsum(ties, axis=1) <= room))
    return np.nonzero(chosen)[1].reshape(len(scores), k)


class Retriever(ABC):
    """fit(documents) once, then search(queries, k) in batches."""

    name: str = ""
    matches_only: bool = False  # lexical: a document with score 0 is not retrieved
    n_documents: int = 0

    @abstractmethod
    def fit(self, documents: Sequence[str]) -> Self:
        """Index the documents; their positions become their ids."""

    @abstractmethod
    def score(self, queries: Sequence[str]) -> np.ndarray:
        """Scores of every document for every query, shape (n_queries, n_documents)."""

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per query the ids and scores of the k best documents, best first (see the module
        docstring for ties and the -1 padding of lexical retrievers)."""
        queries = self.check_search(queries, k)
        ids, scores = top_k(self.score(queries), k)
        if self.matches_only:
            ids = np.where(scores > 0, ids, PADDING)
            scores = np.where(scores > 0, scores, 0.0)
        return ids, scores

    def check_search(self, queries: Sequence[str], k: int) -> list[str]:
        """The queries as a list, after checking that a search can run."""
        if not self.n_documents:
            raise ValueError(f"{self.name}: fit it on documents before searching")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        queries = list(queries)
        if not queries:
            raise ValueError("there are no queries to search for")
        return queries


def check_documents(documents: Sequence[str]) -> list[str]:
    documents = list(documents)
    if not documents:
        raise ValueError("there are no documents to index")
    return documents
