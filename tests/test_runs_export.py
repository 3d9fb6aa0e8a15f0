"""Runs read elsewhere: CSV exports of configs, final and per-epoch metrics, config diffs, and
the compared curves' smoothing (TensorBoard's rule) and log axis."""

import pandas as pd
import pytest

from core import cli
from core.runs.export import config_diff, export_runs, metrics_frame, runs_frame
from core.runs.view import curves, smoothed


def logged_run(store, experiment: str, config: dict, losses: list[float]) -> int:
    run_id = store.create(experiment, config)
    for epoch, loss in enumerate(losses, 1):
        store.log_metrics(run_id, epoch, {"train_loss": loss, "test_loss": loss * 1.1})
    return run_id


@pytest.fixture
def two_runs(store):
    first = logged_run(store, "loan_exp1", {"lr": 0.01, "seed": 0, "hidden": [32]}, [1.0, 0.5])
    second = logged_run(store, "loan_exp1", {"lr": 0.05, "seed": 0}, [0.9, 0.3, 0.2])
    store.rename(second, "faster")
    return first, second


def test_runs_frame_has_a_row_per_run_with_config_and_final_metrics(store, two_runs):
    first, second = two_runs
    table = runs_frame(store, [first, second]).set_index("run")
    assert table.loc[second, "name"] == "faster"
    assert table.loc[first, "config.lr"] == 0.01 and table.loc[second, "config.lr"] == 0.05
    assert table.loc[first, "config.hidden"] == "[32]"  # a list as one JSON cell
    assert pd.isna(table.loc[second, "config.hidden"])
    assert table.loc[second, "final.train_loss"] == pytest.approx(0.2)


def test_metrics_frame_has_a_row_per_run_and_epoch(store, two_runs):
    first, second = two_runs
    table = metrics_frame(store, [first, second])
    assert list(table.columns) == ["run", "epoch", "test_loss", "train_loss"]
    assert table.groupby("run").size().to_dict() == {first: 2, second: 3}
    assert table.loc[(table.run == second) & (table.epoch == 2), "test_loss"].item() == 0.33


def test_config_diff_keeps_only_the_keys_that_differ(store, two_runs):
    first, second = two_runs
    diff = config_diff(store, [first, second])
    assert list(diff.columns) == ["key", f"#{first}", f"#{second}"]
    assert diff.set_index("key").to_dict("index") == {
        "hidden": {f"#{first}": "[32]", f"#{second}": "(none)"},
        "lr": {f"#{first}": "0.01", f"#{second}": "0.05"},
    }  # seed is the same in both: left out


def test_export_writes_csv_files_that_read_back(store, two_runs, tmp_path):
    runs_csv, metrics_csv = export_runs(store, list(two_runs), tmp_path / "out")
    assert pd.read_csv(runs_csv)["run"].tolist() == list(two_runs)
    assert len(pd.read_csv(metrics_csv)) == 5


def test_dlstudio_export_writes_the_files_and_prints_the_diff(store, two_runs, tmp_path, capsys):
    first, second = two_runs
    argv = ["export", str(first), str(second), "--out", str(tmp_path), "--diff"]
    assert cli.main([*argv, "--db", str(store.path)]) == 0
    printed = capsys.readouterr().out
    assert "lr" in printed and "seed" not in printed
    assert (tmp_path / "runs.csv").is_file() and (tmp_path / "metrics.csv").is_file()
    assert cli.main(["export", "999", "--db", str(store.path)]) == 2  # no such run


def tensorboard_smoothing(values: list[float], weight: float) -> list[float]:
    """TensorBoard's scalar smoothing, as its dashboard computes it (the reference)."""
    last, out = 0.0, []
    for index, value in enumerate(values):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight ** (index + 1)))
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.9])
def test_smoothing_is_tensorboards(weight):
    values = [1.0, 0.2, 0.8, 0.1, 0.5, 0.05]
    assert smoothed(pd.Series(values), weight).tolist() == pytest.approx(
        tensorboard_smoothing(values, weight)
    )
    with pytest.raises(ValueError, match="from 0 up to"):
        smoothed(pd.Series(values), 1.0)


def test_compared_curves_can_be_smoothed_and_drawn_on_a_log_axis(store, two_runs):
    plain = curves(store, list(two_runs), "loss", ("train",))
    smooth = curves(store, list(two_runs), "loss", ("train",), smoothing=0.5, log_y=True)
    assert list(plain.data[1].y) == [0.9, 0.3, 0.2]
    assert list(smooth.data[1].y) == pytest.approx(tensorboard_smoothing([0.9, 0.3, 0.2], 0.5))
    assert smooth.layout.yaxis.type == "log" and plain.layout.yaxis.type == "linear"
