"""Executes one stored run in a process of its own: `python -m core.runs.worker RUN_ID --db PATH`.

The app's job runner starts one of these per run, so training never competes with the web
server for Python's interpreter lock, and a crash of the training process cannot take the app
down. Everything the run reports goes through the run store.
"""

import argparse
import signal
import sys

from core.runs.execution import execute_run
from core.runs.store import RunStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.runs.worker", description=__doc__)
    parser.add_argument("run_id", type=int)
    parser.add_argument("--db", required=True, help="the run store holding the queued run")
    args = parser.parse_args(argv)
    store = RunStore(args.db, check=False)  # the app checked it; never move it from here
    signal.signal(signal.SIGTERM, _interrupt)  # the app stopped (or `kill`): record it
    try:
        run = execute_run(store, args.run_id)
    except KeyboardInterrupt:
        store.finish(args.run_id, "interrupted", "the worker process was interrupted")
        return 130
    return 0 if run.status == "done" else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
