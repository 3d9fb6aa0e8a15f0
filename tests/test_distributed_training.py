"""Data-parallel training under torchrun: a short digits run in 2 CPU processes (gloo) is one
run in the store with every epoch's metrics, recorded by its first process alone, and reaches
the accuracy of the same run in one process; the host's limit on processes holds."""

from dataclasses import asdict

import pytest

from core.experiments import get_experiment
from core.runs import worker
from core.runs.execution import execute_run
from core.runs.jobs import JobRunner, QuotaExceeded
from core.sharing.limits import HostLimits
from core.sharing.visitors import anonymous, new_browser_token

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EPOCHS = 8
CONFIG = {"input_size": 28, "epochs": EPOCHS, "augment_schedule": False}  # all 1,257 pictures
METRICS = {"train_loss", "train_accuracy", "val_accuracy", "val_loss", "test_accuracy"}


def test_two_processes_train_one_run_as_well_as_one_process(store):
    config = asdict(get_experiment("digits_cnn").checked_config(CONFIG))
    alone = store.create("digits_cnn", config)
    assert execute_run(store, alone).status == "done"

    shared = store.create("digits_cnn", {**config, "processes": 2})
    worker.train_in_processes(store, shared)  # torchrun --nproc-per-node=2, gloo on the CPU
    run = store.get(shared)
    assert run.status == "done", run.error
    assert [r.id for r in store.list()] == [shared, alone]  # one run row, not one per process
    metrics = store.metrics(shared)
    assert metrics["epoch"].tolist() == list(range(1, EPOCHS + 1))  # each epoch once
    assert set(metrics.columns) >= METRICS and not metrics[list(METRICS)].isna().any().any()
    assert run.details["processes"] == 2
    assert store.run_dir(shared).joinpath("best.pt").is_file()
    accuracy = {r: store.get(r).details["best_test_accuracy"] for r in (alone, shared)}
    assert abs(accuracy[shared] - accuracy[alone]) <= 0.02, accuracy  # measured: 0.4-0.7 pt


def test_visitors_are_held_to_the_hosts_processes_and_unfreezing_trains_in_one(store):
    runner = JobRunner(store, in_process=True, limits=HostLimits(run_processes=2))
    ada = anonymous(new_browser_token())
    try:
        with pytest.raises(QuotaExceeded, match="at most 2 processes on this server, not 4"):
            runner.submit("digits_cnn", {**CONFIG, "processes": 4}, owner=ada)
        assert store.list() == []
    finally:
        runner.shutdown()
    with pytest.raises(ValueError, match="use processes=1 with it"):
        get_experiment("digits_plain").checked_config({"processes": 2, "recipe": "all"})
