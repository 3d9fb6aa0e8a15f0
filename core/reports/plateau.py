"""When does a learning curve stop improving, and how fast does it get close to its best?

    plateau_epoch(val_accuracy, patience=3, epsilon=0.002)       -> 6 (or None: still rising)
    epochs_to_fraction(val_accuracy, 0.9)                         -> 2: 90 % of the best value
    epochs_to_fraction(val_loss, 0.9, start=math.log(10), mode="min")
    seconds_to_epoch(epoch_times, 2)                              -> the wall time until then

Curves are per-epoch values, epoch 1 first; every epoch returned is 1-based, as the run store
numbers them. Used by the self-supervised report (core.reports.ssl) to compare how fast a
pretrained and a randomly initialised network learn; `loss_rise` tells overfitting (a test
loss rising while the training loss falls) from a noisy step, for every report.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

MODES = ("max", "min")


def _check(values: Sequence[float], mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be 'max' (accuracy) or 'min' (loss), not {mode!r}")
    if len(values) == 0:
        raise ValueError("the curve is empty: it needs at least one epoch")


def plateau_epoch(
    values: Sequence[float], patience: int = 3, epsilon: float = 0.002, mode: str = "max"
) -> int | None:
    """The epoch from which the curve stays on its plateau, or None when it was still rising.

    An epoch improves when it beats the best value so far by more than `epsilon` (the first
    epoch counts as an improvement). The plateau begins at the run's last improving epoch, if
    at least `patience` epochs without improvement follow it; None: the run ended sooner after
    its last improvement. A stall that a later gain ends is not the plateau (a small training
    set's first epochs can sit at chance while BatchNorm's running statistics settle).
    """
    _check(values, mode)
    if patience < 1:
        raise ValueError(f"patience must be at least 1 epoch, not {patience}")
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, not {epsilon}")
    sign = 1.0 if mode == "max" else -1.0
    best, last_improvement = sign * values[0], 1
    for epoch, value in enumerate(values[1:], 2):
        if sign * value > best + epsilon:
            best, last_improvement = sign * value, epoch
    return last_improvement if len(values) - last_improvement >= patience else None


def epochs_to_fraction(
    values: Sequence[float], fraction: float = 0.9, start: float = 0.0, mode: str = "max"
) -> int | None:
    """The first epoch at which the curve has come `fraction` of the way from `start` to its
    best value (the maximum, or the minimum with mode="min").

    With start 0, an accuracy curve's answer is the first epoch reaching 90 % of its best value.
    For a loss, start at the loss of a uniform guess, log(number of classes): 0.9 then means the
    loss has fallen 90 % of the way from chance to its lowest value. None when the curve never
    gets better than `start`.
    """
    _check(values, mode)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    sign = 1.0 if mode == "max" else -1.0
    best = max(sign * value for value in values)
    if best < sign * start:
        return None  # worse than `start` throughout: no way was made towards the best
    target = min(best, sign * start + fraction * (best - sign * start))  # min: float rounding
    return next(epoch for epoch, value in enumerate(values, 1) if sign * value >= target)


def seconds_to_epoch(epoch_seconds: Sequence[float], epoch: int) -> float:
    """Wall time from the start of training to the end of `epoch` (1-based)."""
    if not 1 <= epoch <= len(epoch_seconds):
        raise ValueError(f"epoch must be in [1, {len(epoch_seconds)}], not {epoch}")
    return float(sum(epoch_seconds[:epoch]))


OVERFIT_RISE = 0.05  # a test loss ending 5 % above its lowest counts as risen


@dataclass(frozen=True)
class LossRise:
    """How far a run's test loss ended above its lowest value, and whether its training
    loss fell meanwhile: both together are overfitting; a test loss that rises with the
    training loss is a noisy step of the optimiser."""

    rise: float  # last test loss / lowest test loss - 1
    lowest_epoch: int
    train_fell: bool

    @property
    def overfits(self) -> bool:
        return self.rise > OVERFIT_RISE and self.train_fell

    @property
    def noisy(self) -> bool:
        return self.rise > OVERFIT_RISE and not self.train_fell


def loss_rise(history: pd.DataFrame) -> LossRise | None:
    """The `LossRise` of a per-epoch metrics table with `test_loss` and `train_loss`; None
    without them."""
    if not {"test_loss", "train_loss"} <= set(history) or history.empty:
        return None
    lowest = history["test_loss"].idxmin()
    return LossRise(
        rise=float(history["test_loss"].iloc[-1] / history.loc[lowest, "test_loss"] - 1),
        lowest_epoch=int(history.loc[lowest, "epoch"]),
        train_fell=bool(history["train_loss"].iloc[-1] < history.loc[lowest, "train_loss"]),
    )
