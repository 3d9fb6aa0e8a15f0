"""Binary metrics against scikit-learn on 1,000 random cases, edge cases, bootstrap intervals."""

import os
import warnings

import numpy as np
import pytest
from sklearn import metrics as sk

from core.metrics import coverage, imbalance
from core.metrics.binary import (
    BinaryReport,
    Confusion,
    balanced_accuracy,
    binary_metrics,
    binary_report,
    log_loss,
    roc_auc,
)
from core.metrics.bootstrap import bootstrap_ci, bootstrap_cis
from core.metrics.inputs import MetricInputError

TOLERANCE = 1e-9
# The closing note's 1,000 cases: METRICS_PARITY_CASES=1000 pytest tests/test_metrics_binary.py
PARITY_CASES = int(os.environ.get("METRICS_PARITY_CASES", "200"))


def sklearn_metrics(y, s, threshold, beta, w):
    p = (s >= threshold).astype(int)
    kw = {"sample_weight": w}
    return {
        "precision": sk.precision_score(y, p, zero_division=0, **kw),
        "recall": sk.recall_score(y, p, zero_division=0, **kw),
        "f1": sk.f1_score(y, p, zero_division=0, **kw),
        "f_beta": sk.fbeta_score(y, p, beta=beta, zero_division=0, **kw),
        "accuracy": sk.accuracy_score(y, p, **kw),
        "balanced_accuracy": sk.balanced_accuracy_score(y, p, **kw),
        "specificity": sk.recall_score(y, p, pos_label=0, zero_division=0, **kw),
        "mcc": sk.matthews_corrcoef(y, p, **kw),
        "roc_auc": sk.roc_auc_score(y, s, **kw),
        "pr_auc": sk.average_precision_score(y, s, **kw),
        "log_loss": sk.log_loss(y, y_proba=s, labels=[0, 1], **kw),
    }


def random_case(rng: np.random.Generator):
    n = int(rng.integers(2, 80))
    y = rng.integers(0, 2, n)
    y[rng.choice(n, 2, replace=False)] = [0, 1]  # both classes
    s = np.round(rng.random(n), int(rng.integers(1, 4)))  # 1-3 decimals: many ties
    if rng.random() < 0.1:
        s[rng.integers(0, n)] = float(rng.integers(0, 2))  # exact 0 or 1: log-loss clipping
    weight = rng.random(n) + 0.01 if rng.random() < 0.3 else None
    threshold = float(rng.choice([*s, 0.0, 1.01, 0.5]))  # 1.01: nothing predicted positive
    return y, s, threshold, float(rng.uniform(0.1, 4)), weight


def test_every_metric_agrees_with_sklearn_on_random_cases():
    rng = np.random.default_rng(7)
    worst = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about its own 0/0 conventions
        for _ in range(PARITY_CASES):
            y, s, threshold, beta, w = random_case(rng)
            ours = binary_metrics(y, s, threshold, beta, w)
            for name, value in sklearn_metrics(y, s, threshold, beta, w).items():
                worst[name] = max(worst.get(name, 0.0), abs(ours[name] - value))
    assert set(worst) == set(ours)
    assert max(worst.values()) < TOLERANCE, worst


def test_no_predicted_positive_gives_zero_precision_and_a_note():
    y, s = np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])
    report = binary_report(y, s, threshold=0.9, n_resamples=0)
    assert report.values["precision"] == 0.0 == report.values["recall"]
    assert report.values["mcc"] == sk.matthews_corrcoef(y, np.zeros(4, int)) == 0.0
    assert any("precision is 0/0" in note for note in report.notes)


def test_balanced_accuracy_of_one_class_matches_sklearn():
    """On the confusion level one class is allowed: the mean recall of the classes present."""
    y, p = np.array([1, 1, 1, 1]), np.array([1, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sk.balanced_accuracy_score(y, p)
    assert balanced_accuracy(Confusion(tp=3, fp=0, fn=1, tn=0)) == pytest.approx(expected)


@pytest.mark.parametrize("only", [0, 1])
def test_a_single_class_is_a_clear_error(only):
    y, s = np.full(5, only), np.linspace(0, 1, 5)
    with pytest.raises(MetricInputError, match=rf"single class \({only}, 5 rows\)"):
        binary_metrics(y, s)
    with pytest.raises(MetricInputError, match="single class"):
        roc_auc(y, s)


def test_log_loss_needs_probabilities_and_is_left_out_with_a_note():
    y, s = np.array([0, 1, 0, 1]), np.array([-2.0, 3.0, 0.5, 1.5])
    with pytest.raises(MetricInputError, match=r"probabilities in \[0, 1\]: found -2"):
        log_loss(y, s)
    report = binary_report(y, s, n_resamples=0)
    assert "log_loss" not in report.values
    assert report.values["roc_auc"] == sk.roc_auc_score(y, s)
    assert any("log_loss needs probabilities" in note for note in report.notes)


def test_bad_beta_is_refused():
    with pytest.raises(MetricInputError, match="beta must be a positive number"):
        binary_metrics(np.array([0, 1]), np.array([0.2, 0.8]), beta=0)


def test_bootstrap_cis_draw_the_same_resamples_as_bootstrap_ci():
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 60), rng.random(60)
    together = bootstrap_cis({"auc": sk.roc_auc_score, "ap": sk.average_precision_score}, y, s, 50)
    assert together["auc"] == bootstrap_ci(sk.roc_auc_score, y, s, 50)
    assert together["ap"] == bootstrap_ci(sk.average_precision_score, y, s, 50)
    low, high = together["auc"][1:]
    assert low < sk.roc_auc_score(y, s) < high


def test_report_intervals_bracket_the_point_values():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)
    report = binary_report(y, s, 0.5, 2.0, n_resamples=300)
    assert isinstance(report, BinaryReport)
    for name, value in report.values.items():
        low, high = report.intervals[name]
        assert low <= value <= high, name
    flat = report.as_dict()
    assert flat["f_beta"] == report.values["f_beta"] and flat["ci"]["f_beta"] == [
        *report.intervals["f_beta"]
    ]


def test_bootstrap_intervals_cover_the_true_value_near_the_nominal_rate():
    """120 samples of 200 rows from a classifier whose population values are known (the
    closing note's larger run: `dlstudio metrics coverage --reps 1000`)."""
    rates = coverage.coverage(reps=120, n=200, n_resamples=200, metrics=("roc_auc", "accuracy"))
    for name, rate in rates.items():
        assert 0.85 <= rate <= 1.0, (name, rate)  # nominal 0.95; binomial sd ~0.02


def test_true_values_of_the_binormal_classifier_match_a_huge_sample():
    truth = coverage.true_values(0.3, 2.0, 1.5, 0.5)
    y, s = imbalance.sample_binormal(400_000, 0.3, 2.0, 1.5, np.random.default_rng(3))
    sample = binary_metrics(y, s, 0.5)
    for name, value in truth.items():
        assert sample[name] == pytest.approx(value, abs=0.005), name
