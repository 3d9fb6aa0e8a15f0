"""Ranking metrics of a retrieval run: Recall@K, MRR and nDCG@K over many queries.

Every function takes the same two arguments:
  rankings  one ranked list of document ids per query, best first (a 2-D array or a list of
            lists; lists may be shorter than K, and the id -1 is padding: "nothing retrieved")
  relevant  per query, the relevant document id, or a collection of them

This module only turns rankings of ids into binary relevance grades (1 = relevant) and checks
them; the metrics themselves are the graded ones of `core.metrics.ranking`, so each is
implemented once. With binary relevance:
  recall_at_k  the share of queries whose relevant document (any of them) is in the top K;
               with one relevant document per query this is also the usual recall@K
  mrr          the mean over queries of 1 / rank of the first relevant document, 0 when none
               was retrieved; `k` cuts the ranking first (MRR@K), None keeps all of it
  ndcg_at_k    DCG@K / ideal DCG@K with gain 1 per relevant document and discount
               1 / log2(rank + 1)
"""

from collections.abc import Collection, Sequence

import numpy as np

from core.metrics import ranking

PADDING = -1


def _relevant_sets(relevant: Sequence, n_queries: int) -> list[set]:
    if len(relevant) != n_queries:
        raise ValueError(f"{n_queries} rankings but {len(relevant)} relevance entries")
    sets = []
    for entry in relevant:
        is_many = isinstance(entry, Collection) and not isinstance(entry, str | bytes)
        ids = set(entry) if is_many else {entry}
        if not ids:
            raise ValueError("every query needs at least one relevant document")
        sets.append(ids)
    return sets


def _ranked(ranked, k: int | None) -> list:
    """The ranking's real ids, cut at k; a repeated id would count twice, so it is refused."""
    ids = [doc for doc in list(ranked)[:k] if not _is_padding(doc)]
    if len(set(ids)) != len(ids):
        raise ValueError("a ranking lists the same document twice")
    return ids


def _is_padding(doc) -> bool:
    return isinstance(doc, int | np.integer) and doc == PADDING


def binary_grades(
    rankings: Sequence, relevant: Sequence, k: int | None = None
) -> list[tuple[np.ndarray, int]]:
    """Per query, the grades of its top k (1 relevant, 0 not) and how many documents are
    relevant (the ideal list's length)."""
    if len(rankings) == 0:
        raise ValueError("no queries to evaluate")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1):
        raise ValueError(f"k must be a positive integer, not {k!r}")
    sets = _relevant_sets(relevant, len(rankings))
    return [
        (np.array([doc in ids for doc in _ranked(ranked, k)], dtype=int), len(ids))
        for ranked, ids in zip(rankings, sets, strict=True)
    ]


def first_relevant_ranks(
    rankings: Sequence, relevant: Sequence, k: int | None = None
) -> np.ndarray:
    """Per query, the 1-based rank of its first relevant document within the top k; 0 if none."""
    hits = [np.flatnonzero(grades) for grades, _ in binary_grades(rankings, relevant, k)]
    return np.array([row[0] + 1 if row.size else 0 for row in hits], dtype=np.int64)


def recall_at_k(rankings: Sequence, relevant: Sequence, k: int) -> float:
    """The share of queries with a relevant document in their top k."""
    if k is None:
        raise ValueError("recall_at_k needs k")
    return float(np.mean(first_relevant_ranks(rankings, relevant, k) > 0))


def mrr(rankings: Sequence, relevant: Sequence, k: int | None = None) -> float:
    """Mean reciprocal rank of the first relevant document (0 for a query that misses it)."""
    lists = [grades for grades, _ in binary_grades(rankings, relevant, k)]
    return ranking.mean_reciprocal_rank(lists)


def ndcg_at_k(rankings: Sequence, relevant: Sequence, k: int) -> float:
    """Mean nDCG@k with binary gains: each relevant document in the top k adds 1/log2(rank+1)."""
    if k is None:
        raise ValueError("ndcg_at_k needs k")
    return float(
        np.mean(
            [
                ranking.ndcg_at_k(grades, k, gain="linear", ideal=np.ones(n_relevant))
                for grades, n_relevant in binary_grades(rankings, relevant, k)
            ]
        )
    )


def metric_table(rankings: Sequence, relevant: Sequence, ks: Sequence[int] = (1, 3, 10)) -> dict:
    """The evaluation panel's numbers: mrr, recall@K for each K, and ndcg@10."""
    table = {"mrr": mrr(rankings, relevant)}
    table |= {f"recall@{k}": recall_at_k(rankings, relevant, k) for k in ks}
    table["ndcg@10"] = ndcg_at_k(rankings, relevant, 10)
    return table
