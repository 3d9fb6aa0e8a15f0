"""What the Training tab shows of the run store (core.runs.view): config forms, tables, status
lines."""

from dataclasses import asdict

import pandas as pd
import pytest

from core.experiments import FAMILIES, get_experiment
from core.runs.store import RunStore
from core.runs.view import (
    EVERYONES_COLUMNS,
    OWN_METRIC,
    RUNS_COLUMNS,
    config_form,
    curves,
    duration_text,
    experiment_choices,
    experiment_text,
    form_values,
    progress_line,
    runs_table,
    status_text,
    summary_table,
    sweep_ids,
    sweep_view,
)
from core.sharing.visitors import Visitor

ADA, BOB = Visitor("anon:ada", "visitor ada"), Visitor("anon:bob", "visitor bob")

SPLITS = ("val", "test")  # the splits that log_history records


def log_history(store: RunStore, run_id: int, val: list[float], test: list[float]) -> None:
    for epoch, (val_auc, test_auc) in enumerate(zip(val, test, strict=True), 1):
        store.log_metrics(
            run_id, epoch, {"val_roc_auc": val_auc, "test_roc_auc": test_auc, "val_loss": 1 / epoch}
        )


@pytest.mark.parametrize("name", ["loan_exp1", "loan_exp3", "loan_exp5"])
def test_config_form_round_trips_to_the_experiment_config(name):
    form = config_form(name)
    assert form.columns.tolist() == ["key", "value", "help"]
    assert form["value"].map(type).eq(str).all()
    experiment = get_experiment(name)
    assert experiment.make_config(form_values(form)) == experiment.make_config()


def test_config_form_shows_choices_and_form_values_reads_edits():
    form = config_form("loan_exp2").set_index("key")
    assert form.loc["hidden", "value"] == "128"
    assert form.loc["device", "help"].endswith("(auto, cpu, cuda)")
    edited = form.reset_index()
    edited.loc[edited["key"] == "lr", "value"] = " 0.05 "
    edited.loc[edited["key"] == "target", "value"] = None
    values = form_values(edited)
    assert (values["lr"], values["target"]) == ("0.05", "")


def test_runs_table_lists_newest_first_with_the_final_test_metric(store):
    old = store.create("loan_exp1", {})
    new = store.create("loan_exp2", {}, sweep_id="abc")
    store.start(new)
    log_history(store, new, [0.8, 0.9], [0.7, 0.123456789])
    store.finish(new, "done")

    table = runs_table(store)
    assert table["id"].tolist() == [new, old]
    newest = table.iloc[0]
    assert (newest["status"], newest["progress"], newest["sweep"]) == ("done", "100%", "abc")
    assert newest["final test"] == pytest.approx(0.1235, abs=1e-9)
    assert pd.isna(table.iloc[1]["final test"]) and pd.isna(table.iloc[1]["time_s"])
    assert runs_table(store, experiment="loan_exp1")["id"].tolist() == [old]
    assert runs_table(store, status="running").empty


def test_summary_table_reports_the_test_metric_at_the_best_val_epoch(store):
    run_id = store.create("loan_exp1", {})
    log_history(store, run_id, [0.7, 0.95, 0.9], [0.6, 0.85, 0.8])
    row = summary_table(store, [run_id]).iloc[0]
    assert (row["best val_roc_auc"], row["epoch of best"]) == (0.95, 2)
    assert (row["test_roc_auc at best"], row["final test_roc_auc"]) == (0.85, 0.8)


def test_status_text_shows_progress_metrics_and_the_last_error_line(store):
    run_id = store.create("loan_exp1", {})
    store.start(run_id)
    store.set_progress(run_id, 0.5, "epoch 1/2")
    store.add_details(run_id, device="cpu")
    log_history(store, run_id, [0.8], [0.75])
    running = status_text(store, run_id)
    assert "**running**" in running and "` 50% · epoch 1/2 · " in running
    assert "epoch 1: test_roc_auc **0.7500**" in running and "device: cpu" in running

    store.finish(run_id, "failed", "Traceback ...\n  File x\nFloatingPointError: too high\n")
    failed = status_text(store, run_id)
    assert "**failed**" in failed and failed.endswith("FloatingPointError: too high")
    assert "50%" not in failed


def test_status_text_names_no_server_path_and_shows_the_name_as_typed(store):
    run_id = store.create("loan_exp1", {})
    store.finish(run_id, "failed", "OSError: cannot read /srv/dlstudio/data/runs/7/best.pt\n")
    store.rename(run_id, "*bold* ![pixel](http://example.com/p.png)")
    store.set_shared(run_id, True)
    text = status_text(store, run_id)
    assert text.endswith("⚠️ OSError: cannot read best.pt") and "/srv" not in text
    assert text.startswith(
        f"**Run {run_id}** “\\*bold\\* \\!\\[pixel\\]\\(http://example\\.com/p\\.png\\)”"
    )
    assert "Its model is shared" in text


def test_runs_table_keeps_the_owners_runs_and_names_owners_when_showing_everyones(store):
    ada_run = store.create("loan_exp1", {}, owner=ADA)
    bob_run = store.create("loan_exp1", {}, sweep_id="bob-sweep", owner=BOB)
    store.rename(ada_run, "ada's first")
    own = runs_table(store, owners={ADA.key})
    assert own.columns.tolist() == RUNS_COLUMNS  # no owner column: they are all hers
    assert own[["id", "name"]].values.tolist() == [[ada_run, "ada's first"]]
    assert runs_table(store, owners=()).empty
    everyone = runs_table(store)
    assert everyone["id"].tolist() == [bob_run, ada_run]
    assert everyone["owner"].tolist() == ["visitor bob", "visitor ada"]
    assert sweep_ids(store, owners={ADA.key}) == [] and sweep_ids(store) == ["bob-sweep"]


def test_sweep_views_choose_on_val_not_test(store):
    runs = []
    for dropout, val, test in ((0.1, 0.9, 0.99), (0.5, 0.95, 0.8)):
        run_id = store.create("loan_exp4", {"dropout": dropout}, "s1", {"swept_keys": ["dropout"]})
        log_history(store, run_id, [val], [test])
        store.finish(run_id, "done")
        runs.append(run_id)
    store.create("loan_exp4", {}, "s2", {"swept_keys": ["dropout"]})

    assert sweep_ids(store) == ["s2", "s1"]
    table, figure, choice = sweep_view(store, "s1")
    assert table.loc[table["best"], "run_id"].tolist() == [runs[1]]
    assert choice.startswith("Chosen on **val_roc_auc**: dropout = 0.5 (val_roc_auc 0.9500")
    bars = {bar.name: list(bar.y) for bar in figure.data}
    assert bars == {"val_roc_auc": [0.9, 0.95], "test_roc_auc": [0.99, 0.8]}
    low, high = figure.layout.yaxis.range  # fitted to the values, not 0-1
    assert 0.6 < low < 0.8 and 0.99 < high < 1.2
    assert sweep_view(store, "s2")[2] == "No finished run yet."


def test_a_sweep_table_is_rounded_for_reading(store):
    run_id = store.create("loan_exp4", {"dropout": 0.1}, "s1", {"swept_keys": ["dropout"]})
    log_history(store, run_id, [0.926151724137931], [0.9589996])
    store.finish(run_id, "done")
    table, _, _ = sweep_view(store, "s1")
    assert table["val_roc_auc"].tolist() == [0.9262]


def test_curves_draw_one_line_per_run_and_split(store):
    first, second = store.create("loan_exp1", {}), store.create("loan_exp1", {})
    log_history(store, first, [0.7, 0.8], [0.6, 0.7])
    log_history(store, second, [0.75], [0.65])
    figure = curves(store, [first, second], "roc_auc")
    names = [trace.name for trace in figure.data]
    assert names == [f"#{run} loan_exp1 {split}" for run in (first, second) for split in SPLITS]
    assert list(figure.data[0].y) == [0.7, 0.8]


def test_each_run_is_compared_on_its_own_experiments_metric(store):
    loan_run, image_run = store.create("loan_exp1", {}), store.create("digits_plain", {})
    log_history(store, loan_run, [0.7, 0.8], [0.6, 0.7])
    store.log_metrics(image_run, 1, {"val_accuracy": 0.91, "test_accuracy": 0.9})
    store.log_metrics(image_run, 1, {"val_loss": 0.3})
    figure = curves(store, [loan_run, image_run], OWN_METRIC, splits=SPLITS)
    lines = {trace.name: list(trace.y) for trace in figure.data}
    assert lines == {
        f"#{loan_run} loan_exp1 (roc_auc) val": [0.7, 0.8],
        f"#{loan_run} loan_exp1 (roc_auc) test": [0.6, 0.7],
        f"#{image_run} digits_plain (accuracy) val": [0.91],
        f"#{image_run} digits_plain (accuracy) test": [0.9],
    }
    assert figure.layout.title.text == "accuracy / roc_auc"


def test_experiments_are_grouped_by_family_and_the_missing_data_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path))  # no AFHQ, no MNIST in it
    monkeypatch.delenv("SPACE_ID", raising=False)
    choices = experiment_choices()
    families = [label.split(" · ")[0] for label, _ in choices]
    assert families == sorted(families, key=[f.title for f in FAMILIES.values()].index)
    assert ("Loan default · loan_exp1", "loan_exp1") in choices
    assert ("AFHQ · afhq_all (data not here)", "afhq_all") in choices
    assert "Cannot run here: AFHQ" in experiment_text("afhq_all")
    assert "Cannot run here" not in experiment_text("digits_cnn")
    with pytest.raises(ValueError, match="MNIST is not on this machine"):
        get_experiment("mnist_plain").checked_config()  # refused before any download

    afhq = tmp_path / "datasets" / "afhq"  # a host unpacks AFHQ into the data directory
    for split in ("train", "val"):
        (afhq / split).mkdir(parents=True)
    assert ("AFHQ · afhq_all", "afhq_all") in experiment_choices()


def test_a_running_run_shows_a_bar_elapsed_time_and_the_time_left(store):
    run_id = store.create("loan_exp1", {})
    store.start(run_id)
    store.set_progress(run_id, 0.25, "epoch 3/10")
    run = store.get(run_id)
    line = progress_line(run, now=run.started_at + 30)
    assert line == "`█████░░░░░░░░░░░░░░░` 25% · epoch 3/10 · 30 s elapsed · about 1 min 30 s left"
    assert "`█████" in status_text(store, run_id) and "elapsed" in status_text(store, run_id)
    store.set_progress(run_id, 0.01, "epoch 1/10")  # too early to estimate
    assert "left" not in progress_line(store.get(run_id), now=run.started_at + 5)
    assert duration_text(3725) == "1 h 02 min" and duration_text(65) == "1 min 05 s"


def test_filtered_to_one_experiment_the_runs_table_shows_the_configs_that_vary(store):
    for lr in (0.01, 0.05):
        store.create("loan_exp1", {"lr": lr, "seed": 0, "epochs": 10})
    store.create("loan_exp2", {"lr": 0.1, "seed": 0, "epochs": 10})
    table = runs_table(store, experiment="loan_exp1")
    assert list(table.columns) == [*EVERYONES_COLUMNS, "lr"]  # seed and epochs are the same
    assert table["lr"].tolist() == ["0.05", "0.01"]
    assert list(runs_table(store).columns) == EVERYONES_COLUMNS  # all experiments: no config


def test_runs_table_says_what_each_run_changed_from_its_experiments_defaults(store):
    defaults = asdict(get_experiment("loan_exp1").make_config())
    plain = store.create("loan_exp1", {**defaults, "seed": 7})  # a seed names no variant
    faster = store.create("loan_exp1", {**defaults, "lr": 0.05, "epochs": 3})
    settings = runs_table(store).set_index("id")["settings"]
    assert settings[plain] == ""
    assert settings[faster] == "lr=0.05, epochs=3"


def test_a_finished_run_says_where_to_go_next(store, tmp_path):
    tabular = store.create("loan_exp1", {})
    store.finish(tabular, "done")
    text = status_text(store, tabular)
    assert "Next: make a page of it" in text and "Classifier" not in text
    image = store.create("digits_cnn", {}, details={"input_spec": {"kind": "digit"}})
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"")
    store.add_artifact(image, "best_checkpoint", checkpoint)
    store.finish(image, "done")
    assert f"try its model in the **Classifier** tab (`run:{image}`" in status_text(store, image)
    running = store.create("digits_cnn", {})
    assert "Next:" not in status_text(store, running)
