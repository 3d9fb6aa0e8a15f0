"""The background job runner, run execution bookkeeping, and sweeps."""

import os
import signal
import uuid

import pytest

from core.experiments import Experiment, register, unregister
from core.experiments.loan import LoanConfig
from core.paths import REPO_ROOT
from core.runs.execution import RunCancelled, RunLogger, execute_run
from core.runs.jobs import JobRunner
from core.runs.sweeps import expand_grid, format_grid, parse_grid, plan_sweep, sweep_results

SAMPLE_CSV = str(REPO_ROOT / "assets" / "credit_sample.csv")
WAIT_S = 120  # a guard against hanging, not a speed requirement


@pytest.fixture(params=[False])
def runner(store, request):
    """Trains in worker processes; under the `in_process` mark, on the test's own threads."""
    runner = JobRunner(store, in_process=request.param)
    yield runner
    for run in store.list(status="running") + store.list(status="queued"):
        runner.cancel(run.id)
    runner.shutdown()


# For experiments registered inside the test process, which a worker process does not know.
in_process = pytest.mark.parametrize("runner", [True], ids=["in-process"], indirect=True)


@pytest.fixture
def crashing_experiment():
    def train(config, logger):
        logger.log_epoch(1, {"train_loss": 0.7})
        raise RuntimeError("boom")

    experiment = register(
        Experiment(f"test_crash_{uuid.uuid4().hex[:8]}", "always crashes", LoanConfig, train)
    )
    yield experiment
    unregister(experiment.name)


def test_submit_trains_in_the_background_until_done(runner, store):
    run_id = runner.submit("loan_exp1", {"epochs": "2"})
    assert store.get(run_id).status in ("queued", "running")
    runner.wait(run_id, timeout=WAIT_S)
    run = store.get(run_id)
    assert run.status == "done", run.error
    assert run.config["epochs"] == 2 and run.config["hidden"] == 32
    assert run.owner_pid != os.getpid()  # trained in a worker process of its own
    assert store.metrics(run_id)["epoch"].tolist() == [1, 2]
    assert run.artifacts["model"].endswith("model.pt")


@pytest.mark.parametrize(
    ("name", "values", "error"),
    [
        ("loan_exp1", {"lr": "0"}, ValueError),
        ("loan_exp1", {"epochs": "2.5"}, ValueError),
        ("loan_exp1", {"hiden": "3"}, ValueError),
        ("loan_exp42", {}, KeyError),
        ("loan_exp1", {"data": SAMPLE_CSV, "target": "no_such_column"}, ValueError),
        ("loan_exp1", {"data": SAMPLE_CSV, "target": "balance"}, ValueError),  # not binary
    ],
)
def test_submit_rejects_bad_input_before_storing_a_run(runner, store, name, values, error):
    with pytest.raises(error):
        runner.submit(name, values)
    assert store.list() == []


def test_cancel_stops_a_running_run(runner, store, wait_until):
    run_id = runner.submit("loan_exp1", {"epochs": 1000})
    wait_until(lambda: store.get(run_id).status == "running", "the run to start")
    assert runner.cancel(run_id)
    runner.wait(run_id, timeout=WAIT_S)
    run = store.get(run_id)
    assert (run.status, run.error) == ("cancelled", "cancelled by the user")
    assert len(store.metrics(run_id)) < 1000
    assert not runner.cancel(run_id)  # already finished


@pytest.mark.parametrize(
    ("signal_number", "status", "error"),
    [
        (signal.SIGTERM, "interrupted", "the worker process was interrupted"),
        (signal.SIGKILL, "failed", "the training process was killed by SIGKILL"),
    ],
    ids=["SIGTERM", "SIGKILL"],
)
def test_a_worker_process_that_dies_ends_its_run(
    runner, store, wait_until, signal_number, status, error
):
    run_id = runner.submit("loan_exp1", {"epochs": 1000})
    wait_until(lambda: store.get(run_id).status == "running", "the run to start")
    worker = store.get(run_id).owner_pid
    assert worker != os.getpid()
    os.kill(worker, signal_number)
    runner.wait(run_id, timeout=WAIT_S)
    run = store.get(run_id)
    assert run.status == status and error in run.error.splitlines()[-1]


def test_a_queued_run_is_cancelled_before_it_starts(store):
    run_id = store.create("loan_exp1", {})
    store.request_cancel(run_id)
    run = execute_run(store, run_id)
    assert (run.status, run.error, run.started_at) == (
        "cancelled",
        "cancelled before it started",
        None,
    )


@in_process
def test_a_crash_in_train_marks_the_run_failed_with_the_traceback(
    runner, store, crashing_experiment
):
    run_id = runner.submit(crashing_experiment.name, {"epochs": 1})
    runner.wait(run_id, timeout=WAIT_S)
    run = store.get(run_id)
    assert run.status == "failed"
    assert run.error.startswith("Traceback (most recent call last):")
    assert run.error.rstrip().endswith("RuntimeError: boom")
    assert store.final_metrics(run_id) == {"train_loss": 0.7}  # what it logged is kept


def test_a_run_of_an_unregistered_experiment_fails(store):
    run = execute_run(store, store.create("gone_experiment", {}))
    assert run.status == "failed" and "unknown experiment 'gone_experiment'" in run.error


def test_logger_throttles_progress_writes_but_calls_back_every_time(store):
    run_id = store.create("loan_exp1", {})
    seen = []
    logger = RunLogger(
        store, run_id, on_progress=lambda f, m: seen.append((f, m)), min_interval_s=60
    )
    logger.progress(0.25, "first")
    logger.progress(0.5, "second")
    assert seen == [(0.25, "first"), (0.5, "second")]
    run = store.get(run_id)
    assert (run.progress, run.message) == (0.25, "first")


def test_logger_raises_run_cancelled_once_cancel_is_requested(store):
    run_id = store.create("loan_exp1", {})
    logger = RunLogger(store, run_id)
    logger.log_epoch(1, {"train_loss": 1.0})
    store.request_cancel(run_id)
    with pytest.raises(RunCancelled):
        logger.log_epoch(2, {"train_loss": 0.9})
    assert store.metrics(run_id)["epoch"].tolist() == [1, 2]


@in_process
def test_submit_sweep_shares_a_sweep_id_and_marks_the_best_val_run(runner, store):
    sweep_id, run_ids = runner.submit_sweep(
        "loan_exp4", {"epochs": "1"}, {"dropout": ["0.1", "0.5"]}
    )
    for run_id in run_ids:
        runner.wait(run_id, timeout=WAIT_S)
    runs = [store.get(run_id) for run_id in run_ids]
    assert [run.sweep_id for run in runs] == [sweep_id, sweep_id]
    assert [run.config["dropout"] for run in runs] == [0.1, 0.5]
    assert all(run.status == "done" and run.config["skip"] for run in runs)

    # A failed run with a better val score must not be chosen.
    failed = store.create("loan_exp4", runs[0].config, sweep_id, {"swept_keys": ["dropout"]})
    store.log_metrics(failed, 1, {"val_roc_auc": 1.0, "test_roc_auc": 1.0})
    store.finish(failed, "failed", "crashed later")

    table = sweep_results(store, sweep_id)
    assert table["run_id"].tolist() == [*run_ids, failed]
    assert table.columns.tolist() == [
        "run_id",
        "dropout",
        "status",
        "val_roc_auc",
        "test_roc_auc",
        "best",
    ]
    assert table["best"].sum() == 1
    val = {run_id: store.final_metrics(run_id)["val_roc_auc"] for run_id in run_ids}
    assert table.loc[table["best"], "run_id"].item() == max(val, key=val.get)
    assert table.set_index("run_id")["val_roc_auc"][run_ids].tolist() == list(val.values())


def test_sweep_results_has_no_best_while_nothing_is_done(store):
    run_id = store.create("loan_exp4", {"dropout": 0.1}, "s1", {"swept_keys": ["dropout"]})
    table = sweep_results(store, "s1")
    assert table["run_id"].tolist() == [run_id] and not table["best"].any()
    with pytest.raises(KeyError, match="no runs belong to sweep 'nope'"):
        sweep_results(store, "nope")


def test_expand_grid_gives_every_combination_in_order():
    assert expand_grid({"lr": (0.01, 0.1), "wd": [1, 2, 3]}) == [
        {"lr": 0.01, "wd": 1},
        {"lr": 0.01, "wd": 2},
        {"lr": 0.01, "wd": 3},
        {"lr": 0.1, "wd": 1},
        {"lr": 0.1, "wd": 2},
        {"lr": 0.1, "wd": 3},
    ]


@pytest.mark.parametrize(
    ("grid", "message"),
    [({}, "at least one key"), ({"lr": (0.1,), "wd": ()}, "grid key\\(s\\) wd have no values")],
)
def test_expand_grid_rejects_empty_grids(grid, message):
    with pytest.raises(ValueError, match=message):
        expand_grid(grid)


def test_parse_grid_and_format_grid_round_trip():
    grid = parse_grid(" lr = 0.01, 0.1 ;weight_decay=0.1,0.01,; ")
    assert grid == {"lr": ["0.01", "0.1"], "weight_decay": ["0.1", "0.01"]}
    assert parse_grid(format_grid(grid)) == grid
    assert format_grid({"lr": (0.01, 0.1)}) == "lr=0.01,0.1"


@pytest.mark.parametrize("text", ["lr", "=0.1", "lr=0.1; dropout"])
def test_parse_grid_rejects_entries_without_key_and_values(text):
    with pytest.raises(ValueError, match="is not of the form key=value1,value2"):
        parse_grid(text)


def test_plan_sweep_uses_the_experiment_grid_and_validates_every_point():
    configs = plan_sweep("loan_exp5", {"epochs": "3"})
    assert [(c["weight_decay"], c["lr"]) for c in configs] == [
        (wd, lr) for wd in (0.1, 0.01, 0.001) for lr in (0.01, 0.05, 0.1)
    ]
    assert {c["epochs"] for c in configs} == {3}
    with pytest.raises(ValueError, match="dropout must be in"):
        plan_sweep("loan_exp4", None, {"dropout": ["0.5", "1.0"]})
    with pytest.raises(ValueError, match="loan_exp1 has no default grid"):
        plan_sweep("loan_exp1", None)


def test_a_sweep_with_an_invalid_point_stores_no_runs(runner, store):
    with pytest.raises(ValueError, match="lr must be in"):
        runner.submit_sweep("loan_exp1", {"epochs": 1}, {"lr": ["0.1", "-1"]})
    assert store.list() == []
