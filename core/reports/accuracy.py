"""Test accuracy with its uncertainty, shared by the image studies' pages.

Two sources of chance move a test accuracy: the training run (its seed) and the test pictures
(another draw of pictures would score differently). `accuracy_interval` covers the first when
there are several seeds (a t-interval of the mean over seeds, never narrower than the second's)
and the second when there is one run (Wilson's interval over its test pictures).
`disagreement_p_value` asks whether two models differ on the same test pictures: a sign-flip
(McNemar-type) test over the pictures where one is right and the other wrong, one-sided in the
direction observed.
"""

import numpy as np
import pandas as pd
from scipy import stats

from core.metrics.significance import paired_permutation
from core.runs.store import Run

PERMUTATIONS = 10_000  # random sign patterns when too many pictures disagree for all of them
LEVEL = 0.95


def test_predictions(run: Run, name: str = "test_predictions") -> dict[str, np.ndarray]:
    """A run's saved predictions on the test pictures (`index`, `y_true`, `y_pred`, ...)."""
    with np.load(run.artifacts[name]) as saved:
        return dict(saved)


def right_answers(run: Run) -> pd.Series:
    """Whether the run's best checkpoint got each test picture right, by the picture's index
    in the data set."""
    predictions = test_predictions(run)
    return pd.Series(predictions["y_pred"] == predictions["y_true"], index=predictions["index"])


def accuracy_interval(accuracies: list[float], test_pictures: int) -> tuple[float, float]:
    """The 95 % interval of the mean accuracy: over the test pictures (Wilson) when there is
    one run; over seeds (t, cut to [0, 1]) when there are several, widened to the Wilson
    interval of the mean where that is wider: seeds that agree (three runs at 99.63 %) do not
    make a 270-picture test set exact."""
    values = np.asarray(accuracies, dtype=float)
    if values.size == 0:
        raise ValueError("no accuracies to summarise")
    correct = round(float(values.mean()) * test_pictures)
    wilson = stats.binomtest(correct, test_pictures).proportion_ci(LEVEL, method="wilson")
    if values.size == 1:
        return float(wilson.low), float(wilson.high)
    half = stats.t.ppf((1 + LEVEL) / 2, values.size - 1) * values.std(ddof=1) / values.size**0.5
    low = min(float(values.mean() - half), float(wilson.low))
    return max(low, 0.0), min(max(float(values.mean() + half), float(wilson.high)), 1.0)


def interval_text(low: float, high: float, scale: float = 100, digits: int = 2) -> str:
    """`[low, high]` scaled (percent by default)."""
    return f"[{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


def disagreement_p_value(right_a: np.ndarray, right_b: np.ndarray) -> float:
    """One-sided p-value that A and B are equally good, in the direction observed: a sign-flip
    test over the pictures (pairs) where exactly one of them is right. 1.0 when none differ."""
    d = np.asarray(right_a, dtype=float) - np.asarray(right_b, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    direction = 1.0 if d.sum() >= 0 else -1.0
    return paired_permutation(direction * d, n_resamples=PERMUTATIONS).p_value


def paired_by_seed(mine: dict[int, pd.Series], theirs: dict[int, pd.Series]) -> dict[str, float]:
    """Two configurations compared on the same test pictures. `mine` and `theirs` map a seed to
    its run's right answers (`right_answers`); over the seeds both ran: A's accuracy minus B's
    in points, the one-sided `disagreement_p_value` over the (seed, picture) pairs, and the
    number of pairs."""
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        raise ValueError("the two configurations share no seed to compare on")
    pairs = [mine[seed].align(theirs[seed], join="inner") for seed in seeds]
    a = np.concatenate([pair[0].to_numpy() for pair in pairs])
    b = np.concatenate([pair[1].to_numpy() for pair in pairs])
    return {
        "points": 100 * (a.mean() - b.mean()),
        "p_value": disagreement_p_value(a, b),
        "pairs": len(a),
    }


def mean_sd(values: pd.Series, scale: float, digits: int) -> str:
    """ "mean ± sd" of `values` times `scale`; the value alone when there is one."""
    text = f"{values.mean() * scale:.{digits}f}"
    return text if len(values) == 1 else f"{text} ± {values.std() * scale:.{digits}f}"
