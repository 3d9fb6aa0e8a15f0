"""Imbalance experiment, F-beta curves, the worked ROC-AUC and averaging, against references."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from core.metrics import averaging, fbeta, imbalance, roc
from core.metrics.binary import binary_metrics
from core.metrics.inputs import EXAMPLES_DIR, MetricInputError


@pytest.fixture(scope="module")
def binormal():
    return imbalance.binormal_scores(2.0, 1.5, n_per_class=500)


@pytest.fixture(scope="module")
def table(binormal):
    return imbalance.imbalance_table(*binormal, threshold=0.5, beta=2.0)


def test_prior_free_metrics_stay_and_the_others_follow_bayes(table):
    assert set(imbalance.invariant_metrics(table)) == set(imbalance.PRIOR_FREE)
    share, recall, specificity = table["share"], table["recall"], table["specificity"]
    hits, alarms = share * recall, (1 - share) * (1 - specificity)
    np.testing.assert_allclose(table["precision"], hits / (hits + alarms), atol=1e-12)
    np.testing.assert_allclose(table["accuracy"], hits + (1 - share) * specificity, atol=1e-12)


def test_reweighting_equals_replicating_rows(binormal):
    """A share of 1/10 by weights is the same as 9 copies of every negative, per scikit-learn."""
    y, s = binormal
    y_rep = np.r_[np.repeat(y[y == 0], 9), y[y == 1]]
    s_rep = np.r_[np.repeat(s[y == 0], 9), s[y == 1]]
    weighted = binary_metrics(y, s, 0.5, 2.0, imbalance.prior_weights(y, 0.1))
    assert weighted["pr_auc"] == pytest.approx(sk.average_precision_score(y_rep, s_rep), abs=1e-12)
    assert weighted["f_beta"] == pytest.approx(sk.fbeta_score(y_rep, s_rep >= 0.5, beta=2.0))
    assert weighted["mcc"] == pytest.approx(sk.matthews_corrcoef(y_rep, s_rep >= 0.5))
    assert weighted["log_loss"] == pytest.approx(sk.log_loss(y_rep, y_proba=s_rep))


def test_conclusions_name_the_numbers_and_flag_coincidences(table, binormal):
    text = "\n".join(imbalance.conclusions(table))
    last = table.iloc[-1]
    assert f"{table.iloc[0]['precision']:.4f} -> {last['precision']:.4f}" in text
    assert f"{last['always_negative_accuracy']:.4f}" in text
    symmetric = imbalance.imbalance_table(*imbalance.binormal_scores(2.0, 1.0, 500), 0.5, 2.0)
    assert "accuracy" in imbalance.invariant_metrics(symmetric)  # recall = specificity here
    assert "accuracy = " in "\n".join(imbalance.conclusions(symmetric))
    assert "stays here only because" in "\n".join(imbalance.conclusions(symmetric))


def test_threshold_curve_matches_sklearn_precision_recall_curve():
    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.integers(0, 2, 40)
        y[:2] = [0, 1]
        s = np.round(rng.random(40), 1)
        beta = rng.uniform(0.2, 3)
        curve = fbeta.threshold_curve(y, s, beta)
        precision, recall, thresholds = sk.precision_recall_curve(y, s, drop_intermediate=False)
        reference = pd.DataFrame({"t": thresholds, "p": precision[:-1], "r": recall[:-1]})
        reference = reference.sort_values("t", ascending=False).reset_index(drop=True)
        np.testing.assert_allclose(curve["threshold"], reference["t"])
        np.testing.assert_allclose(curve["precision"], reference["p"], atol=1e-12)
        np.testing.assert_allclose(curve["recall"], reference["r"], atol=1e-12)
        expected = [sk.fbeta_score(y, s >= t, beta=beta, zero_division=0) for t in thresholds]
        best = fbeta.best_threshold(curve)
        assert best["f_beta"] == pytest.approx(max(expected), abs=1e-12)


def test_worked_examples_move_the_threshold_the_way_beta_says():
    screening = fbeta.worked_example("screening")["points"]
    spam = fbeta.worked_example("spam")["points"]
    assert screening[2.0]["threshold"] < screening[1.0]["threshold"]  # recall first
    assert screening[2.0]["missed"] < screening[1.0]["missed"]
    assert spam[0.5]["threshold"] > spam[1.0]["threshold"]  # precision first
    assert spam[0.5]["false_alarms"] < spam[1.0]["false_alarms"]
    population = fbeta.SCENARIOS["screening"].population * fbeta.SCENARIOS["screening"].share
    assert screening[2.0]["found"] + screening[2.0]["missed"] == pytest.approx(population)


@pytest.mark.parametrize("seed", range(20))
def test_worked_roc_equals_sklearn_and_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 40))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = np.round(rng.random(n), 1)
    worked = roc.worked_roc(y, s)
    expected = sk.roc_auc_score(y, s)
    for value in (worked.auc_trapezoid, worked.auc_pairs, worked.auc_from_u, worked.auc_sklearn):
        assert value == pytest.approx(expected, abs=1e-12)
    fpr, tpr, _ = sk.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(worked.steps["fpr"], fpr)
    np.testing.assert_allclose(worked.steps["tpr"], tpr)


def test_worked_roc_example_shows_its_arithmetic():
    worked = roc.worked_roc_table(roc.EXAMPLE)
    assert worked.wins == 13 and worked.ties == 1 and worked.n_pairs == 16
    assert worked.auc_pairs == 13.5 / 16
    assert "(13 + 0.5) / 16 = 0.843750" in worked.explanation()[1]
    assert worked.pair_matrix().shape == (4, 5)  # 4 positives, a label column + 4 negatives


def test_worked_roc_refuses_bad_tables():
    with pytest.raises(MetricInputError, match="needs the columns y_score, y_true"):
        roc.worked_roc_table(pd.DataFrame({"score": [0.1], "y_true": [1]}))
    with pytest.raises(MetricInputError, match="single class"):
        roc.worked_roc_table(pd.DataFrame({"y_score": [0.1, 0.2], "y_true": [1, 1]}))
    with pytest.raises(MetricInputError, match=r"'high' is not \(row 2\)"):
        roc.worked_roc_table(pd.DataFrame({"y_score": ["0.1", "high"], "y_true": [0, 1]}))


def random_labels(rng, n, classes):
    return rng.choice(classes, n), rng.choice(classes[: max(2, len(classes) - 1)], n)


@pytest.mark.parametrize("classes", [[0, 1, 2], list("abcde"), [3, 7]])
def test_averages_match_sklearn(classes):
    rng = np.random.default_rng(len(classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(100):
            y_true, y_pred = random_labels(rng, int(rng.integers(2, 50)), classes)
            report = averaging.averaging_report(averaging.confusion_from_labels(y_true, y_pred))
            values = report.values()
            for average in averaging.AVERAGES:
                p, r, f, _ = sk.precision_recall_fscore_support(
                    y_true, y_pred, average=average, zero_division=0
                )
                assert values[f"precision_{average}"] == pytest.approx(p, abs=1e-12)
                assert values[f"recall_{average}"] == pytest.approx(r, abs=1e-12)
                assert values[f"f1_{average}"] == pytest.approx(f, abs=1e-12)


def test_the_example_shows_why_macro_differs():
    report = averaging.averaging_report(averaging.confusion_from_table(averaging.example_table()))
    values = report.values()
    assert values["recall_micro"] == values["precision_micro"] == pytest.approx(82 / 105)
    assert values["recall_weighted"] == pytest.approx(values["recall_micro"])
    conclusions = "\n".join(report.conclusions())
    assert "class fox (support 10 of 105) has the lowest recall, 0.2000" in conclusions
    how = report.arithmetic.set_index(["quantity", "average"])["how"]
    assert how["precision", "micro"].endswith("= 82 / 105 = 0.7810")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"c": ["a", "b"], "a": [1, 2], "x": [3, 4]}), "must be the column names"),
        (pd.DataFrame({"c": ["a", "b"], "a": [1, -2], "b": [3, 4]}), "whole numbers >= 0"),
        (pd.DataFrame({"c": ["a", "b"], "a": [0, 0], "b": [0, 0]}), "all zeros"),
        (pd.DataFrame({"c": ["a", "b"], "a": [1, None], "b": [3, 4]}), r"empty cells \(row 2\)"),
    ],
)
def test_bad_confusion_matrices_are_explained(table, message):
    with pytest.raises(MetricInputError, match=message):
        averaging.confusion_from_table(table)


def test_label_lists_of_different_lengths_are_refused():
    with pytest.raises(MetricInputError, match="y_true has 3, y_pred has 2"):
        averaging.confusion_from_labels(["a", "b", "a"], ["a", "b"])


def test_the_shipped_example_scores_are_draw_binormals_default_sample():
    shipped = pd.read_csv(EXAMPLES_DIR / "scores.csv")
    pd.testing.assert_frame_equal(shipped, imbalance.draw_binormal(), check_dtype=False)
