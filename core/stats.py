"""Confidence intervals by the bootstrap: resample the test set, recompute the metric."""

from collections.abc import Callable

import numpy as np


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_score: np.ndarray,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point estimate, low, high) of `metric(y_true, y_score)` by the percentile bootstrap.

    Resamples that contain a single class (where ranking metrics are undefined) are skipped.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        index = rng.integers(0, len(y_true), len(y_true))
        if np.unique(y_true[index]).size < 2:
            continue
        values.append(metric(y_true[index], y_score[index]))
    if not values:
        raise ValueError("every bootstrap resample had a single class; the metric is undefined")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(metric(y_true, y_score)), float(low), float(high)
