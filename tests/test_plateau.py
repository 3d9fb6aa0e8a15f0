"""Plateau detection and time-to-fraction (core.reports.plateau) on hand-made learning curves."""

import math

import pytest

from core.reports.plateau import epochs_to_fraction, plateau_epoch, seconds_to_epoch

# rises, then improves by less than epsilon = 0.002 from epoch 4 on
SATURATING = [0.50, 0.70, 0.80, 0.810, 0.811, 0.809, 0.8115, 0.805]


def test_the_plateau_starts_at_the_last_real_improvement():
    assert plateau_epoch(SATURATING, patience=3, epsilon=0.002) == 4
    # with no tolerance, 0.811 (epoch 5) and 0.8115 (epoch 7) count, and 7 has only 1 epoch after
    assert plateau_epoch(SATURATING, patience=3, epsilon=0.0) is None
    assert plateau_epoch(SATURATING, patience=1, epsilon=0.0) == 7


def test_a_curve_still_rising_at_the_end_has_no_plateau():
    assert plateau_epoch([0.1, 0.2, 0.3, 0.4, 0.5], patience=2) is None
    assert plateau_epoch([0.1, 0.2, 0.3, 0.3, 0.3], patience=2) == 3  # ends exactly patience later


def test_a_stall_that_a_later_gain_ends_is_not_the_plateau():
    slow_start = [0.1, 0.1, 0.1, 0.1, 0.5, 0.8, 0.9, 0.9, 0.9, 0.9]  # stuck at chance first
    assert plateau_epoch(slow_start, patience=3) == 7
    stalled_then_jumps = [0.5, 0.6, 0.6, 0.6, 0.6, 0.9, 0.9, 0.9]
    assert plateau_epoch(stalled_then_jumps, patience=2) == 6
    assert plateau_epoch(stalled_then_jumps, patience=3) is None  # the jump came too late


def test_a_loss_plateaus_where_it_stops_falling():
    val_loss = [2.0, 1.0, 0.6, 0.5, 0.52, 0.55, 0.6]  # over-fits after epoch 4
    assert plateau_epoch(val_loss, patience=3, epsilon=0.01, mode="min") == 4
    assert plateau_epoch(val_loss, patience=3, epsilon=0.01, mode="max") == 1  # wrong direction


def test_epochs_to_ninety_percent_of_the_best_value():
    assert epochs_to_fraction(SATURATING, 0.9) == 3  # 0.9 * 0.8115 = 0.730: 0.70 < it <= 0.80
    assert epochs_to_fraction(SATURATING, 0.6) == 1
    assert epochs_to_fraction(SATURATING, 1.0) == 7  # the best epoch itself


def test_epochs_to_fraction_of_the_fall_of_a_loss_from_chance():
    chance = math.log(10)  # 2.303: the loss of a uniform guess over 10 classes
    loss = [1.2, 0.7, 0.45, 0.40, 0.42]
    # 90 % of the way from 2.303 to 0.40 is 0.590: first reached at epoch 3
    assert epochs_to_fraction(loss, 0.9, start=chance, mode="min") == 3
    assert epochs_to_fraction(loss, 0.5, start=chance, mode="min") == 1  # 1.35 > 1.2
    assert epochs_to_fraction([2.5, 2.4], 0.9, start=chance, mode="min") is None  # never learned


def test_seconds_to_an_epoch_add_the_epoch_times():
    assert seconds_to_epoch([10.0, 12.0, 11.0], 2) == pytest.approx(22.0)
    with pytest.raises(ValueError, match="epoch must be in"):
        seconds_to_epoch([10.0], 2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plateau_epoch([], 3), "empty"),
        (lambda: plateau_epoch([0.1, 0.2], 0), "patience"),
        (lambda: plateau_epoch([0.1, 0.2], 2, epsilon=-1), "epsilon"),
        (lambda: plateau_epoch([0.1], 2, mode="up"), "mode"),
        (lambda: epochs_to_fraction([0.1], 1.5), "fraction"),
    ],
)
def test_bad_arguments_are_refused_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()
