"""ROC-AUC worked by hand: the sorted table, every threshold, the trapezoids and the pair count.

Two ways to the same number. (1) Lower the threshold through every distinct score, from above
the highest (nothing predicted positive: the point (0, 0)) to the lowest (everything positive:
(1, 1)); each step moves to (FPR, TPR) and the area under the polyline is a sum of trapezoids.
Tied scores move both coordinates at once, a diagonal step, which is where half credit comes
from. (2) Count, over every (positive, negative) pair, how often the positive has the higher
score, ties counting 1/2 (the Mann-Whitney U statistic), and divide by the number of pairs.
Both must equal scikit-learn's `roc_auc_score`; the report shows all three and scipy's U.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score

from core.metrics.inputs import (
    EXAMPLES_DIR,
    binary_labels,
    require_both_classes,
    require_columns,
    same_length,
    scores,
)

MAX_PAIR_MATRIX = 400  # pairs shown cell by cell; larger inputs show the totals only
EXAMPLE = pd.read_csv(EXAMPLES_DIR / "roc.csv")  # 8 rows, one tie


@dataclass
class WorkedRoc:
    sorted_rows: pd.DataFrame  # rank, y_score, y_true, highest score first
    steps: pd.DataFrame  # one row per threshold: tp, fp, tpr, fpr, the trapezoid's area
    auc_trapezoid: float
    wins: float  # pairs where the positive scores higher
    ties: float  # pairs with equal scores
    n_pairs: int
    auc_pairs: float
    auc_sklearn: float
    mann_whitney_u: float  # scipy's U for positives vs negatives

    @property
    def auc_from_u(self) -> float:
        return self.mann_whitney_u / self.n_pairs

    def pair_matrix(self) -> pd.DataFrame | None:
        """Positives (rows) against negatives (columns): 1 win, 0.5 tie, 0 loss; None if big."""
        if self.n_pairs > MAX_PAIR_MATRIX:
            return None
        rows = self.sorted_rows
        positives = rows[rows["y_true"] == 1]
        negatives = rows[rows["y_true"] == 0]
        cells = np.sign(positives["y_score"].to_numpy()[:, None] - negatives["y_score"].to_numpy())
        matrix = pd.DataFrame(
            (cells + 1) / 2,
            index=[
                f"+{r} ({s:g})"
                for r, s in zip(positives["rank"], positives["y_score"], strict=True)
            ],
            columns=[
                f"-{r} ({s:g})"
                for r, s in zip(negatives["rank"], negatives["y_score"], strict=True)
            ],
        )
        return matrix.reset_index(names="positive \\ negative")

    def explanation(self) -> list[str]:
        """The arithmetic of both computations, and the cross-checks."""
        areas = " + ".join(f"{a:.4g}" for a in self.steps["area"].iloc[1:])
        return [
            f"Trapezoid rule: sum over the {len(self.steps) - 1} steps of "
            f"(FPR step) x (TPR before + TPR after) / 2 = {areas} = {self.auc_trapezoid:.6f}",
            f"Pair count: {self.wins:g} wins + {self.ties:g} ties / 2 over "
            f"{self.n_pairs} (positive, negative) pairs = "
            f"({self.wins:g} + {self.ties / 2:g}) / {self.n_pairs} = {self.auc_pairs:.6f}",
            f"scipy's Mann-Whitney U = {self.mann_whitney_u:g}, U / pairs = {self.auc_from_u:.6f}",
            f"scikit-learn's roc_auc_score = {self.auc_sklearn:.6f}; largest difference "
            f"{self.max_difference():.1e}",
        ]

    def max_difference(self) -> float:
        values = [self.auc_trapezoid, self.auc_pairs, self.auc_from_u]
        return max(abs(value - self.auc_sklearn) for value in values)

    def as_dict(self) -> dict:
        return {
            "auc_trapezoid": self.auc_trapezoid,
            "auc_pairs": self.auc_pairs,
            "auc_sklearn": self.auc_sklearn,
            "mann_whitney_u": self.mann_whitney_u,
            "wins": self.wins,
            "ties": self.ties,
            "n_pairs": self.n_pairs,
            "steps": self.steps.to_dict(orient="records"),
            "explanation": self.explanation(),
        }


def worked_roc(y_true: np.ndarray, y_score: np.ndarray) -> WorkedRoc:
    """Both hand computations of ROC-AUC, each step kept for display."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
    same_length(y_true=y_true, y_score=y_score)
    require_both_classes(y_true)
    order = np.argsort(-y_score, kind="mergesort")
    sorted_rows = pd.DataFrame(
        {"rank": np.arange(1, len(order) + 1), "y_score": y_score[order], "y_true": y_true[order]}
    )
    n_pos, n_neg = int(y_true.sum()), int((y_true == 0).sum())
    thresholds = np.unique(y_score)[::-1]
    tp = np.array([np.sum((y_score >= t) & (y_true == 1)) for t in thresholds])
    fp = np.array([np.sum((y_score >= t) & (y_true == 0)) for t in thresholds])
    tpr, fpr = np.r_[0, tp / n_pos], np.r_[0, fp / n_neg]
    area = np.r_[0, np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2]
    steps = pd.DataFrame(
        {
            "step": np.arange(len(tpr)),
            "threshold": np.r_[np.inf, thresholds],
            "tp": np.r_[0, tp],
            "fp": np.r_[0, fp],
            "tpr": tpr,
            "fpr": fpr,
            "area": area,
        }
    )
    difference = y_score[y_true == 1][:, None] - y_score[y_true == 0][None, :]
    wins, ties = float(np.sum(difference > 0)), float(np.sum(difference == 0))
    u = mannwhitneyu(y_score[y_true == 1], y_score[y_true == 0]).statistic
    return WorkedRoc(
        sorted_rows=sorted_rows,
        steps=steps,
        auc_trapezoid=float(area.sum()),
        wins=wins,
        ties=ties,
        n_pairs=n_pos * n_neg,
        auc_pairs=(wins + ties / 2) / (n_pos * n_neg),
        auc_sklearn=float(roc_auc_score(y_true, y_score)),
        mann_whitney_u=float(u),
    )


def worked_roc_table(table: pd.DataFrame) -> WorkedRoc:
    """`worked_roc` of a table with the columns y_score and y_true (checked cell by cell)."""
    require_columns(table, ["y_score", "y_true"], "the worked ROC-AUC")
    return worked_roc(binary_labels(table["y_true"]), scores(table["y_score"]))
