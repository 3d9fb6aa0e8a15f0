"""Confidence intervals by the bootstrap: resample the test set, recompute the metric."""

from collections.abc import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def bootstrap_ci(
    metric: Metric,
    y_true: np.ndarray,
    y_score: np.ndarray,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point estimate, low, high) of `metric(y_true, y_score)` by the percentile bootstrap.

    Resamples that contain a single class (where ranking metrics are undefined) are skipped.
    """
    return bootstrap_cis({"metric": metric}, y_true, y_score, n_resamples, level, seed)["metric"]


def bootstrap_cis(
    metrics: dict[str, Metric],
    y_true: np.ndarray,
    y_score: np.ndarray,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float, float]]:
    """`bootstrap_ci` of several metrics over the same resamples: name -> (point, low, high).

    Resamples with a single class are skipped for every metric; a resample where one metric
    is NaN (undefined there) is skipped for that metric only.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {name: [] for name in metrics}
    for _ in range(n_resamples):
        index = rng.integers(0, len(y_true), len(y_true))
        if np.unique(y_true[index]).size < 2:
            continue
        for name, metric in metrics.items():
            values[name].append(metric(y_true[index], y_score[index]))
    tail = (1 - level) / 2 * 100
    intervals = {}
    for name, metric in metrics.items():
        defined = np.asarray(values[name], dtype=float)
        defined = defined[~np.isnan(defined)]
        if not defined.size:
            raise ValueError(
                f"every bootstrap resample had a single class; {name} is undefined there"
            )
        low, high = np.percentile(defined, [tail, 100 - tail])
        intervals[name] = (float(metric(y_true, y_score)), float(low), float(high))
    return intervals
