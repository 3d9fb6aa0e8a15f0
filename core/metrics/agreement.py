"""Krippendorff's alpha: how much more annotators agree than chance, with missing labels allowed.

alpha = 1 - D_o / D_e, where D_o is the observed disagreement between labels given to the same
item and D_e the disagreement expected if labels were paired at random. Both come from the
coincidence matrix o[c, k]: every ordered pair of labels (c, k) given by two different
annotators to one item adds 1 / (m - 1), m being the item's number of labels. Items with a
single label carry no information and are left out. alpha = 1 is perfect agreement, 0 is
chance, below 0 systematic disagreement; Krippendorff suggests >= 0.8 for firm conclusions and
>= 0.667 for tentative ones.

The distance between two labels depends on the level of measurement (relevance grades are
ordinal: 0 < 1 < 2 < 3, but the steps need not be equal).
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.metrics.inputs import MetricInputError

# squared distance between values c and k, given the values and their pairable counts n
DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "nominal": lambda v, n: (v[:, None] != v[None, :]).astype(float),
    "ordinal": lambda v, n: _ordinal(n),
    "interval": lambda v, n: (v[:, None] - v[None, :]) ** 2,
    "ratio": lambda v, n: ((v[:, None] - v[None, :]) / (v[:, None] + v[None, :] + 1e-300)) ** 2,
}


def _ordinal(n: np.ndarray) -> np.ndarray:
    """(sum of n_g for g from c to k, minus (n_c + n_k) / 2)^2: distance by ranks in between."""
    cumulative = np.r_[0, np.cumsum(n)]
    i, j = np.meshgrid(np.arange(len(n)), np.arange(len(n)), indexing="ij")
    low, high = np.minimum(i, j), np.maximum(i, j)
    between = cumulative[high + 1] - cumulative[low]
    return (between - (n[i] + n[j]) / 2) ** 2


def coincidences(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, coincidence matrix) of an annotators x items matrix with NaN for missing."""
    matrix = np.asarray(matrix, dtype=float)
    values = np.unique(matrix[~np.isnan(matrix)])
    index = {value: i for i, value in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for column in matrix.T:
        labels = column[~np.isnan(column)]
        if len(labels) < 2:
            continue
        counts = np.zeros(len(values))
        for label in labels:
            counts[index[label]] += 1
        o += (np.outer(counts, counts) - np.diag(counts)) / (len(labels) - 1)
    return values, o


def krippendorff_alpha(matrix: np.ndarray, level: str = "ordinal") -> float:
    """Alpha of an annotators x items matrix (NaN = the annotator did not label that item)."""
    if level not in DISTANCES:
        raise MetricInputError(f"level must be one of {', '.join(DISTANCES)}, not {level!r}")
    values, o = coincidences(matrix)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n == 0:
        raise MetricInputError("no item has two or more labels: agreement needs overlap")
    if len(values) < 2:
        raise MetricInputError("every label is the same value: alpha is undefined (no variation)")
    delta = DISTANCES[level](values, n_c)
    observed = np.sum(o * delta) / n
    expected = np.sum(np.outer(n_c, n_c) * delta) / (n * (n - 1))
    return float(1 - observed / expected)


def label_matrix(labels: pd.DataFrame) -> pd.DataFrame:
    """Long labels (item, worker, label) as a workers x items matrix with NaN where missing."""
    duplicated = labels.duplicated(["item", "worker"])
    if duplicated.any():
        row = labels[duplicated].iloc[0]
        raise MetricInputError(
            f"worker {row['worker']!r} labels item {row['item']!r} more than once"
        )
    return labels.pivot(index="worker", columns="item", values="label").astype(float)


def item_disagreement(labels: pd.DataFrame) -> pd.DataFrame:
    """Per item: how many labels, the most common one and the share that differs from it."""
    grouped = labels.groupby("item")["label"]
    table = pd.DataFrame(
        {
            "labels": grouped.size(),
            "mode": grouped.agg(lambda s: s.value_counts().sort_index().idxmax()),
            "disagreement": grouped.agg(lambda s: 1 - s.value_counts().max() / len(s)),
            "spread": grouped.agg(lambda s: s.max() - s.min()),
        }
    )
    return table.sort_values(["disagreement", "spread"], ascending=False).reset_index()
