"""A hyper-parameter search's page: how it went and what it found, from its Optuna study and
its runs.

    dlstudio report search STUDY [--storage URL] [--out DIR] [--db PATH]

The page says what was searched (experiment, space, sampler, pruner, budget), names the best
trial by its validation metric, and only then reads that trial's test metric, with a bootstrap
interval over the test set: the search never saw it. Figures: the optimisation history (each
trial's value and the best so far), the trials in parallel coordinates, and the parameters'
importances (Optuna's fANOVA, from three finished trials and two parameters up); then the table
of every trial, pruned and failed ones marked.
"""

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState
from sklearn.metrics import accuracy_score, roc_auc_score

from core.experiments import get_experiment
from core.metrics.bootstrap import bootstrap_ci
from core.paths import data_dir, default_db_path
from core.reports.accuracy import test_predictions
from core.reports.page import (
    Bars,
    Curves,
    ForDevelopers,
    Page,
    Panel,
    Parallel,
    Series,
    to_markdown,
)
from core.runs.store import RunStore
from core.runs.tuning import open_storage, trained_trials

MIN_FOR_IMPORTANCE = 3  # finished trials before parameter importances mean anything
STATES = {
    TrialState.COMPLETE: "finished",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}
DIVERGED = "diverged"  # finished for Optuna with the worst value seen (core.runs.tuning)


@dataclass(frozen=True)
class TestMetric:
    """How a run's saved test predictions give its test metric."""

    score: Callable[[np.ndarray, np.ndarray], float]
    column: str  # the predictions' column the metric reads beside y_true


TEST_METRICS = {  # by the experiment's metric
    "roc_auc": TestMetric(roc_auc_score, "score"),
    "accuracy": TestMetric(accuracy_score, "y_pred"),
}


def test_interval(store: RunStore, run_id: int) -> tuple[str, float, float, float, int] | None:
    """(metric, point, low, high, test rows) of a run's test metric with its 95 % percentile
    bootstrap interval over the test rows; None when the run kept no test predictions."""
    run = store.get(run_id)
    metric = get_experiment(run.experiment).metric
    if metric not in TEST_METRICS or "test_predictions" not in run.artifacts:
        return None
    rule = TEST_METRICS[metric]
    predictions = test_predictions(run)
    y_true, answer = predictions["y_true"], predictions[rule.column]
    return (metric, *bootstrap_ci(rule.score, y_true, answer), len(y_true))


def load_search(name: str, storage: str | None = None) -> optuna.Study:
    """The study `name` in `storage` (default: the data directory's journal); KeyError names
    the searches there are."""
    storage_object = open_storage(storage)
    names = optuna.get_all_study_names(storage=storage_object)
    if name not in names:
        raise KeyError(f"no search {name!r}; there are: {', '.join(sorted(names)) or 'none'}")
    return optuna.load_study(study_name=name, storage=storage_object)


def state_of(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's state in words; a run that diverged was told the worst value (its value is
    no measurement) and says so."""
    if trial.user_attrs.get("diverged"):
        return DIVERGED
    return STATES.get(trial.state, trial.state.name.lower())


def measured(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials whose value their run measured: finished, not diverged."""
    return [
        t for t in trials if t.state == TrialState.COMPLETE and not t.user_attrs.get("diverged")
    ]


def trials_table(store: RunStore, trials: list[optuna.trial.FrozenTrial]) -> pd.DataFrame:
    """One row per trial: its state, run, value, epochs trained and parameters."""
    rows = []
    for trial in trials:
        run_id = trial.user_attrs.get("run_id")
        epochs = len(store.metrics(run_id)) if run_id is not None else 0
        value = trial.value if trial.state == TrialState.COMPLETE else None
        if value is None and trial.intermediate_values:  # pruned: its last reported value
            value = trial.intermediate_values[max(trial.intermediate_values)]
        rows.append(
            {
                "trial": trial.number,
                "state": state_of(trial),
                "run": run_id,
                "value": None if value is None else round(value, 4),
                "epochs": epochs,
                **{key: _short(value) for key, value in trial.params.items()},
            }
        )
    return pd.DataFrame(rows)


def _short(value):
    return float(f"{value:.4g}") if isinstance(value, float) else value


def history(trials: list[optuna.trial.FrozenTrial], metric: str) -> Curves:
    finished = measured(trials)
    numbers = [t.number for t in finished]
    values = [t.value for t in finished]
    best = list(np.maximum.accumulate(values))
    series = [
        Series("each finished trial", numbers, values, "dot"),
        Series("best so far", numbers, best),
    ]
    return Curves("history", "Optimisation history", [Panel(metric, series)], "trial", metric)


def parallel(trials: list[optuna.trial.FrozenTrial], metric: str, space: dict) -> Parallel:
    """The finished trials across the searched parameters (log10 of a log-scaled one)."""
    finished = measured(trials)
    axes = {}
    for key, dimension in space.items():
        if dimension.get("choices"):
            order = list(dimension["choices"])
            axes[f"{key} (choice)"] = [float(order.index(t.params[key])) for t in finished]
        elif dimension.get("log"):
            axes[f"log10 {key}"] = [math.log10(t.params[key]) for t in finished]
        else:
            axes[key] = [float(t.params[key]) for t in finished]
    axes[metric] = [t.value for t in finished]
    return Parallel(
        "parallel", "Trials across the parameters", axes, [t.value for t in finished], metric
    )


def importances(study: optuna.Study) -> Bars:
    found = optuna.importance.get_param_importances(study)
    return Bars(
        "importances",
        "Parameter importances (fANOVA)",
        list(found),
        {"importance": [round(v, 4) for v in found.values()]},
        y_label="share of the value's variance",
    )


def pruning(pruner: str | None) -> str:
    return "no pruner" if pruner in (None, "none") else f"the **{pruner}** pruner"


def search_page(store: RunStore, study: optuna.Study, storage: str | None = None) -> Page:
    """The page of one search (see the module's docstring); `storage`, when the study is
    not in the default one, is named in the commands as `--storage URL`, never quoted."""
    described = study.user_attrs
    experiment = described.get("experiment", "?")
    metric = get_experiment(experiment).selection_metric if experiment != "?" else "value"
    trials = trained_trials(study)
    labels = [*STATES.values(), DIVERGED]
    counts = {label: sum(state_of(t) == label for t in trials) for label in labels}
    counted = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
    space = described.get("space", {})
    page = Page(f"Search {study.study_name}")
    page.add(
        f"**{experiment}**, searching {', '.join(space) or 'its settings'} with the "
        f"**{described.get('sampler', '?')}** sampler and {pruning(described.get('pruner'))}: "
        f"{len(trials)} of {described.get('budget', '?')} "
        f"trials ({counted or 'none yet'}). Each trial is a run; the search chooses by "
        f"{metric}, on the validation split, never on test."
    )
    finished = measured(trials)
    if not finished:
        page.add("No trial has finished yet, so there is no best trial.")
    else:
        best = study.best_trial
        run_id = best.user_attrs["run_id"]
        settings = ", ".join(f"{k} = {_short(v)}" for k, v in best.params.items())
        text = (
            f"**Best trial: {best.number}** (run {run_id}), {metric} {best.value:.4f}, "
            f"with {settings}."
        )
        tested = test_interval(store, run_id)
        if tested is not None:
            name, point, low, high, rows = tested
            text += (
                f" Read once, after the choice: its test {name} is **{point:.4f}**, 95 % "
                f"bootstrap interval [{low:.4f}, {high:.4f}] over the {rows:,} test rows."
            )
        page.add(text, history(trials, metric))
        if len(finished) >= 2 and space:
            page.add(parallel(trials, metric, space))
        if len(finished) >= MIN_FOR_IMPORTANCE and len(space) >= 2:
            page.add(importances(study))
    if trials:
        page.add("### Every trial", trials_table(store, trials))
    where = " --storage URL" if storage else ""  # a database URL may hold a password
    page.add(
        ForDevelopers(
            f"More trials: `dlstudio tune {experiment} --study {study.study_name}{where} "
            "--space ... --trials N --worker` (N: the search's new size). This page: "
            f"`dlstudio report search {study.study_name}{where}`."
        )
    )
    return page


def main(argv: list[str] | None = None) -> int:
    """`dlstudio report search STUDY`: the search's page as a README with its figures."""
    parser = argparse.ArgumentParser(
        prog="dlstudio report search", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("study", help="the search's study name (dlstudio tune --study)")
    parser.add_argument("--storage", help="Optuna storage URL (default: the data directory's)")
    parser.add_argument("--db", help="run store path (default: the app's)")
    parser.add_argument("--out", type=Path, help="folder (default: <data dir>/searches/STUDY)")
    args = parser.parse_args(argv)
    try:
        study = load_search(args.study, args.storage)
    except KeyError as error:
        parser.error(str(error.args[0]))
    store = RunStore(args.db or default_db_path())
    out = args.out or data_dir() / "searches" / args.study
    print(f"wrote {to_markdown(search_page(store, study, args.storage), out)}")
    return 0
