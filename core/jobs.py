"""The background worker: queued runs execute on worker threads while the app keeps serving.

Runs go through the store, so progress, cancellation and results are visible to every reader.
One worker by default: a 2-core machine trains one model at a time best.
"""

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from core.execution import execute_run
from core.experiments import get_experiment
from core.runs import RunStore
from core.sweeps import plan_sweep


class JobRunner:
    """Queue runs of registered experiments and execute them in the background."""

    def __init__(self, store: RunStore, workers: int = 1):
        self.store = store
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

        Raises KeyError for an unknown experiment and ValueError for a bad config, before
        anything is stored.
        """
        experiment = get_experiment(experiment_name)
        config = experiment.make_config(values)
        run_id = self.store.create(
            experiment_name,
            asdict(config),
            sweep_id=sweep_id,
            details={"swept_keys": swept_keys} if swept_keys else None,
        )
        self._futures[run_id] = self._pool.submit(execute_run, self.store, run_id)
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
        sweep_id = uuid.uuid4().hex[:8]
        return sweep_id, [
            self.submit(experiment_name, config, sweep_id, swept) for config in configs
        ]

    def cancel(self, run_id: int) -> bool:
        """Ask a run to stop; a queued run is cancelled before it starts."""
        return self.store.request_cancel(run_id)

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        """Block until a run submitted here has finished (for scripts and tests)."""
        self._futures[run_id].result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
