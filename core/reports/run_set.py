"""A study page from any runs a user picks: the same kind of page the shipped studies have.

    dlstudio report runs 3 4 7 [--out DIR] [--zip FILE] [--db PATH]

The page (`run_set_page`) has the runs' setup (experiments and the config keys that differ),
a table with each run's best validation epoch, its test metric there with a 95 % bootstrap
interval from its saved test predictions, the curves of every run on each split, and
conclusions computed from those numbers (`conclusions`): which run the validation split
chooses, whether its lead over the runner-up is measurable on the test set (a paired bootstrap
over the same test pictures where both runs saw the same ones, else the overlap of their
intervals), and whether any run overfits. `page_zip` packs the README and its figures for a
download.
"""

import argparse
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from core.experiments import get_experiment
from core.metrics.bootstrap import bootstrap_ci
from core.paths import default_db_path
from core.reports.markdown import conclusion_lines
from core.reports.page import DASHES, Curves, Page, Panel, Series, to_markdown
from core.reports.plateau import OVERFIT_RISE, loss_rise
from core.runs.export import config_diff
from core.runs.store import RunStore
from core.runs.view import run_label

MAX_RUNS = 12  # runs on one page: more and the curves cannot be told apart
RESAMPLES = 1000


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


@dataclass
class RunFacts:
    """What the page says of one run."""

    run_id: int
    label: str
    experiment: str
    metric: str
    history: pd.DataFrame
    best_epoch: int | None = None
    best_val: float | None = None
    test: tuple[float, float, float] | None = None  # point, low, high from its predictions
    predictions: dict[str, np.ndarray] | None = None  # y_true and its score or y_pred


def test_predictions(path: str | None) -> dict[str, np.ndarray] | None:
    if not path or not Path(path).is_file():
        return None
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def test_metric(predictions: dict[str, np.ndarray]):
    """The metric and its inputs a run's saved test predictions support: ROC-AUC of scores
    (binary runs) or accuracy of predicted classes."""
    if "score" in predictions:
        return roc_auc_score, predictions["score"]
    return accuracy, predictions["y_pred"]


def run_facts(store: RunStore, run_id: int) -> RunFacts:
    run = store.get(run_id)
    metric = get_experiment(run.experiment).metric
    facts = RunFacts(run.id, run_label(run), run.experiment, metric, store.metrics(run_id))
    column = f"val_{metric}"
    if column in facts.history and facts.history[column].notna().any():
        best = facts.history.loc[facts.history[column].idxmax()]
        facts.best_epoch, facts.best_val = int(best["epoch"]), float(best[column])
    facts.predictions = test_predictions(run.artifacts.get("test_predictions"))
    if facts.predictions is not None:
        score, values = test_metric(facts.predictions)
        facts.test = bootstrap_ci(score, facts.predictions["y_true"], values, RESAMPLES)
    return facts


def paired_difference(a: RunFacts, b: RunFacts, seed: int = 0) -> tuple[float, float, float]:
    """a's test metric minus b's with a 95 % interval, resampling the same test pictures for
    both (so the noise the two runs share cancels)."""
    y_true = a.predictions["y_true"]
    (score, a_values), (_, b_values) = test_metric(a.predictions), test_metric(b.predictions)
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(RESAMPLES):
        index = rng.integers(0, len(y_true), len(y_true))
        if len(np.unique(y_true[index])) < 2:
            continue
        differences.append(
            score(y_true[index], a_values[index]) - score(y_true[index], b_values[index])
        )
    if not differences:
        raise ValueError("every resample of the test set held a single class: no interval")
    low, high = np.percentile(differences, [2.5, 97.5])
    return score(y_true, a_values) - score(y_true, b_values), float(low), float(high)


def same_test_set(a: RunFacts, b: RunFacts) -> bool:
    """Whether two runs were tested on the same pictures in the same order (one experiment
    family, one split seed): then their difference can be resampled in pairs."""
    if a.predictions is None or b.predictions is None:
        return False
    if test_metric(a.predictions)[0] is not test_metric(b.predictions)[0]:
        return False
    keys = ("y_true", "index") if "index" in a.predictions else ("y_true",)
    return all(
        key in b.predictions and np.array_equal(a.predictions[key], b.predictions[key])
        for key in keys
    )


# --- the conclusions ------------------------------------------------------------------------


def conclusions(runs: list[RunFacts], paired: tuple[float, float, float] | None) -> list[str]:
    """Sentences from the numbers: the choice on validation, whether its lead is measurable,
    and overfitting. `paired`: the chosen run's test metric minus the runner-up's, with its
    interval, when both saw the same test pictures."""
    ranked = sorted(
        (r for r in runs if r.best_val is not None), key=lambda r: r.best_val, reverse=True
    )
    if not ranked:
        return ["No run has a validation metric yet: nothing can be chosen or compared."]
    best = ranked[0]
    lines = [
        f"The validation split chooses {best.label}: val {best.metric} {best.best_val:.4f} "
        f"at epoch {best.best_epoch}"
        + (
            f"; its test {best.metric} is {best.test[0]:.4f} [{best.test[1]:.4f}, "
            f"{best.test[2]:.4f}]."
            if best.test
            else " (it saved no test predictions, so it has no test interval)."
        )
    ]
    if len(ranked) > 1:
        lines.append(lead(best, ranked[1], paired))
    lines.append(overfitting(runs))
    return lines


def lead(best: RunFacts, second: RunFacts, paired: tuple[float, float, float] | None) -> str:
    if paired is not None:
        difference, low, high = paired
        verdict = (
            "a measurable difference on this test set"
            if low > 0 or high < 0
            else "the interval holds 0, so the test set does not tell the two apart"
        )
        return (
            f"On the same test examples, {best.label} minus {second.label} (the runner-up on "
            f"validation) is {difference:+.4f} [{low:+.4f}, {high:+.4f}] by a paired "
            f"bootstrap: {verdict}."
        )
    if best.test and second.test:
        overlap = best.test[1] <= second.test[2] and second.test[1] <= best.test[2]
        return f"The runner-up on validation is {second.label}; their test intervals " + (
            "overlap: the lead is not measurable on these test sets."
            if overlap
            else "do not overlap: the lead holds on the test sets too."
        )
    return (
        f"The runner-up on validation is {second.label} ({second.best_val:.4f}); without "
        "test predictions of both, no interval compares them."
    )


def overfitting(runs: list[RunFacts]) -> str:
    """Overfitting is a test loss that rises while the training loss falls (`loss_rise`)."""
    rises = {run.label: loss_rise(run.history) for run in runs}
    overfit = [
        f"{label} (test loss lowest at epoch {rise.lowest_epoch}, {100 * rise.rise:.0f} % "
        "higher at the end)"
        for label, rise in rises.items()
        if rise and rise.overfits
    ]
    if overfit:
        return (
            "Overfitting: the test loss rises while the training loss falls in "
            + "; ".join(overfit)
            + ". Its best validation epoch, not its last, is the one to keep."
        )
    return (
        "No run overfits: none has a test loss that ends more than "
        f"{100 * OVERFIT_RISE:.0f} % above its lowest while its training loss falls."
    )


# --- the page -----------------------------------------------------------------------------------


def curves(runs: list[RunFacts], quantity: str, label: str) -> Curves:
    """One panel per split, one line per run: the runs overlaid where they can be compared."""
    panels = []
    for split in DASHES:
        series = [
            Series(run.label, run.history["epoch"].tolist(), run.history[column].tolist())
            for run in runs
            if (column := f"{split}_{quantity(run)}") in run.history
        ]
        if series:
            panels.append(Panel(split, series))
    name = label.lower().replace(" ", "_")
    return Curves(name, f"{label} per epoch", panels, y_label=label)


def results_table(runs: list[RunFacts]) -> pd.DataFrame:
    rows = []
    for run in runs:
        rows.append(
            {
                "run": run.label,
                "metric": run.metric,
                "best val": None if run.best_val is None else round(run.best_val, 4),
                "at epoch": run.best_epoch,
                "test": None if run.test is None else round(run.test[0], 4),
                "test 95% CI": ""
                if run.test is None
                else f"[{run.test[1]:.4f}, {run.test[2]:.4f}]",
                "epochs": len(run.history),
            }
        )
    return pd.DataFrame(rows)


def run_set_page(store: RunStore, run_ids: list[int]) -> Page:
    """The page of these runs (1 to MAX_RUNS of them, any experiments)."""
    run_ids = list(dict.fromkeys(run_ids))
    if not 1 <= len(run_ids) <= MAX_RUNS:
        raise ValueError(f"a page holds 1 to {MAX_RUNS} runs, not {len(run_ids)}")
    runs = [run_facts(store, run_id) for run_id in run_ids]
    best_two = sorted((r for r in runs if r.best_val is not None), key=lambda r: -r.best_val)[:2]
    paired = (
        paired_difference(*best_two) if len(best_two) == 2 and same_test_set(*best_two) else None
    )
    experiments = sorted({run.experiment for run in runs})
    diff = config_diff(store, run_ids)
    page = Page(f"Your study: {len(runs)} run{'s' if len(runs) > 1 else ''}")
    page.add(
        f"Runs of {', '.join(f'`{e}`' for e in experiments)}. The validation split judges "
        "each run at its best epoch; the test metric comes from the test predictions the run "
        f"saved, with a 95 % bootstrap interval ({RESAMPLES:,} resamples).",
        "## What differs between the runs",
        diff if len(diff) else "Their configs are the same: they differ only by chance.",
        "## Results",
        results_table(runs),
        curves(runs, lambda run: run.metric, "Metric"),
        curves(runs, lambda run: "loss", "Loss"),
        "\n".join(conclusion_lines(conclusions(runs, paired))).rstrip("\n"),
    )
    return page


def page_zip(page: Page, path: Path) -> Path:
    """The page as a zip: README.md and its figures (PNG), to download."""
    with tempfile.TemporaryDirectory(prefix="dlstudio-page-") as folder:
        to_markdown(page, Path(folder))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(Path(folder).iterdir()):
                archive.write(file, file.name)
    return path


def zipped_page(db_path: str | Path, run_ids: list[int], out: Path) -> Page:
    """`run_set_page` of the runs in the store at `db_path`, packed by `page_zip` into `out`:
    a module-level function of plain arguments, so that the app can hand it to its
    low-priority worker (the intervals cost seconds of CPU per run)."""
    store = RunStore(db_path, check=False)  # a worker never moves the app's store aside
    try:
        page = run_set_page(store, run_ids)
    finally:
        store.close()
    page_zip(page, out)
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", type=int, help="run ids")
    parser.add_argument("--out", default="run-report", help="folder for README.md and figures")
    parser.add_argument("--zip", default=None, help="also pack the page into this zip file")
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    args = parser.parse_args(argv)
    store = RunStore(args.db or default_db_path())
    try:
        page = run_set_page(store, args.runs)
    except (KeyError, ValueError) as error:
        parser.exit(2, f"error: {error.args[0]}\n")
    print(f"wrote {to_markdown(page, Path(args.out))}")
    if args.zip:
        print(f"wrote {page_zip(page, Path(args.zip))}")
    return 0
