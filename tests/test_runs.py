"""The SQLite run store: lifecycle, metrics, filters, persistence and crash recovery."""

import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

import core
from core.experiments import get_experiment
from core.runs.execution import execute_run
from core.runs.store import RunStore
from core.sharing.visitors import Visitor

REPO = Path(core.__file__).resolve().parent.parent


def test_lifecycle_from_queued_to_done(store):
    run_id = store.create("loan_exp1", {"lr": 0.01})
    run = store.get(run_id)
    assert (run.status, run.owner_pid, run.started_at, run.config) == (
        "queued",
        os.getpid(),
        None,
        {"lr": 0.01},
    )
    assert run.duration_s is None and not run.finished

    store.start(run_id)
    store.set_progress(run_id, 1.7, "epoch 1/2")
    running = store.get(run_id)
    assert running.status == "running" and running.started_at is not None
    assert (running.progress, running.message) == (1.0, "epoch 1/2")  # clamped to [0, 1]

    store.finish(run_id, "done")
    done = store.get(run_id)
    assert done.status == "done" and done.finished and done.error is None
    assert done.ended_at >= done.started_at
    assert done.duration_s == done.ended_at - done.started_at


def test_metrics_pivot_to_one_row_per_epoch(store):
    run_id = store.create("loan_exp1", {})
    assert store.metrics(run_id).empty
    assert store.final_metrics(run_id) == {}

    store.log_metrics(run_id, 2, {"train_loss": 0.2, "val_roc_auc": 0.8})
    store.log_metrics(run_id, 1, {"train_loss": 0.5, "val_roc_auc": 0.6})
    store.log_metrics(run_id, 2, {"train_loss": 0.25})  # same epoch and name: overwrites

    table = store.metrics(run_id)
    assert table.columns.tolist() == ["epoch", "train_loss", "val_roc_auc"]
    assert table["epoch"].tolist() == [1, 2]
    assert table["train_loss"].tolist() == [0.5, 0.25]
    assert table["val_roc_auc"].tolist() == [0.6, 0.8]
    assert store.final_metrics(run_id) == {"train_loss": 0.25, "val_roc_auc": 0.8}


def test_final_metrics_skip_names_missing_from_the_last_epoch(store):
    run_id = store.create("loan_exp1", {})
    store.log_metrics(run_id, 1, {"train_loss": 0.5, "val_roc_auc": 0.6})
    store.log_metrics(run_id, 2, {"train_loss": 0.4})
    assert store.final_metrics(run_id) == {"train_loss": 0.4}


def test_metrics_of_one_run_do_not_leak_into_another(store):
    first, second = store.create("loan_exp1", {}), store.create("loan_exp1", {})
    store.log_metrics(first, 1, {"train_loss": 0.5})
    assert store.metrics(second).empty


@pytest.mark.parametrize("status", ["queued", "running", "finished", "bogus"])
def test_finish_rejects_a_status_that_is_not_final(store, status):
    run_id = store.create("loan_exp1", {})
    with pytest.raises(ValueError, match=status):
        store.finish(run_id, status)
    assert store.get(run_id).status == "queued"


@pytest.mark.parametrize("status", ["done", "failed", "cancelled", "interrupted"])
def test_finish_records_the_error_and_only_done_completes_progress(store, status):
    run_id = store.create("loan_exp1", {})
    store.start(run_id)
    store.set_progress(run_id, 0.3)
    store.finish(run_id, status, error=None if status == "done" else "why")
    run = store.get(run_id)
    assert run.status == status and run.finished
    assert run.progress == (1.0 if status == "done" else 0.3)
    assert run.error == (None if status == "done" else "why")


def test_request_cancel_only_for_queued_or_running_runs(store):
    queued = store.create("loan_exp1", {})
    running = store.create("loan_exp1", {})
    store.start(running)
    done = store.create("loan_exp1", {})
    store.finish(done, "done")

    assert not store.cancel_requested(queued)
    assert store.request_cancel(queued) and store.cancel_requested(queued)
    assert store.request_cancel(running) and store.cancel_requested(running)
    assert not store.request_cancel(done) and not store.cancel_requested(done)
    assert not store.request_cancel(12345)


def test_details_and_artifacts_merge(store):
    run_id = store.create("loan_exp1", {}, details={"swept_keys": ["lr"]})
    store.add_details(run_id, device="cpu", n_train=10)
    store.add_details(run_id, n_train=20)
    store.add_artifact(run_id, "model", Path("/x/model.pt"))
    store.add_artifact(run_id, "plot", "/x/plot.png")
    run = store.get(run_id)
    assert run.details == {"swept_keys": ["lr"], "device": "cpu", "n_train": 20}
    assert run.artifacts == {"model": "/x/model.pt", "plot": "/x/plot.png"}


def test_get_unknown_run_raises_key_error_without_the_stores_path(store):
    with pytest.raises(KeyError) as error:
        store.get(99)
    assert error.value.args[0] == "no run with id 99"


def test_a_run_records_its_owner_and_the_owners_runs_can_be_listed(store):
    alice, bob = Visitor("anon:a", "visitor a"), Visitor("anon:b", "visitor b")
    mine = store.create("loan_exp1", {}, owner=alice)
    theirs = store.create("loan_exp1", {}, owner=bob)
    local = store.create("loan_exp1", {})
    run = store.get(mine)
    assert (run.owner, run.owner_name, run.name, run.shared) == ("anon:a", "visitor a", "", False)
    assert (store.get(local).owner, store.get(local).owner_name) == ("local", "this computer")

    def ids(owners):
        return [run.id for run in store.list(owners=owners)]

    assert ids(None) == [local, theirs, mine]
    assert ids({"anon:a", "reference"}) == [mine]
    assert ids(["anon:b", "local"]) == [local, theirs]
    assert ids([]) == []
    assert ids(["nobody"]) == []


def test_active_count_counts_an_owners_queued_and_running_runs(store):
    runs = [store.create("loan_exp1", {}, owner=Visitor("anon:a", "a")) for _ in range(4)]
    store.create("loan_exp1", {}, owner=Visitor("anon:b", "b"))
    store.start(runs[0])
    store.finish(runs[1], "done")
    store.finish(runs[2], "cancelled")
    assert store.active_count("anon:a") == 2
    assert store.active_count("anon:b") == 1
    assert store.active_count("nobody") == 0


def test_rename_and_share_a_run(store):
    run_id = store.create("loan_exp1", {})
    store.rename(run_id, "  wide\n net ")
    store.set_shared(run_id, True)
    assert (store.get(run_id).name, store.get(run_id).shared) == ("wide net", True)
    store.set_shared(run_id, False)
    assert store.get(run_id).shared is False
    with pytest.raises(ValueError, match="at most 80 characters"):
        store.rename(run_id, "x" * 81)
    for change in (lambda: store.rename(99, "x"), lambda: store.set_shared(99, True)):
        with pytest.raises(KeyError, match="no run with id 99"):
            change()


def test_delete_removes_a_finished_run_its_metrics_and_files_but_not_an_active_one(store):
    done, other = store.create("loan_exp1", {}), store.create("loan_exp1", {})
    for run_id in (done, other):
        store.log_metrics(run_id, 1, {"train_loss": 0.5})
        (store.run_dir(run_id) / "model.pt").write_bytes(b"weights")
        store.finish(run_id, "done")
    running = store.create("loan_exp1", {})
    store.start(running)

    store.delete(done)
    with pytest.raises(KeyError, match=f"no run with id {done}"):
        store.get(done)
    assert store.metrics(done).empty
    assert not (store.path.with_suffix("") / str(done)).exists()
    assert store.final_metrics(other) == {"train_loss": 0.5}  # the others are untouched
    assert (store.run_dir(other) / "model.pt").is_file()
    with pytest.raises(ValueError, match=f"run {running} is running: cancel it first"):
        store.delete(running)
    assert store.get(running).status == "running"
    with pytest.raises(KeyError, match="no run with id 99"):
        store.delete(99)


def test_list_filters_newest_first(store):
    a = store.create("loan_exp1", {}, sweep_id="s1")
    b = store.create("loan_exp2", {})
    c = store.create("loan_exp1", {}, sweep_id="s1")
    d = store.create("loan_exp1", {})
    store.finish(c, "done")
    store.finish(d, "done")

    def ids(**filters):
        return [run.id for run in store.list(**filters)]

    assert ids() == [d, c, b, a]
    assert ids(experiment="loan_exp1") == [d, c, a]
    assert ids(status="done") == [d, c]
    assert ids(sweep_id="s1") == [c, a]
    assert ids(experiment="loan_exp1", status="queued") == [a]
    assert ids(experiment="loan_exp2", sweep_id="s1") == []
    assert ids(limit=2) == [d, c]


def test_runs_persist_across_store_objects(store):
    run_id = store.create("loan_exp2", {"hidden": 128}, sweep_id="s")
    store.start(run_id)
    store.log_metrics(run_id, 1, {"val_roc_auc": 0.9})
    store.add_artifact(run_id, "model", "/m.pt")
    store.finish(run_id, "done")

    reopened = RunStore(store.path)
    run = reopened.get(run_id)
    assert (run.experiment, run.config, run.status, run.sweep_id, run.artifacts) == (
        "loan_exp2",
        {"hidden": 128},
        "done",
        "s",
        {"model": "/m.pt"},
    )
    assert reopened.final_metrics(run_id) == {"val_roc_auc": 0.9}
    assert reopened.create("loan_exp1", {}) == run_id + 1


def _create_runs_in_a_process_that_exits(db: Path) -> tuple[int, int]:
    """A queued and a running run owned by a child process that has exited since."""
    script = (
        "import sys; from core.runs.store import RunStore; s = RunStore(sys.argv[1]); "
        "q = s.create('loan_exp1', {}); r = s.create('loan_exp1', {}); s.start(r); print(q, r)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(db)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    queued, running = map(int, out.split())
    return queued, running


def test_recover_interrupted_only_touches_runs_of_dead_processes(store):
    dead_queued, dead_running = _create_runs_in_a_process_that_exits(store.path)
    live = store.create("loan_exp1", {})
    store.start(live)
    live_queued = store.create("loan_exp1", {})
    finished = store.create("loan_exp1", {})
    store.finish(finished, "failed", "earlier failure")

    assert sorted(store.recover_interrupted()) == [dead_queued, dead_running]
    for run_id in (dead_queued, dead_running):
        run = store.get(run_id)
        assert run.status == "interrupted" and "process" in run.error
    assert store.get(live).status == "running"
    assert store.get(live_queued).status == "queued"
    assert (store.get(finished).status, store.get(finished).error) == ("failed", "earlier failure")
    assert store.recover_interrupted() == []


def test_a_killed_cli_run_is_recovered_as_interrupted_with_its_epochs(store, tmp_path, wait_until):
    config = asdict(get_experiment("loan_exp1").make_config({"epochs": 1}))
    first = execute_run(store, store.create("loan_exp1", config))
    assert first.status == "done"
    first_metrics = store.metrics(first.id)

    def second_run_has_an_epoch() -> bool:
        assert cli.poll() is None, (tmp_path / "cli.stderr").read_text()
        runs = store.list(experiment="loan_exp2")
        return any(run.status == "running" and not store.metrics(run.id).empty for run in runs)

    command = [sys.executable, "-m", "core", "train", "loan_exp2", "--epochs", "1000"]
    with open(tmp_path / "cli.stderr", "w") as stderr:
        cli = subprocess.Popen(
            [*command, "--db", str(store.path)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        wait_until(second_run_has_an_epoch, "the CLI run to log its first epoch")
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()  # reap it: a zombie still counts as a live process
    second = store.list(experiment="loan_exp2")[0]
    epochs = store.metrics(second.id)["epoch"].tolist()
    assert store.get(second.id).status == "running"  # nobody has noticed yet

    reopened = RunStore(store.path)
    assert reopened.recover_interrupted() == [second.id]
    recovered = reopened.get(second.id)
    assert recovered.status == "interrupted" and recovered.owner_pid == cli.pid
    assert recovered.ended_at is not None
    assert epochs == list(range(1, len(epochs) + 1))
    assert reopened.metrics(second.id)["epoch"].tolist() == epochs
    assert {"train_loss", "val_roc_auc", "test_roc_auc"} <= set(reopened.final_metrics(second.id))
    assert reopened.get(first.id).status == "done"
    assert reopened.metrics(first.id).equals(first_metrics)


def test_tags_notes_and_archiving_are_checked_kept_and_filtered(store):
    first, second = store.create("loan_exp1", {}), store.create("loan_exp2", {})
    store.annotate(first, "baseline, small-lr", "lr 0.01 was too slow")
    store.annotate(second, ["baseline"], "")
    store.set_archived(second, True)
    assert [run.id for run in store.list(tag="baseline")] == [second, first]
    assert [run.id for run in store.list(tag="small-lr")] == [first]
    assert [run.id for run in store.list(tag="base")] == []  # a whole tag, not a substring
    assert [run.id for run in store.list(archived=False)] == [first]
    assert (store.get(first).note, store.get(second).archived) == ("lr 0.01 was too slow", True)
    refused = {
        "a/b": "a tag is one word",
        ",".join(f"t{i}" for i in range(11)): "at most 10 tags",
        "x" * 31: "a tag is one word of at most 30",
        "drop');--": "a tag is one word",
    }
    for tags, message in refused.items():
        with pytest.raises(ValueError, match=message):
            store.annotate(first, tags, "")
    with pytest.raises(ValueError, match="note is at most 2,000"):
        store.annotate(first, "ok", "n" * 2001)
    assert store.get(first).tags == ["baseline", "small-lr"]  # nothing written by a refusal
