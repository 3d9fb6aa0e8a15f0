"""The background worker: queued runs execute while the app keeps serving.

Each run trains in a child process (`core.runs.worker`) watched by a worker thread, so training does
not fight the web server for the interpreter lock and a hard crash (out of memory, a segfault)
marks the run failed instead of killing the app. `in_process=True` executes runs on the worker
threads themselves: for experiments registered at run time (tests, notebooks).
Runs go through the store, so progress, cancellation and results are visible to every reader.
One worker by default: a 2-core machine trains one model at a time best.
"""

import ctypes
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from core.experiments import get_experiment
from core.paths import REPO_ROOT
from core.runs.execution import execute_run
from core.runs.store import RunStore
from core.runs.sweeps import new_sweep_id, plan_sweep


class JobRunner:
    """Queue runs of registered experiments and execute them in the background."""

    def __init__(self, store: RunStore, workers: int = 1, in_process: bool = False):
        self.store = store
        self.in_process = in_process
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dlstudio-run")
        self._futures: dict[int, Future] = {}

    def submit(
        self,
        experiment_name: str,
        values: dict[str, Any] | None = None,
        sweep_id: str | None = None,
        swept_keys: list[str] | None = None,
    ) -> int:
        """Validate the config, store a queued run and schedule it; returns the run id.

        Raises KeyError for an unknown experiment and ValueError for a bad config or unusable
        data (a CSV without the target, a target with three classes), before anything is stored.
        """
        config = get_experiment(experiment_name).checked_config(values)
        run_id = self.store.create(
            experiment_name,
            asdict(config),
            sweep_id=sweep_id,
            details={"swept_keys": swept_keys} if swept_keys else None,
        )
        self._futures[run_id] = self._pool.submit(self._execute, run_id)
        return run_id

    def submit_sweep(
        self,
        experiment_name: str,
        base: dict[str, Any] | None = None,
        grid: dict[str, Any] | None = None,
    ) -> tuple[str, list[int]]:
        """Queue a run per grid point (default: the experiment's grid); returns (sweep, run ids)."""
        configs = plan_sweep(experiment_name, base, grid)
        swept = list(grid or get_experiment(experiment_name).grid)
        sweep_id = new_sweep_id()
        return sweep_id, [
            self.submit(experiment_name, config, sweep_id, swept) for config in configs
        ]

    def _execute(self, run_id: int) -> None:
        if self.in_process:
            execute_run(self.store, run_id)
            return
        command = [
            sys.executable,
            "-m",
            "core.runs.worker",
            str(run_id),
            "--db",
            str(self.store.path),
        ]
        process = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, preexec_fn=_die_with_parent
        )
        if not self.store.get(run_id).finished:  # the process died without recording an end
            self.store.finish(run_id, "failed", _death_notice(process.returncode, process.stderr))

    def cancel(self, run_id: int) -> bool:
        """Ask a run to stop; a queued run is cancelled before it starts."""
        return self.store.request_cancel(run_id)

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        """Block until a run submitted here has finished (for scripts and tests)."""
        self._futures[run_id].result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _death_notice(returncode: int, stderr: str) -> str:
    """Why a worker ended without recording its run's end: its last output, then one plain
    sentence (the tab shows an error's last line)."""
    if returncode < 0:
        name = signal.Signals(-returncode).name
        cause = (
            f"the training process was killed by {name} (out of memory, or stopped from "
            "outside); the epochs it finished are kept"
        )
    else:
        cause = f"the training process exited with code {returncode} before finishing its run"
    return f"{stderr[-4000:]}\n{cause}".lstrip()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the app process dies.

    The worker then records its run as interrupted instead of training on as an orphan.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
