"""How long Exp 1 takes, in-process and through the app's worker process, against its budget.

    python -m benchmarks.bench_training [--repeats 3]

The target: Exp 1 finishes in under a minute on 2 CPU cores. Prints the median seconds
of each path, the worker's overhead as a ratio, and each path's share of the 60 s budget.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from core.runs.execution import execute_run
from core.runs.jobs import JobRunner
from core.runs.store import RunStore

BUDGET_S = 60.0


def time_in_process(store: RunStore) -> float:
    run_id = store.create("loan_exp1", {})
    started = time.perf_counter()
    assert execute_run(store, run_id).status == "done"
    return time.perf_counter() - started


def time_worker(runner: JobRunner) -> float:
    started = time.perf_counter()
    run_id = runner.submit("loan_exp1")
    runner.wait(run_id)
    assert runner.store.get(run_id).status == "done"
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder) / "runs.sqlite")
        runner = JobRunner(store)
        in_process = statistics.median(time_in_process(store) for _ in range(args.repeats))
        worker = statistics.median(time_worker(runner) for _ in range(args.repeats))
    print(f"Exp 1 in-process      : {in_process:6.2f} s  ({in_process / BUDGET_S:.1%} of 60 s)")
    print(f"Exp 1 via worker proc : {worker:6.2f} s  ({worker / BUDGET_S:.1%} of 60 s)")
    print(f"worker / in-process   : {worker / in_process:.2f}x")


if __name__ == "__main__":
    main()
