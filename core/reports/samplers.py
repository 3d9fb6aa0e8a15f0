"""The samplers study: which search finds a good configuration in few trials, and what pruning
saves.

    dlstudio report tuning [--seeds 0 1 2 3 4] [--trials 30] [--out reports/tuning]
    dlstudio report tuning --from-results reports/tuning/results.json     measure nothing

Two searches of the learning rate and weight decay (log scales): loan Exp 5 (the MLP with
weight decay) and the digits CNN (short runs). Random, TPE and Gaussian-process searches run
30 trials with each seed; their best validation metric after 9 trials is the same search's
after its 9th trial (the samplers are sequential, and TPE and GP start modelling after 5 random
trials whatever the budget). The grid is its own search per budget (3 x 3 for 9 trials, 5 x 5
for 30), run once: a seed only reorders the same points. Then TPE again on loan Exp 5 with
the median pruner, against the same searches without it: the share of trials pruned, the
epochs and wall time saved, and the best value reached.

The numbers are kept in results.json (written after every search, so an interrupted
measurement continues where it stopped); `samplers_page` writes the page the README and the
Results tab show, its conclusions computed from them.
"""

import argparse
import json
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from core.experiments import get_experiment
from core.paths import REPO_ROOT
from core.reports.page import Curves, ForDevelopers, Page, Panel, Series, to_markdown
from core.runs.store import RunStore
from core.runs.tuning import parse_space, trained_trials, tune

OUT = REPO_ROOT / "reports" / "tuning"
RESULTS = OUT / "results.json"
BUDGETS = (9, 30)
SEEDS = (0, 1, 2, 3, 4)
MODELLED = ("random", "tpe", "gp")  # sequential samplers: a budget's result is a prefix
PRUNED_EXPERIMENT = "loan_exp5"
FAILED_NOTED = 20  # % of a sampler's trials failed, from which its conclusion says so


@dataclass(frozen=True)
class Setup:
    """One experiment's search: the space and the settings every trial shares."""

    space: str
    base: dict = field(default_factory=dict)
    words: str = ""


SETUPS = {
    "loan_exp5": Setup(
        "lr=1e-4..0.3:log; weight_decay=1e-5..0.3:log",
        {"epochs": 5},
        "loan default MLP (Exp 5), 5 epochs",
    ),
    "digits_cnn": Setup(
        "lr=1e-4..0.1:log; weight_decay=1e-6..0.1:log",
        {"input_size": 28, "epochs": 4, "limit_train": 600, "augment_schedule": False},
        "digits CNN, 28 px, 600 training pictures, 4 epochs",
    ),
}


def search_record(store: RunStore, study: optuna.Study, seconds: float) -> dict:
    """A search's trials in order: value (None: pruned or failed), state, epochs trained."""
    trials = trained_trials(study)
    diverged = [bool(t.user_attrs.get("diverged")) for t in trials]  # told the worst value
    return {
        "values": [None if d else t.value for t, d in zip(trials, diverged, strict=True)],
        "states": [
            "diverged" if d else t.state.name.lower() for t, d in zip(trials, diverged, strict=True)
        ],
        "epochs": [len(store.metrics(t.user_attrs["run_id"])) for t in trials],
        "seconds": round(seconds, 1),
    }


def measure(
    seeds: tuple[int, ...],
    trials: int,
    out: Path,
    experiments: tuple[str, ...] = tuple(SETUPS),
    samplers: tuple[str, ...] = (*MODELLED, "grid"),
) -> dict:
    """Run every search of `experiments` with `samplers` (see the module's docstring; the
    pruned searches are TPE's), saving results.json after each."""
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.setdefault("searches", {})
    results.update(
        seeds=list(seeds), trials=trials, budgets=[b for b in BUDGETS if b <= trials],
        machine=f"{platform.machine()}, {platform.processor() or 'CPU'}, one thread per run",
    )  # fmt: skip
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dlstudio-tuning-") as folder:
        store = RunStore(Path(folder) / "runs.sqlite")
        journal = str(Path(folder) / "studies.journal")
        plan = [
            (experiment, sampler, seed, trials, "none")
            for experiment in experiments
            for sampler in MODELLED
            if sampler in samplers
            for seed in seeds
        ]
        if "grid" in samplers:
            plan += [(e, "grid", 0, b, "none") for e in experiments for b in results["budgets"]]
        if PRUNED_EXPERIMENT in experiments and "tpe" in samplers:
            plan += [(PRUNED_EXPERIMENT, "tpe", seed, trials, "median") for seed in seeds]
        for experiment, sampler, seed, budget, pruner in plan:
            key = f"{experiment}/{sampler}/{pruner}/{budget}/{seed}"
            if key in results["searches"]:
                continue
            setup = SETUPS[experiment]
            started = time.perf_counter()
            tuned = tune(
                store, experiment, parse_space(setup.space, experiment), budget,
                sampler=sampler, pruner=pruner, base=setup.base, seed=seed, storage=journal,
                study_name=key,
            )  # fmt: skip
            record = search_record(store, tuned.study, time.perf_counter() - started)
            results["searches"][key] = record
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=1) + "\n")
            print(f"{key}: best {max(v for v in record['values'] if v is not None):.4f}")
    return results


def best_so_far(values: list[float | None]) -> list[float]:
    """The best value after each trial (a pruned or failed trial adds nothing)."""
    known = [v if v is not None else -np.inf for v in values]
    return list(np.maximum.accumulate(known))


def best_after(record: dict, budget: int) -> float:
    return best_so_far(record["values"])[min(budget, len(record["values"])) - 1]


def grid_search(results: dict, experiment: str, budget: int) -> dict | None:
    return results["searches"].get(f"{experiment}/grid/none/{budget}/0")


def budget_table(results: dict, experiment: str) -> pd.DataFrame:
    """Per sampler: its best value after each budget (mean ± sd over seeds; the grid is one
    search per budget) and the wall time of one search."""
    rows = []
    for sampler in MODELLED:
        records = searches_of(results, experiment, sampler)
        row = {"sampler": sampler, "searches": len(records)}
        for budget in results["budgets"]:
            bests = [best_after(r, budget) for r in records]
            row[f"best after {budget}"] = f"{np.mean(bests):.4f} ± {np.std(bests, ddof=1):.4f}"
        row["failed"] = failed_share(records)
        row["seconds per search"] = round(float(np.mean([r["seconds"] for r in records])), 1)
        rows.append(row)
    for budget in results["budgets"]:
        record = grid_search(results, experiment, budget)
        if record is not None:
            row = {"sampler": f"grid of {len(record['values'])}", "searches": 1}
            for other in results["budgets"]:
                row[f"best after {other}"] = (
                    f"{best_after(record, other):.4f}" if other == budget else ""
                )
            row["failed"] = failed_share([record])
            row["seconds per search"] = record["seconds"]
            rows.append(row)
    return pd.DataFrame(rows)


def failed_share(records: list[dict]) -> str:
    """The share of the searches' trials whose run ended with an error (no value)."""
    states = [state for record in records for state in record["states"]]
    return f"{(states.count('fail') + states.count('diverged')) / len(states):.0%}"


def failure_words(results: dict, experiment: str) -> str:
    """Which samplers lost much of their budget to failed runs (a failed trial gives the
    sampler nothing to learn from, and it may propose the same region again)."""
    lost = {
        sampler: failed_share(searches_of(results, experiment, sampler))
        for sampler in MODELLED
        if float(failed_share(searches_of(results, experiment, sampler))[:-1]) >= FAILED_NOTED
    }
    if not lost:
        return ""
    named = ", ".join(f"{sampler} {share}" for sampler, share in lost.items())
    return (
        f" Failed trials (the run ended with an error, so no value): {named} of the trials. "
        "Optuna's samplers leave a failed trial out of their model, so a sampler may keep "
        "proposing the region where runs fail, and its budget goes to them."
    )


def history(results: dict, experiment: str, metric: str) -> Curves:
    """The best value so far against the trial: the mean over seeds per sampler, and the
    largest grid in its (seeded) order."""
    series = []
    for sampler in MODELLED:
        curves = np.array(
            [best_so_far(r["values"]) for r in searches_of(results, experiment, sampler)]
        )
        curves[~np.isfinite(curves)] = np.nan
        mean = np.nanmean(curves, axis=0)
        series.append(
            Series(f"{sampler} (mean of {len(curves)})", list(range(1, len(mean) + 1)), list(mean))
        )
    record = grid_search(results, experiment, max(results["budgets"]))
    if record is not None:
        grid = best_so_far(record["values"])
        series.append(Series("grid", list(range(1, len(grid) + 1)), grid, "dot"))
    return Curves(
        f"history-{experiment}", f"{experiment}: best {metric} so far", [Panel(metric, series)],
        "trial", metric,
    )  # fmt: skip


def budget_words(results: dict, experiment: str, budget: int) -> str:
    """Which sampler is ahead after `budget` trials, and whether its lead is more than the
    spread between seeds."""
    means, spreads = {}, {}
    for sampler in MODELLED:
        bests = [best_after(r, budget) for r in searches_of(results, experiment, sampler)]
        means[sampler], spreads[sampler] = float(np.mean(bests)), float(np.std(bests, ddof=1))
    ranked = sorted(means, key=means.get, reverse=True)
    first, second = ranked[0], ranked[1]
    lead = means[first] - means[second]
    spread = max(spreads[first], spreads[second])
    verdict = (
        "a lead larger than the spread between seeds"
        if lead > spread
        else "a lead within the spread between seeds, so no sampler wins here"
    )
    text = (
        f"After {budget} trials, {first} is ahead ({means[first]:.4f} on average) of {second} "
        f"({means[second]:.4f}): {lead:.4f}, {verdict} (sd up to {spread:.4f})."
    )
    grid = grid_search(results, experiment, budget)
    if grid is not None:
        value = best_after(grid, budget)
        beaten = sum(means[s] > value for s in MODELLED)
        better = {
            0: "no sampler does",
            1: "1 of the 3 samplers does",
            len(MODELLED): "all 3 samplers do",
        }.get(beaten, f"{beaten} of the 3 samplers do")
        points = len(grid["values"])
        text += f" The grid of {points} points reaches {value:.4f}: {better} better on average."
    return text


def pruning_rows(results: dict) -> pd.DataFrame | None:
    """TPE on the pruned experiment with and without the median pruner, over the same seeds."""
    pruned = searches_of(results, PRUNED_EXPERIMENT, "tpe", "median")
    if not pruned:
        return None
    rows = []
    for label, records in (
        ("no pruning", searches_of(results, PRUNED_EXPERIMENT, "tpe")),
        ("median pruner", pruned),
    ):
        states = [state for r in records for state in r["states"]]
        bests = [max(best_so_far(r["values"])) for r in records]
        rows.append(
            {
                "TPE search": label,
                "trials": len(states),
                "pruned": f"{states.count('pruned') / len(states):.0%}",
                "epochs trained": sum(sum(r["epochs"]) for r in records),
                "seconds": round(sum(r["seconds"] for r in records), 1),
                "best (mean ± sd)": f"{np.mean(bests):.4f} ± {np.std(bests, ddof=1):.4f}",
            }
        )
    return pd.DataFrame(rows)


def pruning_words(table: pd.DataFrame) -> str:
    plain, pruned = table.iloc[0], table.iloc[1]
    saved_epochs = 1 - pruned["epochs trained"] / plain["epochs trained"]
    saved_time = 1 - pruned["seconds"] / plain["seconds"]
    return (
        f"The median pruner stopped {pruned['pruned']} of the trials early: {saved_epochs:.0%} "
        f"fewer epochs trained and {saved_time:.0%} less wall time than the same searches "
        f"without it, for a best value of {pruned['best (mean ± sd)']} against "
        f"{plain['best (mean ± sd)']}."
    )


def samplers_page(results: dict) -> Page:
    """The study's page, its conclusions computed from `results`."""
    experiments = [e for e in SETUPS if searches_of(results, e, MODELLED[0])]
    seconds = sum(r["seconds"] for r in results["searches"].values())
    page = Page("Hyper-parameter search: grid, random, TPE and Gaussian process")
    page.add(
        "Which search finds a good learning rate and weight decay in few trials? Each search "
        f"is repeated with {len(results['seeds'])} seeds; every trial is a full training run, "
        "chosen on the validation split. TPE and GP start modelling after 5 random trials. "
        f"All searches together took {seconds / 60:.0f} min of wall time ({results['machine']}"
        "), on a 2-core machine shared with other work: the seconds compare roughly, the "
        "epochs trained exactly."
    )
    for experiment in experiments:
        setup = SETUPS[experiment]
        metric = get_experiment(experiment).selection_metric
        page.add(
            f"## {setup.words}",
            f"Space: `{setup.space}`; the best {metric} found, by budget:",
            budget_table(results, experiment),
            history(results, experiment, metric),
            " ".join(budget_words(results, experiment, b) for b in results["budgets"])
            + failure_words(results, experiment),
        )
    table = pruning_rows(results)
    if table is not None:
        page.add(
            "## Pruning",
            f"TPE on {PRUNED_EXPERIMENT}, {results['trials']} trials per seed:",
            table,
            pruning_words(table),
        )
    page.add(
        ForDevelopers(
            "Measured by `dlstudio report tuning` in several processes (`--experiments "
            "loan_exp5`, `--experiments digits_cnn`, each with an `--out` of its own), then "
            "`dlstudio report tuning --from-results` with every results file."
        )
    )
    return page


def page_from_results(path: Path = RESULTS) -> Page:
    """The page of the committed study, measuring nothing (the Results tab shows this)."""
    return samplers_page(json.loads(Path(path).read_text()))


def merged(parts: list[dict]) -> dict:
    """Results measured in parts (say, one experiment per process): their searches together."""
    results = {**parts[0], "searches": {}}
    for part in parts:
        results["searches"].update(part["searches"])
    return results


def searches_of(results: dict, experiment: str, sampler: str, pruner: str = "none") -> list:
    prefix = f"{experiment}/{sampler}/{pruner}/"
    return [record for key, record in results["searches"].items() if key.startswith(prefix)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report tuning", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--trials", type=int, default=max(BUDGETS))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--experiments", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument(
        "--samplers", nargs="+", default=[*MODELLED, "grid"], choices=[*MODELLED, "grid"]
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        nargs="+",
        help="measure nothing: the page of these results files (their searches together)",
    )
    args = parser.parse_args(argv)
    if args.from_results:
        results = merged([json.loads(path.read_text()) for path in args.from_results])
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    else:
        results = measure(
            tuple(args.seeds), args.trials, args.out, tuple(args.experiments), tuple(args.samplers)
        )
    print(f"wrote {to_markdown(samplers_page(results), args.out)}")
    return 0
