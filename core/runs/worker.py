"""Executes one stored run in a process of its own: `python -m core.runs.worker RUN_ID --db PATH`.

The app's job runner starts one of these per run, so training never competes with the web
server for Python's interpreter lock, and a crash of the training process cannot take the app
down. Everything the run reports goes through the run store.

A run whose config asks for several `processes` is started under torchrun (`command`): every
process trains its share of the batches; the first (rank 0) records the run, the others follow
(`core.runs.execution.follow_run`).
"""

import argparse
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from core.paths import REPO_ROOT
from core.runs.execution import execute_run, follow_run
from core.runs.store import RunStore
from core.vision.distributed import current_world


def command(run_id: int, db: str | Path, processes: int = 1) -> list[str]:
    """The command line that trains stored run `run_id`, under torchrun for several processes
    (one machine, a free rendezvous port of its own)."""
    worker = ["-m", "core.runs.worker", str(run_id), "--db", str(db)]
    if processes <= 1:
        return [sys.executable, *worker]
    torchrun = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    return [sys.executable, *torchrun, *worker]


def train_in_processes(
    store: RunStore, run_id: int, preexec_fn: Callable[[], None] | None = None
) -> None:
    """Train stored run `run_id` in worker process(es) of its own (as many as its config's
    `processes`) and wait; a run whose processes died without recording its end is marked
    failed, with their last output and why."""
    processes = int(store.get(run_id).config.get("processes", 1))
    process = subprocess.run(
        command(run_id, store.path, processes),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        preexec_fn=preexec_fn,
    )
    if not store.get(run_id).finished:
        store.finish(run_id, "failed", death_notice(process.returncode, process.stderr))


def death_notice(returncode: int, stderr: str) -> str:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.runs.worker", description=__doc__)
    parser.add_argument("run_id", type=int)
    parser.add_argument("--db", required=True, help="the run store holding the queued run")
    args = parser.parse_args(argv)
    store = RunStore(args.db, check=False)  # the app checked it; never move it from here
    signal.signal(signal.SIGTERM, _interrupt)  # the app stopped (or `kill`): record it
    if not current_world().main:
        follow_run(store, args.run_id)
        return 0
    try:
        run = execute_run(store, args.run_id)
    except KeyboardInterrupt:
        run = None
    if run is None or (_signalled.is_set() and run.status == "failed"):
        # a signal that lands inside a library call may come out as that library's error
        # (sqlite reports "interrupted"): the run was still stopped, not broken
        store.finish(args.run_id, "interrupted", "the worker process was interrupted")
        return 130
    return 0 if run.status == "done" else 1


_signalled = threading.Event()


def _interrupt(signum: int, frame: object) -> None:
    _signalled.set()
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
