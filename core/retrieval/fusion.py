"""Fusing retrievers: plain reciprocal-rank fusion, and a hybrid whose score mix is tuned.

RRF (Cormack et al. 2009): score(d) = sum over retrievers of 1 / (60 + rank of d). Untuned, it
averages a strong and a weak ranking and can land below the strong one alone.

The hybrid standardises each component's scores per query (z-scores over all documents, so
that BM25's unbounded scores and cosines in [-1, 1] become comparable) and adds them with
weights on the simplex, chosen on a tuning split by MRR (`tune`). It keeps one weight vector
per query script: MiniLM reads English only, so Russian queries need different weights (more
lexical) than English ones. Untuned, it uses equal weights.
"""

import itertools
from collections.abc import Sequence
from typing import Self

import numpy as np

from core.retrieval.base import Retriever, check_documents
from core.retrieval.text import query_script

RRF_K = 60
WEIGHT_STEP = 0.05
MIN_TUNING_QUERIES = 10  # fewer queries of a script than this: keep that script's weights
NEAR_BEST = 0.05  # tuning keeps the centre of the weights this close to the best MRR


def rank_positions(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every document per query under the tie rule (score, then position)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return ranks


def standardise(scores: np.ndarray) -> np.ndarray:
    """Per-query z-scores (a row of equal scores becomes zeros)."""
    std = scores.std(axis=1, keepdims=True)
    return (scores - scores.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)


def simplex_grid(n: int, step: float = WEIGHT_STEP) -> np.ndarray:
    """All weight vectors of n non-negative multiples of `step` that sum to 1."""
    units = round(1 / step)
    rows = [c for c in itertools.product(range(units + 1), repeat=n) if sum(c) == units]
    return np.array(rows, dtype=np.float64) / units


class FusionRetriever(Retriever):
    """Common part: fit every component on the same documents."""

    def __init__(self, components: Sequence[Retriever]) -> None:
        self.components = list(components)

    def fit(self, documents: Sequence[str]) -> Self:
        documents = check_documents(documents)
        for component in self.components:
            component.fit(documents)
        self.n_documents = len(documents)
        return self

    def component_scores(self, queries: Sequence[str]) -> list[np.ndarray]:
        return [component.score(queries) for component in self.components]


class RRFRetriever(FusionRetriever):
    name = "rrf"

    def score(self, queries: Sequence[str]) -> np.ndarray:
        ranks = [rank_positions(scores) for scores in self.component_scores(queries)]
        return sum(1.0 / (RRF_K + r) for r in ranks).astype(np.float32)


class HybridRetriever(FusionRetriever):
    """Weighted sum of standardised component scores, weights per query script."""

    name = "hybrid"

    def __init__(self, components: Sequence[Retriever]) -> None:
        super().__init__(components)
        equal = np.full(len(self.components), 1 / len(self.components))
        self.weights = {"latin": equal, "cyrillic": equal.copy()}

    def score(self, queries: Sequence[str]) -> np.ndarray:
        standardised = [standardise(s) for s in self.component_scores(queries)]
        weights = np.array([self.weights[query_script(q)] for q in queries])
        return mix(standardised, weights.reshape(len(queries), -1))

    def tune(self, queries: Sequence[str], relevant: Sequence[int]) -> dict[str, list[float]]:
        """Choose each script's weights by MRR on these tuning queries (their relevant document
        ids); a script with fewer than MIN_TUNING_QUERIES queries keeps its weights. Returns the
        weights by script.

        Not the single best grid point: on a few dozen queries the MRR surface is jagged and
        its peak is partly chance. The weights are the centre of every grid point within
        `NEAR_BEST` MRR of the best (snapped to the grid). Chosen by leave-one-out over the
        tuning questions alone (docs/retrieval.md): mean MRR 0.723 over the six tuning sets
        against 0.701 for the single best point."""
        queries = list(queries)
        scripts = np.array([query_script(q) for q in queries])
        standardised = [standardise(s) for s in self.component_scores(queries)]
        for script in self.weights:
            rows = np.flatnonzero(scripts == script)
            if len(rows) < MIN_TUNING_QUERIES:
                continue
            parts = [s[rows] for s in standardised]
            targets = np.asarray(relevant)[rows]

            def mrr(weights: np.ndarray, parts=parts, targets=targets) -> float:
                return float(np.mean(1.0 / relevant_ranks(mix(parts, weights[None, :]), targets)))

            self.weights[script] = near_best_centre(simplex_grid(len(parts)), mrr)
        return self.named_weights()

    def named_weights(self) -> dict[str, dict[str, float]]:
        """{script: {component name: weight}}."""
        names = [component.name for component in self.components]
        return {
            script: {name: round(float(w), 4) for name, w in zip(names, weights, strict=True)}
            for script, weights in self.weights.items()
        }


def near_best_centre(grid: np.ndarray, score) -> np.ndarray:
    """The grid point nearest the mean of every point scoring within NEAR_BEST of the best
    (ties: the first in grid order)."""
    return grid[near_best_index(grid, np.array([score(weights) for weights in grid]))]


def near_best_index(grid: np.ndarray, scores: np.ndarray, tolerance: float = NEAR_BEST) -> int:
    """`near_best_centre` on scores already computed (one per grid point): its row number."""
    centre = grid[scores >= scores.max() - tolerance].mean(axis=0)
    return int(np.argmin(((grid - centre) ** 2).sum(axis=1)))


def mix(standardised: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Weighted sum of standardised score matrices; `weights` has one row per query (or one
    row for all) and one column per component."""
    return sum(weights[:, [i]] * s for i, s in enumerate(standardised)).astype(np.float32)


def relevant_ranks(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Per query, the 1-based rank of its relevant document in the full ranking under the tie
    rule, without sorting (the tuning grid ranks every query once per weight vector): 1 + the
    documents scored above it + the earlier documents scored the same."""
    target = scores[np.arange(len(scores)), relevant][:, None]
    earlier = np.arange(scores.shape[1])[None, :] < relevant[:, None]
    return 1 + (scores > target).sum(axis=1) + ((scores == target) & earlier).sum(axis=1)
