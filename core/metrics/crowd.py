"""A simulated crowd of relevance annotators, so the labeling-quality methods can be checked.

Items have a true grade 0-3. Each item is labeled by `overlap` distinct workers drawn at
random. Workers come in kinds (a registry of confusion-matrix makers): careful ones are right
most of the time and otherwise off by one grade; biased ones say one grade higher; spammers
click at random. A share of the items are honeypots: their true grade is known and kept in the
`gold` column (empty elsewhere), as in a real task where golden questions are mixed in.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.metrics.inputs import MetricInputError

GRADES = 4
GRADE_PRIOR = np.array([0.4, 0.3, 0.2, 0.1])  # most results are irrelevant


def _careful(accuracy: float) -> np.ndarray:
    """Right with `accuracy`, otherwise an adjacent grade."""
    matrix = np.zeros((GRADES, GRADES))
    for true in range(GRADES):
        neighbours = [g for g in (true - 1, true + 1) if 0 <= g < GRADES]
        matrix[true, true] = accuracy
        matrix[true, neighbours] = (1 - accuracy) / len(neighbours)
    return matrix


def _biased() -> np.ndarray:
    """One grade too generous: 85 % of the time true + 1 (capped), else the truth."""
    matrix = np.zeros((GRADES, GRADES))
    for true in range(GRADES):
        matrix[true, min(true + 1, GRADES - 1)] += 0.85
        matrix[true, true] += 0.15
    return matrix


WORKER_KINDS: dict[str, Callable[[], np.ndarray]] = {
    "careful": lambda: _careful(0.8),
    "biased": _biased,
    "spammer": lambda: np.full((GRADES, GRADES), 1 / GRADES),
}


@dataclass
class Crowd:
    labels: pd.DataFrame  # item, worker, label, gold (NaN unless a honeypot)
    truth: pd.Series  # item -> true grade
    kinds: pd.Series  # worker -> kind


def simulate_crowd(
    n_items: int = 300,
    n_workers: int = 12,
    overlap: int = 5,
    spammer_share: float = 0.25,
    biased_share: float = 0.17,
    honeypot_share: float = 0.1,
    seed: int = 0,
) -> Crowd:
    """Labels from a crowd with the given shares of spammers and biased workers."""
    if not 1 <= overlap <= n_workers:
        raise MetricInputError(f"overlap must be between 1 and the {n_workers} workers")
    if n_items < 1 or not (0 <= spammer_share + biased_share <= 1 and 0 <= honeypot_share <= 1):
        raise MetricInputError("shares must be in [0, 1] (spammers + biased at most 1)")
    rng = np.random.default_rng(seed)
    n_spam, n_biased = round(spammer_share * n_workers), round(biased_share * n_workers)
    kinds = ["spammer"] * n_spam + ["biased"] * n_biased
    kinds += ["careful"] * (n_workers - len(kinds))
    workers = [f"w{i + 1:02d}" for i in range(n_workers)]
    confusion = {w: WORKER_KINDS[k]() for w, k in zip(workers, kinds, strict=True)}
    truth = rng.choice(GRADES, size=n_items, p=GRADE_PRIOR)
    honeypot = rng.random(n_items) < honeypot_share
    rows = []
    for item in range(n_items):
        for w in rng.choice(workers, size=overlap, replace=False):
            label = rng.choice(GRADES, p=confusion[w][truth[item]])
            gold = truth[item] if honeypot[item] else np.nan
            rows.append((f"q{item + 1:03d}", w, int(label), gold))
    labels = pd.DataFrame(rows, columns=["item", "worker", "label", "gold"])
    items = [f"q{i + 1:03d}" for i in range(n_items)]
    return Crowd(labels, pd.Series(truth, index=items), pd.Series(kinds, index=workers))
