"""Do the bootstrap intervals cover the truth as often as they claim? A simulation.

Samples come from `core.metrics.imbalance.sample_binormal` (labels Bernoulli(share); logits
N(-d/2, 1) for negatives, N(d/2, s^2) for positives), whose population metric values are known
in closed form. Each sample gets percentile-bootstrap intervals
(`core.metrics.bootstrap.bootstrap_cis`); the coverage is the share of samples whose interval
holds the true value. The percentile bootstrap is first-order accurate, so expect a little under the
nominal level for small samples.

    dlstudio metrics coverage --reps 1000 --n 300 --json
"""

import numpy as np
from scipy.special import logit
from scipy.stats import norm

from core.metrics.binary import metric_functions
from core.metrics.bootstrap import bootstrap_cis
from core.metrics.imbalance import sample_binormal

CHECKED = ("roc_auc", "recall", "specificity", "accuracy", "precision")


def true_values(share: float, separation: float, spread: float, threshold: float) -> dict:
    """Population values of the binormal classifier at `threshold` (on the score scale)."""
    cut = logit(threshold)
    recall = float(norm.sf((cut - separation / 2) / spread))
    specificity = float(norm.cdf(cut + separation / 2))
    hits, alarms = share * recall, (1 - share) * (1 - specificity)
    return {
        "roc_auc": float(norm.cdf(separation / np.sqrt(1 + spread**2))),
        "recall": recall,
        "specificity": specificity,
        "accuracy": hits + (1 - share) * specificity,
        "precision": hits / (hits + alarms),
    }


def coverage(
    reps: int = 200,
    n: int = 300,
    share: float = 0.3,
    separation: float = 2.0,
    spread: float = 1.5,
    threshold: float = 0.5,
    n_resamples: int = 500,
    level: float = 0.95,
    seed: int = 0,
    metrics: tuple[str, ...] = CHECKED,
) -> dict[str, float]:
    """Share of `reps` simulated samples whose bootstrap interval holds each true value."""
    truth = true_values(share, separation, spread, threshold)
    functions = {name: metric_functions(threshold)[name] for name in metrics}
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(metrics, 0)
    for rep in range(reps):
        y_true, score = sample_binormal(n, share, separation, spread, rng)
        if np.unique(y_true).size < 2:
            continue
        intervals = bootstrap_cis(functions, y_true, score, n_resamples, level, seed=rep)
        for name, (_, low, high) in intervals.items():
            hits[name] += low <= truth[name] <= high
    return {name: count / reps for name, count in hits.items()}
