"""Standard ranking metrics of one result list with graded relevance labels (0 = irrelevant).

- precision@k: the share of the top k that is relevant (grade >= `relevant_from`); missing
  results count as irrelevant, so the denominator is always k.
- DCG@k = sum over ranks i <= k of gain(grade_i) / log2(i + 1); gain 2^g - 1 ("exponential",
  Burges et al. 2005) or g ("linear", scikit-learn's `dcg_score`).
- nDCG@k = DCG@k / IDCG@k, the ideal taken from a pool of judged grades (by default the list's
  own; when comparing engines, the pool of both engines' results). 0 when IDCG = 0, as
  scikit-learn does for a query with nothing relevant.
- reciprocal rank: 1 / rank of the first relevant result, 0 if none; MRR is its mean over
  queries.
- ERR (Chapelle et al. 2009): a user reads down the list and stops, satisfied, at rank i with
  probability R_i = (2^g_i - 1) / 2^g_max; ERR = sum_i (1 / i) R_i prod_{j<i} (1 - R_j), the
  expected reciprocal rank of the stopping point.
"""

from collections.abc import Callable, Sequence

import numpy as np

from core.metrics.inputs import MetricInputError, numbers

GAINS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exponential": lambda grades: 2.0**grades - 1,
    "linear": lambda grades: grades.astype(float),
}
MAX_GRADE = 3

EXPLAIN = {
    "precision@k": "share of the top k that is relevant; blind to order within the top k",
    "dcg@k": "gain of each result, discounted by log2(rank + 1): top ranks count more",
    "ndcg@k": "DCG over the best DCG the judged results allow: comparable across queries",
    "rr": "1 / rank of the first relevant result: how far the user reads to the first hit",
    "err": "expected 1 / rank at which a cascade user is satisfied: a great result near the "
    "top makes the rest matter less",
}


def parse_grades(
    values: Sequence | np.ndarray, name: str = "grade", max_grade: int = MAX_GRADE
) -> np.ndarray:
    """Relevance grades: whole numbers from 0 to `max_grade`."""
    parsed = numbers(values, name)
    bad = (parsed < 0) | (parsed > max_grade) | (parsed != np.round(parsed))
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise MetricInputError(
            f"{name} must be whole grades from 0 to {max_grade}: found {parsed[bad][0]:g} "
            f"(row {row})"
        )
    return parsed.astype(int)


def _top(grades: np.ndarray, k: int) -> np.ndarray:
    if k < 1:
        raise MetricInputError(f"k must be at least 1, not {k}")
    return np.asarray(grades)[:k]


def precision_at_k(grades: np.ndarray, k: int, relevant_from: int = 1) -> float:
    return float(np.sum(_top(grades, k) >= relevant_from) / k)


def discounts(n: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..n."""
    return 1 / np.log2(np.arange(2, n + 2))


def dcg_at_k(grades: np.ndarray, k: int, gain: str = "exponential") -> float:
    top = _top(grades, k)
    return float(np.sum(GAINS[gain](top) * discounts(len(top))))


def ndcg_at_k(
    grades: np.ndarray, k: int, gain: str = "exponential", ideal: np.ndarray | None = None
) -> float:
    pool = np.asarray(grades if ideal is None else ideal)
    best = dcg_at_k(np.sort(pool)[::-1], k, gain)
    return dcg_at_k(grades, k, gain) / best if best > 0 else 0.0


def reciprocal_rank(grades: np.ndarray, relevant_from: int = 1) -> float:
    hits = np.flatnonzero(np.asarray(grades) >= relevant_from)
    return 1 / float(hits[0] + 1) if hits.size else 0.0


def mean_reciprocal_rank(lists: Sequence[np.ndarray], relevant_from: int = 1) -> float:
    return float(np.mean([reciprocal_rank(g, relevant_from) for g in lists]))


def stop_probabilities(grades: np.ndarray, max_grade: int = MAX_GRADE) -> np.ndarray:
    """R_i = (2^g - 1) / 2^g_max: the chance a result satisfies the user who reads it."""
    return (2.0 ** np.asarray(grades) - 1) / 2.0**max_grade


def err(grades: np.ndarray, max_grade: int = MAX_GRADE, k: int | None = None) -> float:
    satisfy = stop_probabilities(grades if k is None else _top(grades, k), max_grade)
    reach = np.cumprod(np.r_[1.0, 1 - satisfy[:-1]])
    return float(np.sum(reach * satisfy / np.arange(1, len(satisfy) + 1)))


def ranking_metrics(
    grades: np.ndarray,
    k: int = 10,
    gain: str = "exponential",
    ideal: np.ndarray | None = None,
    max_grade: int = MAX_GRADE,
    relevant_from: int = 1,
) -> dict[str, float]:
    """Every standard metric of one list, by the names of `EXPLAIN`."""
    if gain not in GAINS:
        raise MetricInputError(f"gain must be one of {', '.join(GAINS)}, not {gain!r}")
    return {
        "precision@k": precision_at_k(grades, k, relevant_from),
        "dcg@k": dcg_at_k(grades, k, gain),
        "ndcg@k": ndcg_at_k(grades, k, gain, ideal),
        "rr": reciprocal_rank(grades, relevant_from),
        "err": err(grades, max_grade, k),
    }
