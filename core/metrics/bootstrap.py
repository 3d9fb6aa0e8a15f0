"""Confidence intervals by the bootstrap: resample the test set, recompute the metric.

A bootstrap's cost grows with rows x resamples; on a shared server it is held to the host's
budget (`core.sharing.limits.HostLimits.bootstrap_budget`, `DLSTUDIO_BOOTSTRAP_BUDGET`),
and asking for more is refused with the largest number of resamples that fits.
"""

from collections.abc import Callable

import numpy as np

from core.sharing.limits import HostLimits

Metric = Callable[[np.ndarray, np.ndarray], float]


def check_budget(n_rows: int, n_resamples: int, budget: int | None = None) -> None:
    """ValueError when `n_rows` x `n_resamples` exceeds `budget` (None: the host's budget)."""
    budget = HostLimits.from_env().bootstrap_budget if budget is None else budget
    if n_rows * n_resamples > budget:
        fits = budget // max(n_rows, 1)
        raise ValueError(
            f"a bootstrap of {n_rows:,} rows x {n_resamples:,} resamples is more than this "
            f"server computes at once ({budget:,} rows x resamples): use at most {fits:,} "
            "resamples for these rows, or fewer rows"
        )


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
    budget: int | None = None,
) -> dict[str, tuple[float, float, float]]:
    """`bootstrap_ci` of several metrics over the same resamples: name -> (point, low, high).

    Resamples with a single class are skipped for every metric; a resample where one metric
    is NaN (undefined there) is skipped for that metric only. Rows x resamples beyond `budget`
    (None: the host's) are refused (`check_budget`).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    check_budget(len(y_true), n_resamples, budget)
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
