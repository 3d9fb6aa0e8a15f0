"""The run store: every run, its config, status, per-epoch metrics and artifacts, in SQLite.

One database file is shared by the app and the command line (WAL mode, a connection per call),
so a run started from either shows up in both. Each run belongs to a visitor (`owner`, a
`core.sharing.visitors.Visitor.key`; `core.runs.access` says who may do what with it) and is looked
after by a process: the one that queued it, then the one that trains it. When that process is
gone, `recover_interrupted` marks the run `interrupted`. A process is recorded by its identity
(boot id, PID and start time), not its PID alone: in a container the app is PID 1 after every
restart, so a bare PID would look "alive again".
Cancellation is a flag in the database, so the UI can stop a run that the CLI started.

Opening a damaged file (a disk error, a bad copy) does not stop the app: the file is moved aside
beside the original, a warning names it, and a fresh store starts (`RunStore.recovered_from`).
"""

import json
import logging
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.sharing.visitors import LOCAL, Visitor

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
    process TEXT,
    owner TEXT NOT NULL DEFAULT 'local',
    owner_name TEXT NOT NULL DEFAULT 'this computer',
    name TEXT NOT NULL DEFAULT '',
    shared INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    note TEXT NOT NULL DEFAULT '',
    archived INTEGER NOT NULL DEFAULT 0,
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
"""
# Columns added since the first version: a store made by it gets them at open.
_ADDED_COLUMNS = {
    "process": "TEXT",
    "owner": "TEXT NOT NULL DEFAULT 'local'",
    "owner_name": "TEXT NOT NULL DEFAULT 'this computer'",
    "name": "TEXT NOT NULL DEFAULT ''",
    "shared": "INTEGER NOT NULL DEFAULT 0",
    "tags": "TEXT NOT NULL DEFAULT '[]'",
    "note": "TEXT NOT NULL DEFAULT ''",
    "archived": "INTEGER NOT NULL DEFAULT 0",
}
_INDEXES = """
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep_id);
CREATE INDEX IF NOT EXISTS runs_by_owner ON runs(owner, status);
"""
MAX_NAME_CHARS = 80  # a run's label, shown in tables and pickers
MAX_TAGS, MAX_TAG_CHARS = 10, 30  # a run's tags: short words to filter by
MAX_NOTE_CHARS = 2000  # a run's note: what its owner wants to remember about it
_TAG = re.compile(r"^[\w.+-]+$")  # letters, digits, _ . + -: a tag is one word
_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_COMPANIONS = ("-wal", "-shm", "-journal")  # SQLite's files beside the database

log = logging.getLogger(__name__)


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
    owner: str = "local"  # the Visitor.key of who launched it
    owner_name: str = "this computer"  # what other visitors see of the owner
    name: str = ""  # the owner's label for it
    shared: bool = False  # others may use its trained model
    tags: list[str] = field(default_factory=list)  # the owner's words to filter it by
    note: str = ""  # the owner's note about it
    archived: bool = False  # hidden from the runs table unless archived runs are asked for
    process: str | None = None  # identity of the process looking after it (process_identity)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def trained_image_classifier(self) -> bool:
        """A finished run that kept an image classifier (its best checkpoint and input spec):
        the Classifier tab can serve it."""
        return (
            self.status == "done"
            and "best_checkpoint" in self.artifacts
            and "input_spec" in self.details
        )

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


class RunStoreFullError(OSError):
    """The disk holding the run store has no room left; runs already stored are intact."""


class _Damaged(Exception):
    """The store's file is not a readable SQLite database of runs."""


def _boot_id() -> str | None:
    """This boot of the machine's kernel (changes on every reboot); None without /proc."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _start_ticks(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (field 22 of /proc/PID/stat);
    None when there is no such process, it is a zombie, or there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "PID (command) "; a name may hold ")"
    state, ticks = fields[0], fields[19]  # fields 3 and 22
    return None if state == "Z" else ticks


def process_identity(pid: int | None = None) -> str:
    """The identity `BOOT_ID:PID:START_TICKS` of a process (default: this one), which no other
    process has now or after a reboot; just `PID` where /proc is missing."""
    pid = os.getpid() if pid is None else pid
    boot, ticks = _boot_id(), _start_ticks(pid)
    if boot is None or ticks is None:
        return str(pid)
    return f"{boot}:{pid}:{ticks}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _process_alive(identity: str | None) -> bool:
    """Whether the process `identity` names still runs: the same PID, started at the same tick
    of the same boot (a reused PID, or the same PID after a reboot or a container restart, is
    another process). A run recorded without an identity (by an older version) has no process."""
    parts = (identity or "").split(":")
    if len(parts) == 3:
        boot, pid, ticks = parts
        return pid.isdigit() and boot == _boot_id() and _start_ticks(int(pid)) == ticks
    return len(parts) == 1 and parts[0].isdigit() and _pid_alive(int(parts[0]))


def _damage_aside(path: Path) -> Path:
    """Move a damaged store, its SQLite companions and its runs folder aside, in the same
    folder, as `<stem>.damaged-<time><suffix>`; returns the moved database's new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = f"{path.stem}.damaged-{stamp}"
    count = 1
    while path.with_name(stem + path.suffix).exists():  # damaged twice in one second
        count += 1
        stem = f"{path.stem}.damaged-{stamp}-{count}"
    moved = path.with_name(stem + path.suffix)
    path.rename(moved)
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(moved.with_name(moved.name + suffix))
    runs_folder = path.with_suffix("")
    if runs_folder.is_dir():  # new runs start again at id 1: keep their files apart
        runs_folder.rename(path.with_name(stem))
    return moved


class RunStore:
    """All runs in one SQLite file. Safe to use from several threads and processes.

    Opening checks the file (`PRAGMA quick_check`, the schema readable); a damaged one is moved
    aside and a fresh store starts, `recovered_from` naming the moved file (None normally).
    `check=False` skips that: for a worker process, which must never move the store of the
    app that started it. A store made by an older version gains the newer columns at open.
    """

    def __init__(self, path: str | Path, check: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.recovered_from: Path | None = None
        try:
            self._open(check)
        except _Damaged as damage:
            self.recovered_from = _damage_aside(self.path)
            log.warning(
                "the run store was damaged (%s): moved it aside to %s and started a new one",
                damage,
                self.recovered_from,
            )
            self._open(check)

    def _open(self, check: bool) -> None:
        """Check (when asked), create or migrate the schema, and hold the keeper connection;
        `_Damaged` when checking and the file is not a readable store."""
        try:
            if check:
                self._quick_check()
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                self._add_missing_columns(db)
                db.executescript(_INDEXES)
            # An idle connection held for the store's lifetime keeps SQLite's shared-memory file
            # (-shm) in place. Without it, every new connection recreates that file, which fails
            # on a full disk, and then even reading the finished runs would fail.
            self._keeper = sqlite3.connect(self.path, check_same_thread=False)
            try:
                self._keeper.execute("SELECT count(*) FROM runs").fetchall()  # maps the -shm
            except sqlite3.DatabaseError:
                self._keeper.close()
                raise
        except sqlite3.DatabaseError as error:
            if not check or isinstance(error, sqlite3.OperationalError):  # locked, full disk
                raise
            if getattr(error, "sqlite_errorcode", 0) & 0xFF not in _DAMAGE_CODES:
                raise
            raise _Damaged(str(error)) from error

    def _quick_check(self) -> None:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise _Damaged(f"quick_check: {problems[0]}")

    @staticmethod
    def _add_missing_columns(db: sqlite3.Connection) -> None:
        """Migrate a store made by an older version (a no-op, without locking, for a new one)."""

        def missing() -> list[str]:
            present = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
            return [column for column in _ADDED_COLUMNS if column not in present]

        if not missing():
            return
        db.execute("BEGIN IMMEDIATE")  # two processes opening an old store add each column once
        for column in missing():
            db.execute(f"ALTER TABLE runs ADD COLUMN {column} {_ADDED_COLUMNS[column]}")
        db.commit()

    def close(self) -> None:
        """Let go of the file (the keeper connection); the store is unusable afterwards."""
        self._keeper.close()

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
                    "the disk holding the run store is full, so nothing new can be recorded: "
                    "free some space (or set DLSTUDIO_DATA to a larger disk). The runs already "
                    "stored are kept."
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
        owner: Visitor = LOCAL,
    ) -> int:
        """Add a queued run of `owner`, looked after by this process; returns its id."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO runs (experiment, config, status, sweep_id, owner_pid, process,"
                " owner, owner_name, created_at, details)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (
                    experiment,
                    json.dumps(config),
                    sweep_id,
                    os.getpid(),
                    process_identity(),
                    owner.key,
                    owner.name,
                    time.time(),
                    json.dumps(details or {}),
                ),
            )
            return int(cursor.lastrowid)

    def insert_finished(self, record: dict[str, Any], metrics: pd.DataFrame) -> int:
        """Add a finished run as it was recorded elsewhere (a shipped reference run): its
        columns from `record` (experiment, config, status, owner, ... as `Run` names them) and
        its per-epoch `metrics` (an `epoch` column, one column per metric), in one transaction.
        """
        columns = {
            "experiment": record["experiment"],
            "config": json.dumps(record["config"]),
            "status": record["status"],
            "sweep_id": record.get("sweep_id"),
            "owner": record["owner"],
            "owner_name": record["owner_name"],
            "name": record.get("name", ""),
            "shared": int(bool(record.get("shared", False))),
            "tags": json.dumps(parse_tags(record.get("tags", []))),
            "note": record.get("note", ""),
            "created_at": record["created_at"],
            "started_at": record.get("started_at"),
            "ended_at": record.get("ended_at"),
            "progress": 1.0 if record["status"] == "done" else record.get("progress", 0.0),
            "message": record.get("message", ""),
            "error": record.get("error"),
            "details": json.dumps(record.get("details", {})),
            "artifacts": json.dumps(record.get("artifacts", {})),
        }
        if columns["status"] not in FINISHED:
            raise ValueError(f"only a finished run can be inserted, not a {record['status']} one")
        values = [
            (int(row["epoch"]), str(name), float(value))
            for row in metrics.to_dict("records")
            for name, value in row.items()
            if name != "epoch" and pd.notna(value)
        ]
        with self._connect() as db:
            cursor = db.execute(
                f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                tuple(columns.values()),
            )
            run_id = int(cursor.lastrowid)
            db.executemany(
                "INSERT INTO metrics (run_id, epoch, name, value) VALUES (?, ?, ?, ?)",
                [(run_id, *value) for value in values],
            )
        return run_id

    def start(self, run_id: int) -> None:
        """Mark a run running in this process."""
        self._update(
            run_id,
            status="running",
            owner_pid=os.getpid(),
            process=process_identity(),
            started_at=time.time(),
        )

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
        """Mark `interrupted` every queued or running run whose process is gone.

        Called at app start: a run that was training when the app was killed is not lost, it
        keeps its metrics so far and says it was interrupted. Runs of live processes (a CLI run
        going on beside the app) are left alone; a process counts as live only with the same
        PID, start time and boot (see `_process_alive`).
        """
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, process FROM runs WHERE status IN ('queued', 'running')"
            ).fetchall()
        orphans = [row["id"] for row in rows if not _process_alive(row["process"])]
        for run_id in orphans:
            self.finish(run_id, "interrupted", "the process running it stopped before it finished")
        return orphans

    def rename(self, run_id: int, name: str) -> None:
        """Give a run a label (blank clears it); whitespace runs collapse to single spaces."""
        name = " ".join(str(name).split())
        if len(name) > MAX_NAME_CHARS:
            raise ValueError(f"a run's name is at most {MAX_NAME_CHARS} characters")
        self._update_existing(run_id, name=name)

    def annotate(self, run_id: int, tags: str | list[str], note: str) -> None:
        """Replace a run's tags (`parse_tags` checks them; order kept, duplicates dropped) and
        its note (at most MAX_NOTE_CHARS characters; blank clears it). Both are checked before
        either is written."""
        tags, note = parse_tags(tags), str(note or "").strip()
        if len(note) > MAX_NOTE_CHARS:
            raise ValueError(f"a run's note is at most {MAX_NOTE_CHARS:,} characters")
        self._update_existing(run_id, tags=json.dumps(tags), note=note)

    def set_archived(self, run_id: int, archived: bool) -> None:
        """Archive a run (the runs table hides it unless asked) or bring it back."""
        self._update_existing(run_id, archived=int(bool(archived)))

    def set_shared(self, run_id: int, shared: bool) -> None:
        """Let everyone use a run's trained model (True), or only its owner again (False)."""
        self._update_existing(run_id, shared=int(bool(shared)))

    def delete(self, run_id: int) -> None:
        """Remove a finished run: its row, its metrics and its run folder.

        A queued or running run is refused (ValueError): cancel it first, so no process is left
        writing to a run that no longer exists.
        """
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the status checked is the status deleted
            row = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run with id {run_id}")
            if row["status"] not in FINISHED:
                raise ValueError(f"run {run_id} is {row['status']}: cancel it first")
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.path.with_suffix("") / str(run_id), ignore_errors=True)

    def _update(self, run_id: int, **fields: Any) -> int:
        """Set columns of one run; returns how many rows changed (0: no such run)."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._connect() as db:
            cursor = db.execute(
                f"UPDATE runs SET {assignments} WHERE id = ?", (*fields.values(), run_id)
            )
            return cursor.rowcount

    def _update_existing(self, run_id: int, **fields: Any) -> None:
        if not self._update(run_id, **fields):
            raise KeyError(f"no run with id {run_id}")

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
            raise KeyError(f"no run with id {run_id}")
        return _row_to_run(row)

    def list(
        self,
        experiment: str | None = None,
        status: str | None = None,
        sweep_id: str | None = None,
        limit: int = 500,
        owners: Collection[str] | None = None,
        tag: str | None = None,
        archived: bool | None = None,
    ) -> list[Run]:
        """Runs, newest first, optionally filtered; `owners` keeps the runs of those owner keys
        (None: everyone's), `tag` those with that tag, `archived` those (not) archived (None:
        both)."""
        clauses: list[str] = []
        params: list[Any] = []
        if tag:
            clauses.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)")
            params.append(tag)
        if archived is not None:
            clauses.append("archived = ?")
            params.append(int(archived))
        for column, value in (
            ("experiment", experiment),
            ("status", status),
            ("sweep_id", sweep_id),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if owners is not None:
            owners = list(owners)
            clauses.append(f"owner IN ({', '.join('?' * len(owners))})" if owners else "0")
            params.extend(owners)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [_row_to_run(row) for row in rows]

    def active_count(self, owner_key: str | None = None) -> int:
        """How many runs of this owner (None: of everyone) are queued or running."""
        where, params = ("owner = ? AND ", (owner_key,)) if owner_key is not None else ("", ())
        with self._connect() as db:
            row = db.execute(
                f"SELECT count(*) FROM runs WHERE {where}status IN ('queued', 'running')", params
            ).fetchone()
        return int(row[0])

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
    values["shared"] = bool(values["shared"])
    values["archived"] = bool(values["archived"])
    values["tags"] = json.loads(values["tags"])
    return Run(**values)


def parse_tags(tags: str | list[str]) -> list[str]:
    """Tags from a list or from text ("baseline, lr-sweep"): each one word of letters, digits,
    _ . + -, at most MAX_TAG_CHARS characters, at most MAX_TAGS of them; ValueError otherwise."""
    words = tags.replace(",", " ").split() if isinstance(tags, str) else [str(t) for t in tags]
    words = list(dict.fromkeys(word.strip() for word in words if word.strip()))
    if len(words) > MAX_TAGS:
        raise ValueError(f"a run has at most {MAX_TAGS} tags, not {len(words)}")
    for word in words:
        if len(word) > MAX_TAG_CHARS or not _TAG.match(word):
            raise ValueError(
                f"a tag is one word of at most {MAX_TAG_CHARS} letters, digits, _ . + or -: "
                f"{word[:MAX_TAG_CHARS]!r} is not"
            )
    return words
