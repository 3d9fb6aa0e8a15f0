"""The run store survives what a host's disk and restarts do to it: a damaged file, a file made by
the previous version, and PIDs that come back belonging to another process."""

import logging
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.runs.store import RunStore, process_identity

# The schema of the first version of the store, before runs had owners, names and process
# identities: a store that version made must open and keep its runs.
OLD_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    experiment TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    sweep_id TEXT,
    owner_pid INTEGER,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    artifacts TEXT NOT NULL DEFAULT '{}',
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, epoch, name)
);
CREATE INDEX runs_by_experiment ON runs(experiment);
CREATE INDEX runs_by_sweep ON runs(sweep_id);
"""


def filled_store(path) -> RunStore:
    """A closed store with enough runs and metrics to span many pages, one run with files."""
    store = RunStore(path)
    for number in range(150):
        run_id = store.create("loan_exp1", {"lr": number, "note": "x" * 200})
        store.log_metrics(run_id, 1, {"train_loss": 0.5, "val_roc_auc": 0.7})
        store.finish(run_id, "done")
    (store.run_dir(1) / "model.pt").write_bytes(b"weights of the old run 1")
    store.close()
    return store


def damage_last_page(path) -> None:
    data = bytearray(path.read_bytes())
    data[-4096:] = os.urandom(4096)
    path.write_bytes(bytes(data))


def truncate_mid_page(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1000])


def garble_header(path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"not sqlite, sorry"[:16]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [damage_last_page, truncate_mid_page, garble_header])
def test_a_damaged_store_is_moved_aside_and_a_fresh_one_starts(tmp_path, caplog, damage):
    path = tmp_path / "runs.sqlite"
    filled_store(path)
    damage(path)
    damaged_bytes = path.read_bytes()

    with caplog.at_level(logging.WARNING, logger="core.runs.store"):
        store = RunStore(path)

    moved = store.recovered_from
    assert moved is not None and moved.parent == tmp_path
    assert moved.name.startswith("runs.damaged-") and moved.suffix == ".sqlite"
    assert moved.read_bytes() == damaged_bytes  # kept as it was, for whoever wants to salvage it
    assert moved.name in caplog.text and "damaged" in caplog.text
    # The old runs' files went aside with it, so the new run 1 does not mix with the old one's.
    assert (tmp_path / moved.stem / "1" / "model.pt").read_bytes() == b"weights of the old run 1"
    assert store.list() == []
    run_id = store.create("loan_exp1", {"lr": 0.1})
    store.log_metrics(run_id, 1, {"train_loss": 0.4})
    assert (run_id, store.final_metrics(run_id)) == (1, {"train_loss": 0.4})
    assert not (store.run_dir(run_id) / "model.pt").exists()
    assert RunStore(path).recovered_from is None  # the fresh store is healthy


def test_a_healthy_store_is_not_moved(tmp_path):
    path = tmp_path / "runs.sqlite"
    filled_store(path)
    store = RunStore(path)
    assert store.recovered_from is None
    assert len(store.list()) == 150
    assert not [p.name for p in tmp_path.iterdir() if "damaged" in p.name]


def test_a_store_made_by_the_previous_version_opens_and_keeps_its_runs(tmp_path):
    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO runs (experiment, config, status, owner_pid, created_at, started_at,"
            " ended_at, progress) VALUES ('loan_exp2', '{\"hidden\": 64}', 'done', 1, 1.0, 2.0,"
            " 9.0, 1.0)"
        )
        db.execute("INSERT INTO metrics VALUES (1, 1, 'val_roc_auc', 0.8)")
        db.execute(
            "INSERT INTO runs (experiment, config, status, owner_pid, created_at)"
            f" VALUES ('loan_exp1', '{{}}', 'running', {os.getpid()}, 3.0)"
        )
    db.close()

    store = RunStore(path)
    assert store.recovered_from is None
    old = store.get(1)
    assert (old.experiment, old.config, old.status, old.duration_s) == (
        "loan_exp2",
        {"hidden": 64},
        "done",
        7.0,
    )
    defaults = ("local", "this computer", "", False)
    assert (old.owner, old.owner_name, old.name, old.shared) == defaults
    assert store.final_metrics(1) == {"val_roc_auc": 0.8}
    # A run the previous version left running has no process identity: nothing looks after it,
    # even though the PID it recorded (this test's) is alive.
    assert store.recover_interrupted() == [2]
    new = store.create("loan_exp1", {})
    store.rename(new, "after the upgrade")
    assert (new, store.get(new).name) == (3, "after the upgrade")
    assert RunStore(path).get(1).status == "done"  # opening again migrates nothing twice


# --- process identities: a PID alone is not a process ------------------------------------------


def record_process(store: RunStore, run_id: int, identity: str) -> None:
    """Say that the process `identity` looks after the run (as its `start` would record)."""
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE runs SET process = ? WHERE id = ?", (identity, run_id))
    db.close()


@pytest.fixture
def child():
    """A live child process of this test."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def test_a_process_identity_names_boot_pid_and_start_time(child):
    boot, pid, ticks = process_identity(child.pid).split(":")
    assert pid == str(child.pid) and ticks.isdigit()
    assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert process_identity() == process_identity(os.getpid()) != process_identity(child.pid)


def test_a_run_of_a_live_process_is_left_alone(store, child):
    queued, running = store.create("loan_exp1", {}), store.create("loan_exp1", {})
    store.start(running)
    for run_id in (queued, running):
        record_process(store, run_id, process_identity(child.pid))
    assert store.recover_interrupted() == []
    assert [store.get(run_id).status for run_id in (queued, running)] == ["queued", "running"]


def test_a_reused_pid_or_another_boot_counts_as_gone(store, child):
    """In a container the app is PID 1 after every restart: the PID is alive, but it is another
    process (another start time), so the runs of the process before the restart are over."""
    boot, pid, ticks = process_identity(child.pid).split(":")
    _, me, my_ticks = process_identity().split(":")
    identities = {
        "the child's PID, started at another time": f"{boot}:{pid}:{int(ticks) + 1}",
        "this process's PID, started earlier": f"{boot}:{me}:{int(my_ticks) - 1}",
        "the child's PID and start time, another boot": f"{uuid.uuid4()}:{pid}:{ticks}",
    }
    runs = {}
    for what, identity in identities.items():
        runs[what] = store.create("loan_exp1", {})
        store.start(runs[what])
        record_process(store, runs[what], identity)
    alive = store.create("loan_exp1", {})  # this process's own run, its exact identity

    assert sorted(store.recover_interrupted()) == sorted(runs.values())
    for what, run_id in runs.items():
        assert store.get(run_id).status == "interrupted", what
    assert store.get(alive).status == "queued"


def test_a_zombie_counts_as_gone(store, wait_until):
    """A process that exited but was not reaped yet keeps its PID and start time."""
    script = "import sys; sys.stdin.read()"  # lives until its input closes
    zombie = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
    run_id = store.create("loan_exp1", {})
    record_process(store, run_id, process_identity(zombie.pid))
    zombie.stdin.close()

    def state() -> str:
        return Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    wait_until(lambda: state() == "Z", "the child to exit")
    try:
        assert store.recover_interrupted() == [run_id]
    finally:
        zombie.wait()


def test_a_worker_process_never_moves_the_apps_store(tmp_path):
    """`check=False` (the worker's open) refuses a damaged file instead of setting it aside."""
    path = tmp_path / "runs.sqlite"
    filled_store(path)
    garble_header(path)
    with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        RunStore(path, check=False)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".sqlite"] == ["runs.sqlite"]
