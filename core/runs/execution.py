"""Running one stored run: the logger an experiment reports through, and the status bookkeeping.

`execute_run` is the single place where a run goes from queued to running to a final status:
`done`, `cancelled` (the cancel flag was seen), or `failed` with the traceback. The background
worker (`core.runs.jobs`) and the CLI (`core.runs.cli`) both call it.
"""

import time
import traceback
from collections.abc import Callable
from pathlib import Path

from core.experiments import get_experiment
from core.runs.store import Run, RunStore

ProgressCallback = Callable[[float, str], None]


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
    ):
        self.store = store
        self.run_id = run_id
        self._on_progress = on_progress
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
        self.store.log_metrics(self.run_id, epoch, metrics)
        self._check_cancel()

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


def execute_run(store: RunStore, run_id: int, on_progress: ProgressCallback | None = None) -> Run:
    """Train the stored run `run_id` in this process and record how it ended."""
    run = store.get(run_id)
    if store.cancel_requested(run_id):
        store.finish(run_id, "cancelled", "cancelled before it started")
        return store.get(run_id)
    store.start(run_id)
    try:
        experiment = get_experiment(run.experiment)
        experiment.train(experiment.make_config(run.config), RunLogger(store, run_id, on_progress))
    except RunCancelled:
        store.finish(run_id, "cancelled", "cancelled by the user")
    except Exception:
        store.finish(run_id, "failed", traceback.format_exc())
    else:
        store.finish(run_id, "done")
    return store.get(run_id)
