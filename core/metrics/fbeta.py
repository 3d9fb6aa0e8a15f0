"""F-beta over thresholds, and worked examples where beta != 1 is the right choice.

F_beta = (1 + b^2) P R / (b^2 P + R) is the weighted harmonic mean of precision P and recall R
with weight b^2 on recall: 1 / F = (1 / (1 + b^2)) / P + (b^2 / (1 + b^2)) / R. Van Rijsbergen
defined b as the ratio R / P at which a user is indifferent between a little more precision and
a little more recall (where dF/dP = dF/dR). b > 1 favours recall (missing a positive is the
costly error), b < 1 favours precision (a false alarm is the costly error).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.metrics.binary import check_beta, precision_recall_points
from core.metrics.imbalance import binormal_scores, prior_weights
from core.metrics.inputs import require_both_classes


def f_beta_from(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    """F_beta of precision/recall pairs; 0 where both are 0."""
    b2 = beta**2
    denominator = b2 * precision + recall
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, (1 + b2) * precision * recall / safe, 0.0)


def threshold_curve(
    y_true: np.ndarray, y_score: np.ndarray, beta: float, weight: np.ndarray | None = None
) -> pd.DataFrame:
    """Precision, recall and F_beta at every distinct score as the threshold (score >= t)."""
    check_beta(beta)
    require_both_classes(np.asarray(y_true))
    points = precision_recall_points(y_true, y_score, weight)
    points["f_beta"] = f_beta_from(points["precision"], points["recall"], beta)
    return points


def best_threshold(curve: pd.DataFrame) -> pd.Series:
    """The row with the largest F_beta (the highest threshold among equal ones)."""
    return curve.loc[curve["f_beta"].idxmax()]


@dataclass(frozen=True)
class Scenario:
    """A decision where one kind of error costs more than the other."""

    title: str
    beta: float
    share: float  # positives in the population
    separation: float  # the classifier, as in `imbalance.binormal_scores`
    spread: float
    population: int
    positive: str  # what a positive is, plural
    alarm: str  # what a false positive costs, in words
    why: str


SCENARIOS = {
    "screening": Scenario(
        title="Cancer screening",
        beta=2.0,
        share=0.01,
        separation=2.5,
        spread=1.2,
        population=10_000,
        positive="cancers",
        alarm="a follow-up test for a healthy person",
        why="a missed cancer costs far more than a follow-up test, so recall counts more",
    ),
    "spam": Scenario(
        title="Spam filter",
        beta=0.5,
        share=0.3,
        separation=3.0,
        spread=1.0,
        population=10_000,
        positive="spam letters",
        alarm="a real letter hidden in the spam folder",
        why="a lost real letter costs more than a spam left in the inbox, so precision counts more",
    ),
    "discovery": Scenario(
        title="Legal e-discovery",
        beta=3.0,
        share=0.05,
        separation=2.0,
        spread=1.0,
        population=10_000,
        positive="relevant documents",
        alarm="a lawyer reading an irrelevant document",
        why="a relevant document the other side finds first costs more than reading a few "
        "extra ones, so recall counts much more",
    ),
}


def operating_point(curve: pd.DataFrame, population: float) -> dict:
    """The best-F_beta threshold and what it means per `population` cases."""
    row = best_threshold(curve)
    positives = curve["tp"].iloc[-1] + 0.0  # at the lowest threshold every positive is found
    return {
        "threshold": float(row["threshold"]),
        "precision": float(row["precision"]),
        "recall": float(row["recall"]),
        "f_beta": float(row["f_beta"]),
        "found": float(row["tp"] * population),
        "missed": float((positives - row["tp"]) * population),
        "false_alarms": float(row["fp"] * population),
    }


def scenario_population(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y_true, y_score, weight) of the scenario's classifier on its population (weights sum
    to 1; see `imbalance.prior_weights`)."""
    scenario = SCENARIOS[name]
    y_true, y_score = binormal_scores(scenario.separation, scenario.spread)
    return y_true, y_score, prior_weights(y_true, scenario.share)


def worked_example(name: str) -> dict:
    """Best thresholds under the scenario's beta and under beta = 1, with counts and verdict."""
    scenario = SCENARIOS[name]
    y_true, y_score, weight = scenario_population(name)
    points = {
        beta: operating_point(threshold_curve(y_true, y_score, beta, weight), scenario.population)
        for beta in (scenario.beta, 1.0)
    }
    chosen, f1 = points[scenario.beta], points[1.0]
    extra_found = chosen["found"] - f1["found"]
    extra_alarms = chosen["false_alarms"] - f1["false_alarms"]
    per = scenario.population
    lines = [
        f"**{scenario.title}** (beta = {scenario.beta:g}): {scenario.why}.",
        f"Per {per:,} cases with {scenario.share:.0%} {scenario.positive}: "
        f"F{scenario.beta:g}'s best threshold {chosen['threshold']:.3f} finds "
        f"{chosen['found']:.0f}, misses {chosen['missed']:.0f} and raises "
        f"{chosen['false_alarms']:.0f} false alarms (precision {chosen['precision']:.3f}, "
        f"recall {chosen['recall']:.3f}); F1's threshold {f1['threshold']:.3f} finds "
        f"{f1['found']:.0f}, misses {f1['missed']:.0f} with {f1['false_alarms']:.0f} false "
        f"alarms (precision {f1['precision']:.3f}, recall {f1['recall']:.3f}).",
    ]
    if extra_found > 0:
        lines.append(
            f"F{scenario.beta:g} buys {extra_found:.0f} more {scenario.positive} found for "
            f"{extra_alarms:.0f} more false alarms, {extra_alarms / extra_found:.1f} per extra "
            f"one: right when one missed case costs more than {extra_alarms / extra_found:.1f} "
            f"times {scenario.alarm}."
        )
    elif extra_found < 0:
        lines.append(
            f"F{scenario.beta:g} gives up {-extra_found:.0f} {scenario.positive} to avoid "
            f"{-extra_alarms:.0f} false alarms: right when one false alarm ({scenario.alarm}) "
            f"costs more than {extra_found / extra_alarms:.1f} missed {scenario.positive}."
        )
    else:
        lines.append("Here both choose the same threshold.")
    return {"scenario": name, "beta": scenario.beta, "points": points, "text": lines}
