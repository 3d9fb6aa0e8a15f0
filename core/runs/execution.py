"""Running one stored run: the logger an experiment reports through, and the status bookkeeping.

`execute_run` is the single place where a run goes from queued to running to a final status:
`done`, `cancelled` (the cancel flag was seen), or `failed` with the traceback. The background
worker (`core.runs.jobs`) calls it; `execute_with_progress_bar` wraps it for a terminal (the
`dlstudio train` command and the report writers, which train their runs in the foreground) and
returns `run_summary`, the JSON contract of a finished run.
"""

import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.experiments import get_experiment
from core.runs.store import Run, RunStore

ProgressCallback = Callable[[float, str], None]
EpochCallback = Callable[[int, dict[str, float]], None]  # may raise RunCancelled to stop


class RunCancelled(Exception):
    """Raised inside a training loop when the user asked the run to stop."""


class RunLogger:
    """What an experiment's `train` function reports through.

    Progress writes are throttled (the store is a file); every call may raise `RunCancelled`.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: int,
        on_progress: ProgressCallback | None = None,
        min_interval_s: float = 0.5,
        on_epoch: EpochCallback | None = None,
    ):
        self.store = store
        self.run_id = run_id
        self._on_progress = on_progress
        self._on_epoch = on_epoch
        self._min_interval_s = min_interval_s
        self._last_write = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the run is (0..1); checks for cancellation at most twice a second."""
        if self._on_progress:
            self._on_progress(fraction, message)
        now = time.monotonic()
        if now - self._last_write >= self._min_interval_s:
            self._last_write = now
            self.store.set_progress(self.run_id, fraction, message)
            self._check_cancel()

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """Store one epoch's metrics; `on_epoch` (a search's pruner) may stop the run here."""
        self.store.log_metrics(self.run_id, epoch, metrics)
        self._check_cancel()
        if self._on_epoch:
            self._on_epoch(epoch, metrics)

    def details(self, **facts: object) -> None:
        self.store.add_details(self.run_id, **facts)

    @property
    def run_dir(self) -> Path:
        """Where this run writes its files."""
        return self.store.run_dir(self.run_id)

    def artifact(self, name: str, path: str | Path) -> None:
        self.store.add_artifact(self.run_id, name, path)

    def _check_cancel(self) -> None:
        if self.store.cancel_requested(self.run_id):
            raise RunCancelled()


class FollowerLogger:
    """The logger of a data-parallel process other than the first: it trains in step with
    the first, which alone reports to the store, so it records nothing and keeps its files in
    a folder of its own that is removed afterwards."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        pass

    def details(self, **facts: object) -> None:
        pass

    def artifact(self, name: str, path: str | Path) -> None:
        pass


def follow_run(store: RunStore, run_id: int) -> None:
    """Train the stored run as a data-parallel follower (a process of rank 1 and up)."""
    run = store.get(run_id)
    experiment = get_experiment(run.experiment)
    with tempfile.TemporaryDirectory(prefix=f"run-{run_id}-follower-") as folder:
        experiment.train(experiment.make_config(run.config), FollowerLogger(Path(folder)))


def execute_run(
    store: RunStore,
    run_id: int,
    on_progress: ProgressCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> Run:
    """Train the stored run `run_id` in this process and record how it ended."""
    run = store.get(run_id)
    if store.cancel_requested(run_id):
        store.finish(run_id, "cancelled", "cancelled before it started")
        return store.get(run_id)
    store.start(run_id)
    try:
        experiment = get_experiment(run.experiment)
        logger = RunLogger(store, run_id, on_progress, on_epoch=on_epoch)
        experiment.train(experiment.make_config(run.config), logger)
    except RunCancelled as stop:
        store.finish(run_id, "cancelled", str(stop) or "cancelled by the user")
    except FloatingPointError:  # the loss became inf or nan: a search learns from it
        store.add_details(run_id, diverged=True)
        store.finish(run_id, "failed", traceback.format_exc())
    except Exception:
        store.finish(run_id, "failed", traceback.format_exc())
    else:
        store.finish(run_id, "done")
    return store.get(run_id)


def run_summary(store: RunStore, run_id: int) -> dict[str, Any]:
    """The JSON contract of one run: run_id, status, experiment, config, final, details, error."""
    run = store.get(run_id)
    return {
        "run_id": run.id,
        "status": run.status,
        "experiment": run.experiment,
        "config": run.config,
        "final": store.final_metrics(run.id),
        "details": run.details,
        "duration_s": run.duration_s,
        "error": run.error,
    }


def execute_with_progress_bar(store: RunStore, run_id: int, label: str) -> dict[str, Any]:
    """`execute_run` with a progress bar on stderr (stdout stays free for JSON); the summary.

    Ctrl-C marks the run interrupted before it propagates, so the store never keeps a run
    "running" that no process trains.
    """
    with tqdm(
        total=1.0,
        desc=label,
        file=sys.stderr,
        disable=None,
        mininterval=0.2,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}",
    ) as bar:

        def show(fraction: float, message: str) -> None:
            bar.n = fraction
            bar.set_postfix_str(message, refresh=False)
            bar.update(0)  # redraws at most every mininterval

        try:
            execute_run(store, run_id, on_progress=show)
        except KeyboardInterrupt:
            store.finish(run_id, "interrupted", "stopped from the keyboard")
            raise
    return run_summary(store, run_id)
