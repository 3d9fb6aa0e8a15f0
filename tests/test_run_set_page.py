"""A study page from runs a user picks: its numbers come from the runs, its conclusions follow
the numbers (altered numbers change the sentences), and it downloads as a zip that reads back."""

import zipfile

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from core import cli
from core.reports.run_set import (
    RunFacts,
    accuracy,
    conclusions,
    page_zip,
    paired_difference,
    run_set_page,
    zipped_page,
)


def history(val: list[float], test_loss: list[float], train_loss: list[float]) -> pd.DataFrame:
    epochs = list(range(1, len(val) + 1))
    return pd.DataFrame(
        {"epoch": epochs, "val_accuracy": val, "test_loss": test_loss, "train_loss": train_loss}
    )


def facts(run_id: int, val: list[float], test=None, losses=None) -> RunFacts:
    test_loss, train_loss = losses or ([0.5] * len(val), [0.4] * len(val))
    best = int(np.argmax(val))
    return RunFacts(
        run_id,
        f"#{run_id} digits_cnn",
        "digits_cnn",
        "accuracy",
        history(val, test_loss, train_loss),
        best + 1,
        val[best],
        test,
    )


def test_the_choice_follows_the_validation_numbers():
    a, b = facts(1, [0.8, 0.9], (0.88, 0.85, 0.91)), facts(2, [0.85, 0.86], (0.9, 0.87, 0.93))
    assert conclusions([a, b], None)[0].startswith("The validation split chooses #1 digits_cnn")
    b = facts(2, [0.85, 0.95], (0.9, 0.87, 0.93))
    assert conclusions([a, b], None)[0].startswith("The validation split chooses #2 digits_cnn")


def test_the_lead_is_measurable_only_when_its_interval_excludes_zero():
    a, b = facts(1, [0.9]), facts(2, [0.8])
    assert "does not tell the two apart" in conclusions([a, b], (0.01, -0.01, 0.03))[1]
    assert "a measurable difference" in conclusions([a, b], (0.04, 0.02, 0.06))[1]
    a.test, b.test = (0.9, 0.88, 0.92), (0.8, 0.78, 0.82)  # not paired: intervals compared
    assert "do not overlap" in conclusions([a, b], None)[1]
    b.test = (0.89, 0.87, 0.91)
    assert "overlap: the lead is not measurable" in conclusions([a, b], None)[1]


def test_overfitting_is_a_test_loss_rising_while_the_train_loss_falls():
    steady = facts(1, [0.8, 0.9, 0.9])
    assert conclusions([steady], None)[-1].startswith("No run overfits")
    rising = facts(2, [0.8, 0.9, 0.9], losses=([0.5, 0.3, 0.4], [0.5, 0.3, 0.2]))
    text = conclusions([steady, rising], None)[-1]
    assert text.startswith("Overfitting:") and "#2 digits_cnn (test loss lowest at epoch 2" in text


def test_the_paired_bootstrap_resamples_both_runs_on_the_same_examples():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 400)
    a_pred = np.where(rng.random(400) < 0.9, y, (y + 1) % 10)
    b_pred = np.where(rng.random(400) < 0.8, y, (y + 1) % 10)
    a, b = facts(1, [0.9]), facts(2, [0.8])
    a.predictions, b.predictions = {"y_true": y, "y_pred": a_pred}, {"y_true": y, "y_pred": b_pred}
    difference, low, high = paired_difference(a, b)
    assert difference == pytest.approx(accuracy(y, a_pred) - accuracy(y, b_pred))
    # scipy's percentile bootstrap of the per-example difference is the reference
    per_example = (a_pred == y).astype(float) - (b_pred == y)
    reference = scipy.stats.bootstrap(
        (per_example,), np.mean, n_resamples=1000, method="percentile", random_state=1
    ).confidence_interval
    assert (low, high) == pytest.approx((reference.low, reference.high), abs=0.01)
    assert 0 < low < difference < high


def finished_loan_run(store, seed: int, hidden: int) -> int:
    run_id = store.create("loan_exp1", {"seed": seed, "hidden": hidden})
    store.start(run_id)
    rng = np.random.default_rng(seed)
    for epoch in (1, 2, 3):
        store.log_metrics(
            run_id,
            epoch,
            {"val_roc_auc": 0.8 + 0.01 * epoch + 0.001 * hidden, "train_loss": 1 / epoch}
            | {"test_loss": 1.1 / epoch, "test_roc_auc": 0.8},
        )
    y_true = np.array([0, 1] * 100)
    path = store.run_dir(run_id) / "test_predictions.npz"
    np.savez(path, y_true=y_true, score=y_true * 0.3 + rng.random(200))
    store.add_artifact(run_id, "test_predictions", path)
    store.finish(run_id, "done")
    return run_id


def test_a_page_from_two_runs_downloads_as_a_zip_that_reads_back(store, tmp_path):
    small, big = finished_loan_run(store, 0, 32), finished_loan_run(store, 1, 64)
    page = run_set_page(store, [small, big])
    tables = [block for block in page.blocks if isinstance(block, pd.DataFrame)]
    assert tables[0].set_index("key").loc["hidden"].tolist() == ["32", "64"]  # what differs
    assert tables[1]["run"].tolist() == [f"#{small} loan_exp1", f"#{big} loan_exp1"]
    archive = page_zip(page, tmp_path / "page.zip")
    with zipfile.ZipFile(archive) as packed:
        assert sorted(packed.namelist()) == ["README.md", "loss.png", "metric.png"]
        readme = packed.read("README.md").decode()
    assert f"The validation split chooses #{big} loan_exp1" in readme
    assert "paired bootstrap" in readme  # same test clients: the difference is paired
    with pytest.raises(ValueError, match="1 to 12 runs"):
        run_set_page(store, list(range(1, 14)))


def test_dlstudio_report_runs_writes_the_page(store, tmp_path):
    first, second = finished_loan_run(store, 0, 32), finished_loan_run(store, 1, 64)
    out = tmp_path / "page"
    argv = ["report", "runs", str(first), str(second), "--out", str(out), "--db", str(store.path)]
    assert cli.main([*argv, "--zip", str(tmp_path / "page.zip")]) == 0
    assert "## Conclusions" in (out / "README.md").read_text()
    assert (tmp_path / "page.zip").is_file()


def test_the_zipped_page_is_written_from_the_store_path_alone(store, tmp_path):
    """What the app hands its low-priority worker: plain arguments, a store opened by path."""
    first, second = finished_loan_run(store, 0, 32), finished_loan_run(store, 1, 64)
    page = zipped_page(store.path, [first, second], tmp_path / "study.zip")
    assert page.title == "Your study: 2 runs"
    with zipfile.ZipFile(tmp_path / "study.zip") as packed:
        assert "README.md" in packed.namelist()
