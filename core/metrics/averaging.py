"""Multi-class precision, recall and F1 per class, and their micro, macro and weighted averages.

- micro: pool every class's TP, FP and FN, then divide. Every sample counts the same; with
  one true and one predicted label per sample, sum(FP) = sum(FN), so micro precision = micro
  recall = micro F1 = accuracy.
- macro: the plain mean of the per-class values. Every class counts the same, however rare.
- weighted: the mean weighted by each class's support (true count). Closer to micro; its F1
  need not lie between its precision and recall.
0/0 (a class never predicted, or never present) counts as 0, as scikit-learn's
`zero_division=0` does.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.metrics.binary import ratio
from core.metrics.inputs import MetricInputError, class_labels, numbers, same_length

CORNER = "true \\ predicted"
AVERAGES = ("micro", "macro", "weighted")
QUANTITIES = ("precision", "recall", "f1")
EXAMPLE_LABELS = ("cat", "dog", "fox")
EXAMPLE_MATRIX = ((50, 3, 2), (5, 30, 5), (4, 4, 2))  # the rare class "fox" is mostly missed

WHEN = {
    "micro": "every sample counts the same: the overall hit rate, dominated by the big classes "
    "(for single-label data it is accuracy)",
    "macro": "every class counts the same: right when a rare class matters as much as a common "
    "one (rare diseases, minority languages), and it exposes a neglected class",
    "weighted": "each class's value weighted by how often it occurs: a per-class view that "
    "still follows the class frequencies, so it hides rare classes nearly as micro does",
}


def example_table() -> pd.DataFrame:
    """The built-in 3-class confusion matrix as an editable table."""
    table = pd.DataFrame(EXAMPLE_MATRIX, columns=EXAMPLE_LABELS)
    table.insert(0, CORNER, EXAMPLE_LABELS)
    return table


def confusion_from_labels(y_true, y_pred) -> pd.DataFrame:
    """Counts of (true, predicted) over the sorted union of labels: rows true, columns predicted."""
    y_true, y_pred = class_labels(y_true, "y_true"), class_labels(y_pred, "y_pred")
    same_length(y_true=y_true, y_pred=y_pred)
    if y_true.dtype.kind != y_pred.dtype.kind:  # 1 in one column and "1" in the other
        y_true, y_pred = y_true.astype(str), y_pred.astype(str)
    labels = np.unique(np.r_[y_true, y_pred])
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(matrix, ([index[v] for v in y_true], [index[v] for v in y_pred]), 1)
    names = [str(label) for label in labels]
    return pd.DataFrame(matrix, index=names, columns=names)


def confusion_from_table(table: pd.DataFrame) -> pd.DataFrame:
    """An edited matrix: first column the true class names, the header the predicted ones."""
    if table.shape[1] < 3:
        raise MetricInputError(
            "the confusion matrix needs a first column of class names and one column per class"
        )
    rows = [str(name).strip() for name in table.iloc[:, 0]]
    columns = [str(name).strip() for name in table.columns[1:]]
    if rows != columns:
        raise MetricInputError(
            f"the row names ({', '.join(rows)}) must be the column names in the same order "
            f"({', '.join(columns)})"
        )
    if len(set(rows)) != len(rows):
        raise MetricInputError(f"class names must be unique: {', '.join(rows)}")
    counts = np.column_stack(
        [numbers(table.iloc[:, j], f"column {table.columns[j]}") for j in range(1, table.shape[1])]
    )
    if (counts < 0).any() or (counts != np.round(counts)).any():
        raise MetricInputError("confusion-matrix cells must be counts: whole numbers >= 0")
    if counts.sum() == 0:
        raise MetricInputError("the confusion matrix is all zeros: enter some counts")
    return pd.DataFrame(counts.astype(int), index=rows, columns=columns)


@dataclass
class AveragingReport:
    per_class: pd.DataFrame  # class, tp, fp, fn, support, precision, recall, f1
    averages: pd.DataFrame  # quantity, micro, macro, weighted
    arithmetic: pd.DataFrame  # quantity, average, how it is computed

    def values(self) -> dict[str, float]:
        """Flat, as the command line prints them: precision_micro, ..., f1_weighted."""
        return {
            f"{row['quantity']}_{average}": float(row[average])
            for _, row in self.averages.iterrows()
            for average in AVERAGES
        }

    def conclusions(self) -> list[str]:
        """Which averages differ, and which classes make them differ."""
        per_class, values = self.per_class, self.values()
        accuracy = per_class["tp"].sum() / per_class["support"].sum()
        lines = [
            f"micro precision = micro recall = micro F1 = accuracy = {accuracy:.4f}: each "
            f"sample has one true and one predicted label, so sum(FP) = sum(FN) = "
            f"{per_class['fp'].sum():g}."
        ]
        gap = values["recall_weighted"] - values["recall_macro"]
        worst = per_class.loc[per_class["recall"].idxmin()]
        lines.append(
            f"macro recall {values['recall_macro']:.4f} vs weighted {values['recall_weighted']:.4f}"
            f" ({gap:+.4f}): class {worst['class']} (support {worst['support']:g} of "
            f"{per_class['support'].sum():g}) has the lowest recall, {worst['recall']:.4f}; "
            f"macro gives it weight 1/{len(per_class)}, weighted only "
            f"{worst['support'] / per_class['support'].sum():.3f}."
        )
        lines.append(
            "weighted recall always equals micro recall: weighting each class's TP / support "
            "by its support leaves sum TP / N."
        )
        lines += [f"{average}: {WHEN[average]}." for average in AVERAGES]
        return lines


def _fraction(numerators: np.ndarray, denominators: np.ndarray) -> str:
    top = " + ".join(f"{v:g}" for v in numerators)
    bottom = " + ".join(f"{v:g}" for v in denominators)
    return f"({top}) / ({bottom}) = {numerators.sum():g} / {denominators.sum():g}"


def averaging_report(matrix: pd.DataFrame) -> AveragingReport:
    """Per-class values and the three averages of a square confusion matrix (rows true)."""
    counts = matrix.to_numpy(dtype=float)
    if counts.shape[0] < 2:
        raise MetricInputError("averaging needs at least two classes")
    tp = np.diag(counts)
    fp, fn, support = counts.sum(axis=0) - tp, counts.sum(axis=1) - tp, counts.sum(axis=1)
    precision = np.array([ratio(a, a + b) for a, b in zip(tp, fp, strict=True)])
    recall = np.array([ratio(a, a + b) for a, b in zip(tp, fn, strict=True)])
    f1 = np.array([ratio(2 * p * r, p + r) for p, r in zip(precision, recall, strict=True)])
    per_class = pd.DataFrame(
        {
            "class": matrix.index,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "support": support,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    )
    micro_p = ratio(tp.sum(), tp.sum() + fp.sum())
    micro_r = ratio(tp.sum(), tp.sum() + fn.sum())
    micro = {
        "precision": micro_p,
        "recall": micro_r,
        "f1": ratio(2 * micro_p * micro_r, micro_p + micro_r),
    }
    per = {"precision": precision, "recall": recall, "f1": f1}
    total = support.sum()
    averages, arithmetic = [], []
    for quantity in QUANTITIES:
        values = per[quantity]
        weighted = float(np.sum(support * values) / total)
        averages.append(
            {
                "quantity": quantity,
                "micro": micro[quantity],
                "macro": float(values.mean()),
                "weighted": weighted,
            }
        )
        terms = " + ".join(f"{v:.4f}" for v in values)
        micro_how = {
            "precision": f"sum TP / (sum TP + sum FP) = {_fraction(tp, tp + fp)}",
            "recall": f"sum TP / (sum TP + sum FN) = {_fraction(tp, tp + fn)}",
            "f1": "2 P R / (P + R) of the micro P and R",
        }[quantity]
        arithmetic += [
            {
                "quantity": quantity,
                "average": "micro",
                "how": f"{micro_how} = {micro[quantity]:.4f}",
            },
            {
                "quantity": quantity,
                "average": "macro",
                "how": f"({terms}) / {len(values)} = {values.mean():.4f}",
            },
            {
                "quantity": quantity,
                "average": "weighted",
                "how": "("
                + " + ".join(f"{s:g} x {v:.4f}" for s, v in zip(support, values, strict=True))
                + f") / {total:g} = {weighted:.4f}",
            },
        ]
    return AveragingReport(per_class, pd.DataFrame(averages), pd.DataFrame(arithmetic))
