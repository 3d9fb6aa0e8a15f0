"""Heavy computations in a low-priority worker process, so that light requests keep the CPU.

The hosted app serves a whole class from a couple of CPU cores. A bootstrap over many rows or
the embedding of an uploaded corpus keeps a core busy for tens of seconds; run in the web
server's process it would compete on equal terms with every visitor's quick request (a
classification, a search of the shipped corpus). `run` hands such work to a worker process
that runs at the lowest priority (`os.nice(19)`) with one BLAS / PyTorch thread, so the Linux
scheduler gives the web server's light requests the CPU first and the heavy work the rest.

The pool starts at the first call (never at import) with the `spawn` start method: forking a
web server that holds threads and an OpenMP runtime is unsafe. What `run` is handed must be
picklable: a module-level function and plain arguments (arrays, strings, dataclasses). A
worker keeps what it loads (e.g. the encoder model, cached per process) for the next call.

`QUEUE` and `QUEUE_SLOTS` name the app's event group for work that goes through this pool:
such events queue among themselves and never hold the slots of light events. `rate_limiter`
counts each visitor's heavy events, so that no one fills the queue.
"""

import functools
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from core.sharing.limits import HostLimits, RateLimiter

WORKERS = 1  # one core's worth of heavy work; the other core stays with the web server
QUEUE = "heavy"  # the concurrency group of events whose work goes through `run`
QUEUE_SLOTS = WORKERS + 1  # one running, one handed over and waiting: the rest wait in the queue
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


class WorkerStopped(RuntimeError):
    """The worker process died (killed, out of memory); the next call starts a new one."""


@functools.cache
def rate_limiter() -> RateLimiter:
    """Heavy events a visitor may start in a minute (the host's `heavy_per_minute`), counted
    together whatever the tab."""
    limit = HostLimits.from_env().heavy_per_minute
    return RateLimiter(limit, "heavy requests (bootstraps, corpus loads)")


def lower_priority() -> None:
    """Lowest CPU priority and one compute thread, for each worker (`start_worker`).

    The variables reach libraries the worker loads later; `threadpoolctl` and
    `torch.set_num_threads` reach those already loaded (spawn re-imports the parent's main
    module, which may have loaded numpy's BLAS or PyTorch before this runs).
    """
    os.nice(19)
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


PARENT_CHECK_S = 1.0  # how often a worker checks that the process that started it still runs


def exit_with_parent(parent: int) -> None:
    """End this worker once `parent` (the app) is gone. A worker blocked waiting for work
    does not notice its parent's death by itself: killed or stopped apps left workers behind,
    each holding its loaded models (about 1 GB) and finishing abandoned work."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def start_worker(parent: int) -> None:
    """Initializer of each worker: it ends with its parent, at the lowest priority."""
    exit_with_parent(parent)
    lower_priority()


def pool() -> ProcessPoolExecutor:
    """The process pool, started at the first call."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker,
                initargs=(os.getpid(),),
            )
        return _pool


def run(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` computed in the low-priority worker; waits for the result.

    An exception raised by `function` is raised here, as it would be in-process.
    """
    try:
        return pool().submit(function, *args, **kwargs).result()
    except BrokenProcessPool:
        shutdown(wait=False)
        raise WorkerStopped(
            "the background worker stopped before it finished (the server may be short of "
            "memory); try again"
        ) from None


def shutdown(wait: bool = True) -> None:
    """Stop the worker (tests, a clean exit, a broken pool); the next `run` starts a new one."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
            _pool = None
