"""Which metrics move when only the class balance changes: the imbalance-sensitivity experiment.

The classifier's behaviour is held fixed: the scores of the negatives and of the positives
keep the same distributions, and only the share of positives in the population changes, from
50 % to 0.1 %. Instead of drawing a new sample per share (noise that hides the effect), the
rows of each class are reweighted: with the positive share p, each of the n1 positives weighs
p / n1 and each of the n0 negatives (1 - p) / n0. The metric values are then those of an
infinite population with that prior, so whatever changes is due to the prior alone.

The default classifier is binormal: logits N(-d/2, 1) for negatives and N(+d/2, s^2) for
positives, taken at evenly spaced quantiles (no randomness), and scores = sigmoid(logit). With
s = 1 and the threshold 0.5 recall equals specificity and the per-class log-losses are equal,
so accuracy and log-loss stay put by coincidence; the default s = 1.5 avoids that, and the
conclusions point such coincidences out.
"""

import numpy as np
import pandas as pd
from scipy.stats import norm

from core.metrics.binary import binary_metrics
from core.metrics.inputs import MetricInputError, require_both_classes

SHARES = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
QUANTILES_PER_CLASS = 2000
INVARIANT_TOLERANCE = 1e-9

# Why a metric does or does not depend on the positive share (the class prior).
WHY = {
    "precision": "P(y=1 | predicted 1) mixes the two classes: TP grows with the share, "
    "FP with 1 - share (Bayes' rule puts the prior in it)",
    "recall": "P(predicted 1 | y=1) is computed within the positives alone",
    "f1": "the harmonic mean of precision and recall inherits precision's prior",
    "f_beta": "a weighted harmonic mean of precision and recall inherits precision's prior",
    "accuracy": "share x recall + (1 - share) x specificity: the prior weighs the two classes",
    "balanced_accuracy": "the unweighted mean of recall and specificity, both within one class",
    "specificity": "P(predicted 0 | y=0) is computed within the negatives alone",
    "mcc": "a correlation of all four confusion cells, which scale with the share",
    "roc_auc": "P(score of a positive > score of a negative): one draw from each class",
    "pr_auc": "the average precision over recall levels inherits precision's prior; "
    "a random ranking scores the share itself",
    "log_loss": "share x (loss on positives) + (1 - share) x (loss on negatives)",
}


def binormal_scores(
    separation: float = 2.0, spread: float = 1.5, n_per_class: int = QUANTILES_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_score) of the binormal classifier: logit means -d/2 and +d/2, the
    negatives' standard deviation 1 and the positives' `spread`."""
    if not (np.isfinite(separation) and 0 <= separation <= 10):
        raise MetricInputError(f"the separation d' must be in [0, 10], not {separation}")
    if not (np.isfinite(spread) and 0.1 <= spread <= 10):
        raise MetricInputError(f"the positives' spread must be in [0.1, 10], not {spread}")
    z = norm.ppf((np.arange(n_per_class) + 0.5) / n_per_class)
    logit = np.r_[z - separation / 2, spread * z + separation / 2]
    score = 1 / (1 + np.exp(-logit))
    y_true = np.r_[np.zeros(n_per_class, dtype=int), np.ones(n_per_class, dtype=int)]
    return y_true, score


def binormal_scores_for(
    y_true: np.ndarray, separation: float, spread: float, rng: np.random.Generator
) -> np.ndarray:
    """Random scores of the binormal classifier for the given labels."""
    z = rng.standard_normal(len(y_true))
    logit = np.where(y_true == 1, spread * z + separation / 2, z - separation / 2)
    return 1 / (1 + np.exp(-logit))


def sample_binormal(
    n: int, share: float, separation: float, spread: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """n random rows of the binormal classifier: labels Bernoulli(share), then scores."""
    y_true = (rng.random(n) < share).astype(int)
    return y_true, binormal_scores_for(y_true, separation, spread, rng)


def draw_binormal(
    n: int = 60, share: float = 0.3, separation: float = 2.0, spread: float = 1.5, seed: int = 0
) -> pd.DataFrame:
    """An example table (y_true, y_score) from the binormal classifier, scores to 2 decimals
    (so some are tied), its first two rows a positive and a negative."""
    if n < 2:
        raise MetricInputError("a sample needs at least 2 rows")
    rng = np.random.default_rng(seed)
    y_true = np.r_[1, 0, (rng.random(n - 2) < share).astype(int)]
    y_score = np.round(binormal_scores_for(y_true, separation, spread, rng), 2)
    return pd.DataFrame({"y_true": y_true, "y_score": y_score})


def prior_weights(y_true: np.ndarray, share: float) -> np.ndarray:
    """Row weights that make the positives `share` of the total and keep each class's mix."""
    if not 0 < share < 1:
        raise MetricInputError(f"a positive share must be in (0, 1), not {share}")
    positive = np.asarray(y_true) == 1
    return np.where(positive, share / positive.sum(), (1 - share) / (~positive).sum())


def imbalance_table(
    y_true: np.ndarray,
    y_score: np.ndarray,
    threshold: float = 0.5,
    beta: float = 2.0,
    shares: tuple[float, ...] = SHARES,
) -> pd.DataFrame:
    """One row per positive share: every metric, plus two baselines that need no model.

    `always_negative_accuracy` is the accuracy of predicting 0 for everyone (1 - share);
    `random_pr_auc` is the PR-AUC of a ranking that ignores the input (the share).
    """
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    require_both_classes(y_true)
    rows = []
    for share in shares:
        weight = prior_weights(y_true, share)
        values = binary_metrics(y_true, y_score, threshold, beta, weight)
        rows.append(
            {
                "share": share,
                **values,
                "always_negative_accuracy": 1 - share,
                "random_pr_auc": share,
            }
        )
    return pd.DataFrame(rows)


# Metrics computed within one true class (one row of the confusion matrix, or one draw from
# each class): the prior cancels in theory. The others mix the classes.
PRIOR_FREE = ("recall", "specificity", "balanced_accuracy", "roc_auc")


def metric_columns(table: pd.DataFrame) -> list[str]:
    return [column for column in table.columns if column in WHY]


def invariant_metrics(table: pd.DataFrame) -> list[str]:
    """Metrics whose value does not change with the share (to `INVARIANT_TOLERANCE`)."""
    return [
        name
        for name in metric_columns(table)
        if table[name].max() - table[name].min() <= INVARIANT_TOLERANCE
    ]


def conclusions(table: pd.DataFrame) -> list[str]:
    """What the numbers say: which metrics stay, which move and by how much, and why.

    A metric that mixes the classes can still stay put when its per-class parts happen to be
    equal (accuracy when recall = specificity); that is said, not passed off as invariance.
    """
    first, last = table.iloc[0], table.iloc[-1]
    span = f"{first['share']:.1%} to {last['share']:.1%} positives"
    stay = invariant_metrics(table)
    lines = [f"**Do not move** from {span}:"]
    lines += [
        f"- {name} = {first[name]:.4f}: {WHY[name]}"
        + (
            "."
            if name in PRIOR_FREE
            else "; it stays here only because its per-class parts "
            "are equal at this threshold and these distributions."
        )
        for name in stay
    ]
    moving = sorted(
        (name for name in metric_columns(table) if name not in stay),
        key=lambda name: -abs(last[name] - first[name]),
    )
    lines.append(f"**Move** from {span} (largest change first):")
    lines += [
        f"- {name}: {first[name]:.4f} -> {last[name]:.4f} ({last[name] - first[name]:+.4f}); "
        f"{WHY[name]}."
        for name in moving
    ]
    if "accuracy" in table:
        beaten = last["always_negative_accuracy"] > last["accuracy"]
        lines.append(
            f"At {last['share']:.1%} positives, predicting 0 for everyone has accuracy "
            f"{last['always_negative_accuracy']:.4f}, "
            + ("above" if beaten else "below")
            + f" this classifier's {last['accuracy']:.4f}: accuracy "
            + ("rewards ignoring the rare class." if beaten else "still favours the model here.")
        )
    if "pr_auc" in table:
        lines.append(
            f"A random ranking has PR-AUC = share = {last['random_pr_auc']:.4f}; this "
            f"classifier's {last['pr_auc']:.4f} is {last['pr_auc'] / last['random_pr_auc']:.1f}x "
            "that, while its ROC-AUC reads the same at every share: read PR-AUC against the "
            "share, ROC-AUC against 0.5."
        )
    return lines
