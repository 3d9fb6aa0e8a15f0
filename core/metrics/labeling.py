"""Three methods to improve relevance-label quality, applied to one set of crowd labels.

1. Overlap with agreement: every item gets several labels; Krippendorff's alpha
   (`core.metrics.agreement`) says whether the annotators agree beyond chance at all, and the
   per-item disagreement says which items deserve more labels (adaptive overlap).
2. Honeypots: items with a known answer mixed into the task; a worker's accuracy on them (with
   a Wilson interval) exposes spammers, whose labels are then dropped everywhere.
3. Aggregation: majority vote against Dawid-Skene (`core.metrics.aggregation`), which weighs
   each worker by an estimated confusion matrix instead of one vote each.

Labels are a long table: item, worker, label (a whole-number grade) and, optionally, gold
(the known answer of a honeypot item, blank elsewhere).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from core.metrics.aggregation import dawid_skene, majority_vote
from core.metrics.agreement import item_disagreement, krippendorff_alpha, label_matrix
from core.metrics.inputs import MetricInputError, numbers, require_columns

LEVELS = ("nominal", "ordinal", "interval")
MIN_ACCURACY = 0.6
MIN_HONEYPOTS = 3
DISPUTED = 0.5  # an item whose labels disagree this much with its mode deserves more labels


def parse_labels(table: pd.DataFrame) -> pd.DataFrame:
    """item, worker, label (whole numbers) and gold (whole numbers or NaN), checked."""
    require_columns(table, ["item", "worker", "label"], "the labeling analysis")
    label = numbers(table["label"], "label")
    if (label != np.round(label)).any():
        raise MetricInputError("labels must be whole-number grades (0, 1, 2, ...)")
    gold = pd.to_numeric(table["gold"], errors="coerce") if "gold" in table else np.nan
    parsed = pd.DataFrame(
        {
            "item": table["item"].astype(str).str.strip(),
            "worker": table["worker"].astype(str).str.strip(),
            "label": label.astype(int),
            "gold": gold,
        }
    )
    if "gold" in table:
        written = table["gold"].notna() & (table["gold"].astype(str).str.strip() != "")
        if (written & parsed["gold"].isna()).any():
            raise MetricInputError("gold must be a whole-number grade or blank")
    return parsed


def wilson(correct: int, total: int) -> tuple[float, float]:
    interval = binomtest(correct, total).proportion_ci(method="wilson")
    return float(interval.low), float(interval.high)


def honeypot_screen(
    labels: pd.DataFrame, min_accuracy: float = MIN_ACCURACY, min_tasks: int = MIN_HONEYPOTS
) -> pd.DataFrame:
    """Per worker: honeypots answered, accuracy on them, Wilson interval and the verdict.

    A worker is removed when they answered at least `min_tasks` honeypots and their accuracy
    is below `min_accuracy`; with fewer honeypots they are kept and marked as unjudged.
    """
    gold = labels.dropna(subset=["gold"])
    rows = []
    for worker in sorted(labels["worker"].unique()):
        answers = gold[gold["worker"] == worker]
        total, correct = len(answers), int((answers["label"] == answers["gold"]).sum())
        low, high = wilson(correct, total) if total else (np.nan, np.nan)
        accuracy = correct / total if total else np.nan
        if total < min_tasks:
            verdict = f"kept: {total} honeypots, fewer than {min_tasks}"
        elif accuracy < min_accuracy:
            verdict = f"removed: accuracy {accuracy:.2f} < {min_accuracy:g}"
        else:
            verdict = "kept"
        rows.append(
            {
                "worker": worker,
                "honeypots": total,
                "correct": correct,
                "accuracy": accuracy,
                "wilson_low": low,
                "wilson_high": high,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class LabelingReport:
    alpha: pd.DataFrame  # level, all workers, after honeypots
    honeypots: pd.DataFrame
    disputed: pd.DataFrame  # every item, the most disputed first
    aggregated: pd.DataFrame  # item, one column per method (and truth when known)
    accuracy: dict[str, float]  # method -> accuracy against the truth (or the honeypots)
    evaluated_on: str
    ds_accuracy: pd.Series  # Dawid-Skene's estimate of each worker's accuracy

    def conclusions(self) -> list[str]:
        removed = self.honeypots[self.honeypots["verdict"].str.startswith("removed")]
        ordinal = self.alpha.set_index("level").loc["ordinal"]
        lines = [
            f"Agreement (ordinal Krippendorff's alpha): {ordinal['all workers']:.3f} with every "
            f"worker, {ordinal['after honeypots']:.3f} without the {len(removed)} the honeypots "
            "removed (0.667 is the lowest Krippendorff accepts for tentative conclusions, 0.8 "
            "for firm ones)."
        ]
        if len(removed):
            lines.append(
                "Honeypots removed "
                + ", ".join(
                    f"{r.worker} ({r.correct}/{r.honeypots} right)" for r in removed.itertuples()
                )
                + "."
            )
        ranked = sorted(self.accuracy.items(), key=lambda item: -item[1])
        lines.append(
            f"Accuracy of the final labels against {self.evaluated_on}: "
            + "; ".join(f"{method} {value:.3f}" for method, value in ranked)
            + "."
        )
        worst = self.ds_accuracy.head(3)
        lines.append(
            "Dawid-Skene's lowest estimated worker accuracies, found without any gold: "
            + ", ".join(f"{w} {a:.2f}" for w, a in worst.items())
            + "."
        )
        n_disputed = int((self.disputed["disagreement"] >= DISPUTED).sum())
        lines.append(
            f"{n_disputed} items have at least {DISPUTED:.0%} of their labels away from the "
            "most common one: sending those (and only those) to more annotators is the cheapest "
            "overlap."
        )
        return lines


def _accuracy(predicted: pd.Series, truth: pd.Series) -> float:
    common = truth.index.intersection(predicted.index)
    return float((predicted[common] == truth[common]).mean())


def labeling_report(
    table: pd.DataFrame,
    truth: pd.Series | None = None,
    min_accuracy: float = MIN_ACCURACY,
    min_tasks: int = MIN_HONEYPOTS,
) -> LabelingReport:
    """All three methods on one label table; accuracy against `truth` when it is known,
    else against the honeypots' gold answers."""
    labels = parse_labels(table)
    honeypots = honeypot_screen(labels, min_accuracy, min_tasks)
    removed = set(honeypots.loc[honeypots["verdict"].str.startswith("removed"), "worker"])
    kept = labels[~labels["worker"].isin(removed)]
    if kept.empty:
        raise MetricInputError("the honeypots removed every worker: lower the minimum accuracy")
    alpha = pd.DataFrame(
        [
            {
                "level": level,
                "all workers": krippendorff_alpha(label_matrix(labels).to_numpy(), level),
                "after honeypots": krippendorff_alpha(label_matrix(kept).to_numpy(), level),
            }
            for level in LEVELS
        ]
    )
    everyone, filtered = dawid_skene(labels), dawid_skene(kept)
    methods = {
        "majority vote": majority_vote(labels),
        "majority vote after honeypots": majority_vote(kept),
        "Dawid-Skene": everyone.labels,
        "Dawid-Skene after honeypots": filtered.labels,
    }
    aggregated = pd.DataFrame(methods)
    if truth is None:
        truth = labels.dropna(subset=["gold"]).groupby("item")["gold"].first().astype(int)
        evaluated_on = f"the gold answers of {len(truth)} honeypot items"
    else:
        aggregated["truth"] = truth
        evaluated_on = f"the true grades of all {len(truth)} items"
    accuracy = (
        {name: _accuracy(labels_, truth) for name, labels_ in methods.items()} if len(truth) else {}
    )
    return LabelingReport(
        alpha=alpha,
        honeypots=honeypots,
        disputed=item_disagreement(labels),
        aggregated=aggregated.reset_index(names="item"),
        accuracy=accuracy,
        evaluated_on=evaluated_on,
        ds_accuracy=everyone.worker_accuracy(),
    )
