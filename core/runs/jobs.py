"""The background worker: queued runs execute while the app keeps serving, fairly.

Each run trains in a child process (`core.runs.worker`) watched by a worker thread, so training does
not fight the web server for the interpreter lock and a hard crash (out of memory, a segfault)
marks the run failed instead of killing the app. `in_process=True` executes runs on the worker
threads themselves: for experiments registered at run time (tests, notebooks).
Runs go through the store, so progress, cancellation and results are visible to every reader.
One worker by default: a 2-core machine trains one model at a time best.

The queue is fair: each owner's runs wait in their own line, and a free worker takes the next
run of the owner after the one it served last (round robin over the owners with waiting runs,
in the order they first queued), so one visitor's sweep cannot keep another's single run
waiting behind all of it.

Visitors who are not admins are held to the host's limits (`core.sharing.limits.HostLimits`):
- at most `queued_runs` of their runs queued or running at once, and no new run at all while
  `queued_total` runs of everyone are (a visitor can make new anonymous ids at will);
- a sweep of at most `sweep_runs` grid points, refused before anything is stored. A sweep is
  admitted when its points fit within `queued_runs` together with the visitor's runs already
  queued or running, or when the visitor has none queued or running (it may then queue up to
  `sweep_runs` points, above `queued_runs`); while its runs wait, the first rule refuses more;
- at most `launches_per_minute` launches in any minute (a sweep counts as one launch). A launch
  counts when it is asked for, before its config is checked: checking reads the visitor's data
  (a CSV of up to 50 MB), so refused launches must be bounded too.
Admins, the terminal user (`core.sharing.visitors.LOCAL`) among them, have no limits.
"""

import ctypes
import math
import signal
import sys
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import asdict
from typing import Any

from core.experiments import get_experiment
from core.runs import worker
from core.runs.access import REFERENCE_OWNER, check_can_act
from core.runs.execution import execute_run
from core.runs.store import RunStore
from core.runs.sweeps import new_sweep_id, plan_sweep
from core.sharing.limits import HostLimits, RateLimiter
from core.sharing.visitors import LOCAL, Visitor


class QuotaExceeded(ValueError):
    """A launch beyond what one visitor may have queued; the message says what to do."""


class FairQueue:
    """Run ids waiting for a worker, one line per owner, taken round robin (thread-safe)."""

    def __init__(self) -> None:
        # Owner key -> their waiting runs, in the order the owners first queued. The owner
        # served last stays in it while their line is empty: it marks where the round is.
        self._lines: dict[str, deque[int]] = {}
        self._last: str | None = None
        self._waiting = 0
        self._closed = False
        self._changed = threading.Condition()

    def put(self, owner: str, run_id: int) -> None:
        with self._changed:
            self._lines.setdefault(owner, deque()).append(run_id)
            self._waiting += 1
            self._changed.notify()

    def take(self) -> int | None:
        """The next run to execute, waiting until there is one; None once closed."""
        with self._changed:
            while not self._waiting and not self._closed:
                self._changed.wait()
            if self._closed:
                return None
            owner = self._next_owner()
            run_id = self._lines[owner].popleft()
            self._waiting -= 1
            self._forget_empty_last(keep=owner)
            self._last = owner
            return run_id

    def discard(self, run_id: int) -> bool:
        """Take a waiting run out of its line; False when it is not waiting (any more)."""
        with self._changed:
            for owner, line in self._lines.items():
                if run_id in line:
                    line.remove(run_id)
                    self._waiting -= 1
                    if not line and owner != self._last:
                        del self._lines[owner]
                    return True
            return False

    def close(self) -> list[int]:
        """Stop handing out runs; returns the ones still waiting."""
        with self._changed:
            left = [run_id for line in self._lines.values() for run_id in line]
            self._lines.clear()
            self._waiting = 0
            self._closed = True
            self._changed.notify_all()
            return left

    def _next_owner(self) -> str:
        """The first owner with a waiting run after the one served last, wrapping around."""
        owners = list(self._lines)
        start = owners.index(self._last) + 1 if self._last in self._lines else 0
        return next(owner for owner in owners[start:] + owners[:start] if self._lines[owner])

    def _forget_empty_last(self, keep: str) -> None:
        if self._last is not None and self._last != keep and not self._lines.get(self._last):
            self._lines.pop(self._last, None)


class JobRunner:
    """Queue runs of registered experiments and execute them in the background, fairly."""

    def __init__(
        self,
        store: RunStore,
        workers: int = 1,
        in_process: bool = False,
        limits: HostLimits | None = None,
    ):
        self.store = store
        self.in_process = in_process
        self.limits = limits or HostLimits.from_env()
        self._launches = RateLimiter(self.limits.launches_per_minute, "launches")
        self._admission = threading.Lock()  # a quota check and the runs it admits, as one step
        self._queue = FairQueue()
        self._futures: dict[int, Future] = {}
        for number in range(workers):
            name = f"dlstudio-run-{number}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def submit(
        self,
        experiment_name: str,
        values: dict[str, Any] | None = None,
        sweep_id: str | None = None,
        swept_keys: list[str] | None = None,
        owner: Visitor = LOCAL,
    ) -> int:
        """Validate the config, store a queued run of `owner` and schedule it; returns its id.

        Raises KeyError for an unknown experiment and ValueError for a bad config or unusable
        data (a CSV without the target, a target with three classes), and QuotaExceeded or
        RateLimited (both ValueErrors) past the owner's limits, before anything is stored.
        """
        self._count_launch(owner)
        config = asdict(get_experiment(experiment_name).checked_config(values))
        self.check_processes(owner, config)
        details = {"swept_keys": swept_keys} if swept_keys else None
        with self._admission:
            self._admit(owner, 1)
            return self._queue_run(experiment_name, config, sweep_id, details, owner)

    def submit_sweep(
        self,
        experiment_name: str,
        base: dict[str, Any] | None = None,
        grid: dict[str, Any] | None = None,
        owner: Visitor = LOCAL,
    ) -> tuple[str, list[int]]:
        """Queue a run per grid point (default: the experiment's grid); returns (sweep, run ids).

        Every point is validated, and the sweep admitted as a whole (module docstring), before
        any run is stored.
        """
        self._count_launch(owner)
        experiment = get_experiment(experiment_name)
        grid = grid or experiment.grid
        self._check_sweep_size(owner, math.prod(len(values) for values in grid.values()))
        configs = [
            asdict(experiment.checked_config(config))
            for config in plan_sweep(experiment_name, base, grid)
        ]
        for config in configs:
            self.check_processes(owner, config)
        sweep_id = new_sweep_id()
        details = {"swept_keys": list(grid)}
        with self._admission:
            self._admit(owner, len(configs))
            return sweep_id, [
                self._queue_run(experiment_name, config, sweep_id, details, owner)
                for config in configs
            ]

    def admit_search(self, owner: Visitor, trials: int) -> None:
        """Count a search's launch and hold its trials to a sweep's size; its trials then
        queue one at a time (`queue_trial`), so it never holds more than one place."""
        self._count_launch(owner)
        if not owner.admin and trials > self.limits.sweep_runs:
            raise QuotaExceeded(
                f"this search has {trials} trials: the limit is {self.limits.sweep_runs}; "
                "ask for fewer"
            )
        with self._admission:
            self._admit(owner, 1)

    def queue_trial(
        self,
        experiment_name: str,
        config: dict[str, Any],
        study: str,
        details: dict,
        owner: Visitor,
    ) -> int:
        """Queue one trial of an admitted search as a run of `owner` (no launch counted)."""
        config = asdict(get_experiment(experiment_name).checked_config(config))
        self.check_processes(owner, config)
        return self._queue_run(experiment_name, config, study, details, owner)

    def cancel(self, run_id: int, visitor: Visitor = LOCAL) -> bool:
        """Ask a run of `visitor` to stop; returns False if it had already finished.

        A run still waiting in the queue ends `cancelled` at once, without starting.
        """
        check_can_act(self.store, run_id, visitor, self.limits)
        if not self.store.request_cancel(run_id):
            return False
        if self._queue.discard(run_id):
            self.store.finish(run_id, "cancelled", "cancelled before it started")
            self._futures[run_id].set_result(None)
        return True

    def rename(self, run_id: int, name: str, visitor: Visitor = LOCAL) -> None:
        """Label a run of `visitor` (see `RunStore.rename`)."""
        check_can_act(self.store, run_id, visitor, self.limits)
        self.store.rename(run_id, name)

    def annotate(
        self, run_id: int, tags: str | list[str], note: str, visitor: Visitor = LOCAL
    ) -> None:
        """Set the tags and the note of a run of `visitor` (see `RunStore.annotate`)."""
        check_can_act(self.store, run_id, visitor, self.limits)
        self.store.annotate(run_id, tags, note)

    def archive(self, run_id: int, archived: bool, visitor: Visitor = LOCAL) -> None:
        """Archive a run of `visitor` (hidden from the runs table unless asked) or restore it."""
        check_can_act(self.store, run_id, visitor, self.limits)
        self.store.set_archived(run_id, archived)

    def share(self, run_id: int, shared: bool, visitor: Visitor = LOCAL) -> None:
        """Let everyone use the trained model of a run of `visitor`, or stop sharing it."""
        check_can_act(self.store, run_id, visitor, self.limits)
        self.store.set_shared(run_id, shared)

    def delete(self, run_id: int, visitor: Visitor = LOCAL) -> None:
        """Remove a finished run of `visitor` with its metrics and files (see `RunStore.delete`).
        Reference runs ship with the app and are never deleted, not even by an admin."""
        run = check_can_act(self.store, run_id, visitor, self.limits)
        if run.owner == REFERENCE_OWNER:
            raise PermissionError(f"run {run_id} is a reference run: it cannot be deleted")
        self.store.delete(run_id)

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        """Block until a run submitted here has finished (for scripts and tests)."""
        self._futures[run_id].result(timeout=timeout)

    def shutdown(self) -> None:
        """Start no more runs; the ones running finish, the waiting ones stay queued in the
        store (the next start marks them interrupted)."""
        for run_id in self._queue.close():
            self._futures[run_id].cancel()

    def _check_sweep_size(self, owner: Visitor, points: int) -> None:
        if not owner.admin and points > self.limits.sweep_runs:
            raise QuotaExceeded(
                f"this sweep has {points} grid points: the limit is {self.limits.sweep_runs}; "
                "give fewer values"
            )

    def check_processes(self, owner: Visitor, config: dict[str, Any]) -> None:
        """A run's data-parallel processes each take a core: held to the host's limit."""
        processes = config.get("processes", 1)
        if not owner.admin and processes > self.limits.run_processes:
            raise QuotaExceeded(
                f"a run may use at most {self.limits.run_processes} processes on this server, "
                f"not {processes}"
            )

    def _admit(self, owner: Visitor, count: int) -> None:
        """Refuse `count` new runs of `owner` beyond their limits (module docstring)."""
        if owner.admin:
            return
        if self.store.active_count() + count > self.limits.queued_total:
            raise QuotaExceeded(
                "the queue is full: every training slot of this server is taken for now; "
                "try again when some runs have finished"
            )
        active, limit = self.store.active_count(owner.key), self.limits.queued_runs
        if active + count > limit and not (count > 1 and active == 0):
            if count == 1:
                raise QuotaExceeded(
                    f"you have {active} runs queued or running: the limit is {limit}; "
                    "wait for one to finish or cancel one"
                )
            raise QuotaExceeded(
                f"you have {active} runs queued or running: a sweep of {count} runs must fit "
                f"within the limit of {limit} with them, or start when you have none; wait for "
                "them to finish or cancel them"
            )

    def _count_launch(self, owner: Visitor) -> None:
        """One launch of `owner` against their rate (admins have none); RateLimited beyond."""
        if not owner.admin:
            self._launches.check(owner.key)

    def _queue_run(
        self,
        experiment_name: str,
        config: dict[str, Any],
        sweep_id: str | None,
        details: dict[str, Any] | None,
        owner: Visitor,
    ) -> int:
        run_id = self.store.create(experiment_name, config, sweep_id, details, owner)
        self._futures[run_id] = Future()
        self._queue.put(owner.key, run_id)
        return run_id

    def _work(self) -> None:
        """A worker thread: execute the queue's runs one after another until shutdown."""
        while (run_id := self._queue.take()) is not None:
            future = self._futures[run_id]
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self._execute(run_id)
            except Exception as error:  # the store failed (a full disk): tell whoever waits
                future.set_exception(error)
            else:
                future.set_result(None)

    def _execute(self, run_id: int) -> None:
        if self.in_process:
            execute_run(self.store, run_id)
            return
        worker.train_in_processes(self.store, run_id, preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the app process dies.

    The worker then records its run as interrupted instead of training on as an orphan.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
