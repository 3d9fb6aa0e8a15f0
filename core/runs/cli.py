"""`dlstudio train`: run a registered experiment (or a sweep of it) into the run store.

    dlstudio train --list
    dlstudio train loan_exp1 --lr 0.05 --epochs 20 [--json]
    dlstudio train loan_exp4 --sweep [--grid "dropout=0.1,0.5"] [--json]
    dlstudio export 3 4 --out DIR [--diff]      runs.csv and metrics.csv of runs 3 and 4

Runs land in the same SQLite store as the app's (`--db`, `DLSTUDIO_DB` or the data directory),
with a progress bar on stderr; `--json` prints one JSON object on stdout at the end.
"""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from core.experiments import get_experiment, list_experiments
from core.paths import default_db_path
from core.runs import tuning, worker
from core.runs.execution import execute_with_progress_bar, run_summary
from core.runs.export import config_diff, export_runs
from core.runs.store import RunStore
from core.runs.sweeps import new_sweep_id, parse_grid, plan_sweep, sweep_results


def parse_overrides(tokens: list[str]) -> dict[str, str]:
    """`["--lr", "0.1", "--skip", "--epochs=5"]` -> {"lr": "0.1", "skip": "true", "epochs": "5"}."""
    overrides: dict[str, str] = {}
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if not token.startswith("--") or len(token) == 2:
            raise ValueError(f"expected --key value, got {token!r}")
        key, sep, value = token[2:].partition("=")
        if not sep:
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            if following is None or following.startswith("--"):
                value = "true"  # a bare flag such as --skip
            else:
                value = following
                position += 1
        overrides[key.replace("-", "_")] = value
        position += 1
    return overrides


def build_parser() -> argparse.ArgumentParser:
    """The flags of `dlstudio train`; any other `--key value` is a config override."""
    parser = argparse.ArgumentParser(
        prog="dlstudio train",
        description=__doc__.split("\n\n")[0],
        epilog="Any other --key value pair overrides that config field.",
    )
    parser.add_argument("experiment", nargs="?", help="registered experiment name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the registered experiments")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--sweep", action="store_true", help="run the experiment's grid")
    parser.add_argument(
        "--grid", default="", help='sweep grid, e.g. "lr=0.01,0.1;weight_decay=0.1"'
    )
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)

    if args.list:
        for experiment in list_experiments():
            print(f"{experiment.name}\t{experiment.description}")
        return 0
    if not args.experiment:
        parser.error("name an experiment (see --list)")

    store = RunStore(args.db or default_db_path())
    try:
        experiment = get_experiment(args.experiment)
        overrides = parse_overrides(rest)
        if args.sweep or args.grid:
            grid = parse_grid(args.grid) if args.grid else dict(experiment.grid)
            configs = plan_sweep(args.experiment, overrides, grid)
            experiment.checked_config(configs[0])  # the data is the same for every point
        else:
            configs = [asdict(experiment.checked_config(overrides))]
    except (KeyError, ValueError) as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2

    if not (args.sweep or args.grid):
        run_id = store.create(args.experiment, configs[0])
        if configs[0].get("processes", 1) > 1:  # under torchrun, in processes of their own
            worker.train_in_processes(store, run_id)
            result = run_summary(store, run_id)
        else:
            result = execute_with_progress_bar(store, run_id, f"run {run_id} {args.experiment}")
        ok = result["status"] == "done"
    else:
        sweep_id = new_sweep_id()
        run_ids = [
            store.create(args.experiment, config, sweep_id, {"swept_keys": list(grid)})
            for config in configs
        ]
        runs = [
            execute_with_progress_bar(store, run_id, f"sweep {sweep_id} run {index}/{len(run_ids)}")
            for index, run_id in enumerate(run_ids, 1)
        ]
        table = sweep_results(store, sweep_id)
        best = table[table["best"]]
        result = {
            "sweep_id": sweep_id,
            "experiment": args.experiment,
            "status": "done" if all(run["status"] == "done" for run in runs) else "failed",
            "selection_metric": experiment.selection_metric,
            "best": run_summary(store, int(best["run_id"].iloc[0])) if len(best) else None,
            "runs": runs,
        }
        ok = result["status"] == "done"
        if not args.json:
            print(table.to_string(index=False))

    if args.json:
        print(json.dumps(result, default=str))
    elif "run_id" in result:
        print(
            f"run {result['run_id']} {result['status']}: "
            + ", ".join(f"{name}={value:.4f}" for name, value in sorted(result["final"].items()))
        )
        if result["error"]:
            print(result["error"], file=sys.stderr)
    return 0 if ok else 1


def export_main(argv: list[str] | None = None) -> int:
    """`dlstudio export RUN_ID... [--out DIR] [--diff]`: runs.csv and metrics.csv of the runs
    (`core.runs.export`); `--diff` prints the config keys that differ between them."""
    parser = argparse.ArgumentParser(
        prog="dlstudio export",
        description="Write runs.csv (config and final metrics, a row per run) and metrics.csv "
        "(every epoch's metrics, a row per run and epoch) for runs of the run store.",
    )
    parser.add_argument("runs", nargs="+", type=int, help="run ids")
    parser.add_argument("--out", default=".", help="folder for the two files (default: here)")
    parser.add_argument("--diff", action="store_true", help="print how their configs differ")
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    args = parser.parse_args(argv)
    store = RunStore(args.db or default_db_path())
    try:
        paths = export_runs(store, args.runs, Path(args.out))
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    if args.diff:
        print(config_diff(store, args.runs).to_string(index=False))
    for path in paths:
        print(f"wrote {path}")
    return 0


def tune_main(argv: list[str] | None = None) -> int:
    """`dlstudio tune`: a Bayesian (or random, grid, GP) search whose trials are runs."""
    parser = argparse.ArgumentParser(
        prog="dlstudio tune",
        description=tuning.__doc__.split("\n\n")[0],
        epilog="Any other --key value pair fixes that config field for every trial.",
    )
    parser.add_argument("experiment", help="registered experiment name")
    parser.add_argument("--space", required=True, help='e.g. "lr=1e-4..1e-1:log; dropout=0..0.9"')
    parser.add_argument(
        "--trials", type=int, default=20, help="the study's size, shared by its workers"
    )
    parser.add_argument("--sampler", default="tpe", choices=sorted(tuning.SAMPLERS))
    parser.add_argument("--pruner", default="none", choices=sorted(tuning.PRUNERS))
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    parser.add_argument("--storage", default=None, help="Optuna storage URL (default: a file)")
    parser.add_argument("--study", default=None, help="study name (workers sharing one join it)")
    parser.add_argument(
        "--worker", action="store_true", help="join the existing --study (several may share it)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    parser.add_argument(
        "--show", metavar="STUDY", help="write a search's page instead of searching"
    )
    parser.add_argument("--out", type=Path, help="--show's folder (default: the data directory's)")
    args, rest = parser.parse_known_args(argv)
    try:
        base = parse_overrides(rest)
        space = tuning.parse_space(args.space, args.experiment)
        store = RunStore(args.db or default_db_path())
        tuned = tuning.tune(
            store,
            args.experiment,
            space,
            args.trials,
            sampler=args.sampler,
            pruner=args.pruner,
            base=base,
            seed=args.seed,
            storage=args.storage,
            study_name=args.study,
            join=args.worker,
        )
    except (KeyError, ValueError) as error:
        parser.error(str(error.args[0] if error.args else error))
    best = tuned.best()
    if best is None:
        print("no trial finished: every one was pruned or failed", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(best, default=str))
    else:
        print(
            f"best of {best['trials']} trials ({best['pruned']} pruned): run {best['run_id']}, "
            f"{get_experiment(args.experiment).selection_metric} {best['value']:.4f}, "
            f"{best['params']}"
        )
    return 0
