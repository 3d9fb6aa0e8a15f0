"""The run store: every run, its config, status, per-epoch metrics and artifacts, in SQLite.

One database file is shared by the app and the command line (WAL mode, a connection per call),
so a run started from either shows up in both. A run is owned by the process that created or
executes it; when that process dies, `recover_interrupted` marks its unfinished runs `interrupted`.
Cancellation is a flag in the database, so the UI can stop a run that the CLI started.
"""

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
FINISHED = frozenset({"done", "failed", "cancelled", "interrupted"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
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
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, epoch, name)
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep_id);
"""


@dataclass
class Run:
    """One row of the run store."""

    id: int
    experiment: str
    config: dict[str, Any]
    status: str
    sweep_id: str | None
    owner_pid: int | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    progress: float
    message: str
    error: str | None
    details: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


class RunStoreFullError(OSError):
    """The disk holding the run store has no room left; runs already stored are intact."""


def _process_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunStore:
    """All runs in one SQLite file. Safe to use from several threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        # An idle connection held for the store's lifetime keeps SQLite's shared-memory file
        # (-shm) in place. Without it, every new connection recreates that file, which fails on
        # a full disk, and then even reading the finished runs would fail.
        self._keeper = sqlite3.connect(self.path, check_same_thread=False)
        self._keeper.execute("SELECT count(*) FROM runs").fetchall()  # maps the -shm file

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        try:
            with db:  # commits, or rolls back on error
                yield db
        except sqlite3.OperationalError as error:
            if self._disk_full(error):
                raise RunStoreFullError(
                    f"the disk holding the run store {self.path} is full, so nothing new can be "
                    "recorded: free some space (or set DLSTUDIO_DATA to a larger disk). The runs "
                    "already stored are kept."
                ) from error
            raise
        finally:
            db.close()

    def _disk_full(self, error: sqlite3.OperationalError) -> bool:
        """SQLite's "database or disk is full", or an I/O error on a disk with no room left."""
        code = error.sqlite_errorcode & 0xFF  # the primary code of any extended one
        if code == sqlite3.SQLITE_FULL:
            return True
        return code == sqlite3.SQLITE_IOERR and shutil.disk_usage(self.path.parent).free < 2**20

    def run_dir(self, run_id: int) -> Path:
        """A folder for one run's files (checkpoints, predictions) beside the store's file.

        `runs.sqlite` keeps them in `runs/<run id>/`, so two stores never share a folder.
        """
        path = self.path.with_suffix("") / str(run_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- writing -------------------------------------------------------------------------------

    def create(
        self,
        experiment: str,
        config: dict[str, Any],
        sweep_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Add a queued run owned by this process; returns its id."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO runs (experiment, config, status, sweep_id, owner_pid, created_at,"
                " details) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                (
                    experiment,
                    json.dumps(config),
                    sweep_id,
                    os.getpid(),
                    time.time(),
                    json.dumps(details or {}),
                ),
            )
            return int(cursor.lastrowid)

    def start(self, run_id: int) -> None:
        """Mark a run running in this process."""
        self._update(run_id, status="running", owner_pid=os.getpid(), started_at=time.time())

    def set_progress(self, run_id: int, fraction: float, message: str = "") -> None:
        self._update(run_id, progress=min(max(fraction, 0.0), 1.0), message=message)

    def log_metrics(self, run_id: int, epoch: int, metrics: dict[str, float]) -> None:
        """Record one epoch's metrics (a later call for the same epoch and name overwrites)."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO metrics (run_id, epoch, name, value) VALUES (?, ?, ?, ?)",
                [(run_id, epoch, name, float(value)) for name, value in metrics.items()],
            )

    def add_details(self, run_id: int, **details: Any) -> None:
        """Merge facts about a run (device, data set sizes, chosen values) into its details."""
        self._merge_json(run_id, "details", details)

    def add_artifact(self, run_id: int, name: str, path: str | Path) -> None:
        self._merge_json(run_id, "artifacts", {name: str(path)})

    def finish(self, run_id: int, status: str, error: str | None = None) -> None:
        if status not in FINISHED:
            raise ValueError(f"a run can finish as one of {sorted(FINISHED)}, not {status!r}")
        fields = {"status": status, "ended_at": time.time(), "error": error}
        if status == "done":
            fields["progress"] = 1.0
        self._update(run_id, **fields)

    def request_cancel(self, run_id: int) -> bool:
        """Ask a queued or running run to stop; returns False if it had already finished."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE runs SET cancel_requested = 1"
                " WHERE id = ? AND status IN ('queued', 'running')",
                (run_id,),
            )
            return cursor.rowcount > 0

    def cancel_requested(self, run_id: int) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def recover_interrupted(self) -> list[int]:
        """Mark `interrupted` every queued or running run whose owning process is gone.

        Called at app start: a run that was training when the app was killed is not lost, it
        keeps its metrics so far and says it was interrupted. Runs of live processes (a CLI run
        going on beside the app) are left alone.
        """
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, owner_pid FROM runs WHERE status IN ('queued', 'running')"
            ).fetchall()
        orphans = [row["id"] for row in rows if not _process_alive(row["owner_pid"])]
        for run_id in orphans:
            self.finish(run_id, "interrupted", "the process running it stopped before it finished")
        return orphans

    def _update(self, run_id: int, **fields: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._connect() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))

    def _merge_json(self, run_id: int, column: str, values: dict[str, Any]) -> None:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # read-modify-write: hold the write lock throughout
            row = db.execute(f"SELECT {column} FROM runs WHERE id = ?", (run_id,)).fetchone()
            merged = {**json.loads(row[column]), **values}
            db.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (json.dumps(merged), run_id))

    # -- reading -------------------------------------------------------------------------------

    def get(self, run_id: int) -> Run:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run with id {run_id} in {self.path}")
        return _row_to_run(row)

    def list(
        self,
        experiment: str | None = None,
        status: str | None = None,
        sweep_id: str | None = None,
        limit: int = 500,
    ) -> list[Run]:
        """Runs, newest first, optionally filtered."""
        clauses, params = [], []
        for column, value in (
            ("experiment", experiment),
            ("status", status),
            ("sweep_id", sweep_id),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [_row_to_run(row) for row in rows]

    def metrics(self, run_id: int) -> pd.DataFrame:
        """Per-epoch metrics as a table: one row per epoch, one column per metric name."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT epoch, name, value FROM metrics WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
        if not rows:
            return pd.DataFrame({"epoch": pd.Series(dtype=int)})
        long = pd.DataFrame([dict(row) for row in rows])
        wide = long.pivot(index="epoch", columns="name", values="value").reset_index()
        wide.columns.name = None
        return wide

    def final_metrics(self, run_id: int) -> dict[str, float]:
        """The last logged epoch's metrics by name (empty before the first epoch)."""
        table = self.metrics(run_id)
        if table.empty:
            return {}
        last = table.iloc[-1].drop("epoch")
        return {name: float(value) for name, value in last.items() if pd.notna(value)}


def _row_to_run(row: sqlite3.Row) -> Run:
    values = dict(row)
    values.pop("cancel_requested")
    for column in ("config", "details", "artifacts"):
        values[column] = json.loads(values[column])
    return Run(**values)
