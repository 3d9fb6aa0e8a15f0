"""Binary-classification metrics at a threshold, from scratch in numpy, with bootstrap CIs.

A row is predicted positive when its score is >= the threshold. Metrics that count a
confusion matrix (precision, recall, F1, F-beta, accuracy, balanced accuracy, specificity,
MCC) follow scikit-learn's documented value for 0/0: they are 0 (its `zero_division=0`), and
the report says where that happened. Ranking metrics (ROC-AUC, PR-AUC) need both classes;
log-loss needs probabilities in [0, 1]. Every function takes optional sample weights, so the
imbalance experiment can reweight the classes without resampling (`core.metrics.imbalance`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.metrics.bootstrap import bootstrap_cis
from core.metrics.inputs import MetricInputError, check_probabilities, require_both_classes

BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Confusion:
    """Counts (or weight sums) of the four outcomes."""

    tp: float
    fp: float
    fn: float
    tn: float

    @property
    def total(self) -> float:
        return self.tp + self.fp + self.fn + self.tn


def confusion(
    y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None
) -> Confusion:
    weight = np.ones(len(y_true)) if weight is None else np.asarray(weight, dtype=float)
    truth, pred = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    return Confusion(
        tp=float(weight[truth & pred].sum()),
        fp=float(weight[~truth & pred].sum()),
        fn=float(weight[truth & ~pred].sum()),
        tn=float(weight[~truth & ~pred].sum()),
    )


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, and 0 for 0/0 as scikit-learn's `zero_division=0` does."""
    return numerator / denominator if denominator else 0.0


def f_beta(c: Confusion, beta: float) -> float:
    """(1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP): recall counts b^2 times as much."""
    b2 = beta**2
    return ratio((1 + b2) * c.tp, (1 + b2) * c.tp + b2 * c.fn + c.fp)


def balanced_accuracy(c: Confusion) -> float:
    """Mean recall of the classes present (both: (recall + specificity) / 2)."""
    recalls = [ratio(hit, hit + miss) for hit, miss in ((c.tp, c.fn), (c.tn, c.fp)) if hit + miss]
    return float(np.mean(recalls)) if recalls else 0.0


def mcc(c: Confusion) -> float:
    """Matthews correlation: the Pearson correlation of truth and prediction; 0 when undefined."""
    denominator = np.sqrt((c.tp + c.fp) * (c.tp + c.fn) * (c.tn + c.fp) * (c.tn + c.fn))
    return ratio(c.tp * c.tn - c.fp * c.fn, float(denominator))


# name -> f(confusion, beta). Each is a share of one row or one column of the confusion matrix,
# or a combination of them; which ones mix the two classes decides their prior sensitivity.
THRESHOLD_METRICS: dict[str, Callable[[Confusion, float], float]] = {
    "precision": lambda c, beta: ratio(c.tp, c.tp + c.fp),
    "recall": lambda c, beta: ratio(c.tp, c.tp + c.fn),
    "f1": lambda c, beta: f_beta(c, 1.0),
    "f_beta": f_beta,
    "accuracy": lambda c, beta: ratio(c.tp + c.tn, c.total),
    "balanced_accuracy": lambda c, beta: balanced_accuracy(c),
    "specificity": lambda c, beta: ratio(c.tn, c.tn + c.fp),
    "mcc": lambda c, beta: mcc(c),
}

# Which 0/0 each threshold metric can meet, for the report's notes.
ZERO_DIVISION = {
    "precision": ("tp", "fp"),
    "recall": ("tp", "fn"),
    "specificity": ("tn", "fp"),
}


def _weights(n: int, weight: np.ndarray | None) -> np.ndarray:
    return np.ones(n) if weight is None else np.asarray(weight, dtype=float)


def roc_auc(y_true: np.ndarray, y_score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """P(score of a random positive > score of a random negative), ties counted 1/2.

    The Mann-Whitney count done in O(n log n): sort by score, and for each group of tied
    scores add (positive weight in it) x (negative weight below it + half the one in it).
    """
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    require_both_classes(y_true)
    weight = _weights(len(y_true), weight)
    order = np.argsort(y_score, kind="mergesort")
    values, groups = np.unique(y_score[order], return_inverse=True)
    positive = np.bincount(
        groups, weights=weight[order] * (y_true[order] == 1), minlength=len(values)
    )
    negative = np.bincount(
        groups, weights=weight[order] * (y_true[order] == 0), minlength=len(values)
    )
    below = np.cumsum(negative) - negative
    wins = float(np.sum(positive * (below + negative / 2)))
    return wins / (positive.sum() * negative.sum())


def precision_recall_points(
    y_true: np.ndarray, y_score: np.ndarray, weight: np.ndarray | None = None
) -> pd.DataFrame:
    """Precision and recall at every distinct score used as the threshold, highest first."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    weight = _weights(len(y_true), weight)
    order = np.argsort(-y_score, kind="mergesort")
    sorted_scores = y_score[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(sorted_scores) - 1]
    tp = np.cumsum(weight[order] * (y_true[order] == 1))[last_of_group]
    fp = np.cumsum(weight[order] * (y_true[order] == 0))[last_of_group]
    positives = float(np.sum(weight * (y_true == 1)))
    return pd.DataFrame(
        {
            "threshold": sorted_scores[last_of_group],
            "tp": tp,
            "fp": fp,
            "precision": tp / (tp + fp),
            "recall": tp / positives if positives else np.zeros_like(tp),
        }
    )


def average_precision(
    y_true: np.ndarray, y_score: np.ndarray, weight: np.ndarray | None = None
) -> float:
    """PR-AUC as average precision: sum over thresholds of (recall step) x precision."""
    y_true = np.asarray(y_true)
    require_both_classes(y_true)
    points = precision_recall_points(y_true, y_score, weight)
    recall_steps = np.diff(np.r_[0.0, points["recall"].to_numpy()])
    return float(np.sum(recall_steps * points["precision"].to_numpy()))


def log_loss(y_true: np.ndarray, y_score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean -log P(true class); probabilities clipped to [eps, 1 - eps] as scikit-learn does."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    check_probabilities(y_score)
    eps = np.finfo(float).eps
    p_true = np.where(
        y_true == 1, np.clip(y_score, eps, 1 - eps), np.clip(1 - y_score, eps, 1 - eps)
    )
    return float(np.average(-np.log(p_true), weights=_weights(len(y_true), weight)))


RANKING_METRICS: dict[str, Callable[..., float]] = {
    "roc_auc": roc_auc,
    "pr_auc": average_precision,
    "log_loss": log_loss,
}
METRIC_NAMES = (*THRESHOLD_METRICS, *RANKING_METRICS)


def metric_functions(
    threshold: float = 0.5, beta: float = 1.0
) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """name -> f(y_true, y_score): every metric as a function of labels and scores alone."""

    def at_threshold(metric: Callable[[Confusion, float], float]):
        return lambda y, s, w=None: metric(confusion(y, s >= threshold, w), beta)

    return {
        **{name: at_threshold(metric) for name, metric in THRESHOLD_METRICS.items()},
        **RANKING_METRICS,
    }


def check_beta(beta: float) -> None:
    if not (np.isfinite(beta) and beta > 0):
        raise MetricInputError(f"beta must be a positive number, not {beta}")


def binary_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    threshold: float = 0.5,
    beta: float = 1.0,
    weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Every metric by name; `log_loss` only when the scores are probabilities in [0, 1]."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    require_both_classes(y_true)
    check_beta(beta)
    functions = metric_functions(threshold, beta)
    if not is_probability(y_score):
        del functions["log_loss"]
    return {name: float(f(y_true, y_score, weight)) for name, f in functions.items()}


def is_probability(y_score: np.ndarray) -> bool:
    return bool(np.all((y_score >= 0) & (y_score <= 1)))


@dataclass
class BinaryReport:
    """Every metric with its bootstrap interval, the confusion matrix and what to watch for."""

    n: int
    positives: int
    threshold: float
    beta: float
    level: float
    confusion: Confusion
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Flat: every metric by name, plus the counts, settings, intervals and notes."""
        return {
            "kind": "binary",
            "n": self.n,
            "positives": self.positives,
            "threshold": self.threshold,
            "beta": self.beta,
            **self.values,
            "confusion": vars(self.confusion),
            "ci_level": self.level,
            "ci": {name: list(bounds) for name, bounds in self.intervals.items()},
            "notes": self.notes,
        }

    def table(self) -> pd.DataFrame:
        rows = [
            {
                "metric": name,
                "value": round(value, 6),
                "ci_low": round(self.intervals[name][0], 6) if name in self.intervals else None,
                "ci_high": round(self.intervals[name][1], 6) if name in self.intervals else None,
            }
            for name, value in self.values.items()
        ]
        return pd.DataFrame(rows, columns=["metric", "value", "ci_low", "ci_high"])


def binary_report(
    y_true: np.ndarray,
    y_score: np.ndarray,
    threshold: float = 0.5,
    beta: float = 1.0,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> BinaryReport:
    """`binary_metrics` plus percentile-bootstrap intervals (0 resamples: no intervals)."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    values = binary_metrics(y_true, y_score, threshold, beta)
    functions = {name: f for name, f in metric_functions(threshold, beta).items() if name in values}
    intervals = {}
    if n_resamples > 0:
        bootstrapped = bootstrap_cis(functions, y_true, y_score, n_resamples, level, seed)
        intervals = {name: (low, high) for name, (_, low, high) in bootstrapped.items()}
    counts = confusion(y_true, y_score >= threshold)
    notes = [
        f"{name} is 0/0 at threshold {threshold:g} ({a.upper()} = {b.upper()} = 0); "
        "reported as 0, as scikit-learn does"
        for name, (a, b) in ZERO_DIVISION.items()
        if getattr(counts, a) + getattr(counts, b) == 0
    ]
    if "log_loss" not in values:
        notes.append(
            f"log_loss needs probabilities in [0, 1]; the scores run from {y_score.min():g} "
            f"to {y_score.max():g}, so it is left out"
        )
    return BinaryReport(
        n=len(y_true),
        positives=int(y_true.sum()),
        threshold=threshold,
        beta=beta,
        level=level,
        confusion=counts,
        values=values,
        intervals=intervals,
        notes=notes,
    )
