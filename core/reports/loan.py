"""The loan-default study: runs Exp 1-5 and writes its page (tables, curves, conclusions).

    dlstudio report loan [--out reports/loan_default] [--db PATH] [--export-reference]
    dlstudio report loan --from-reference      the README from the shipped runs, no training

Exp 1-3 run once; Exp 4 sweeps the dropout p and keeps the best on the validation split; Exp 5
sweeps (weight decay, lr) on top of that p and again chooses on validation. The test split is
only reported, with a 95 % bootstrap interval. A logistic regression on the same split is the
reference point. All runs land in the run store. `--export-reference` ships them as the app's
reference runs (`core.runs.reference`); `loan_page` writes the one page that both the README
and the app's Results tab show, its conclusions computed from the numbers (`conclusions`).
"""

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from core.experiments import get_experiment
from core.experiments.loan import build_model
from core.metrics.bootstrap import bootstrap_ci
from core.paths import REPO_ROOT, default_db_path
from core.reports.markdown import add_reference_options, conclusion_lines
from core.reports.page import (
    DASHES,
    Bars,
    Curves,
    ForDevelopers,
    Heatmap,
    Page,
    Panel,
    Series,
    to_markdown,
)
from core.reports.plateau import OVERFIT_RISE, loss_rise
from core.runs.execution import execute_with_progress_bar
from core.runs.reference import export_reference, fresh_reference_store, reference_runs
from core.runs.store import RunStore
from core.runs.sweeps import plan_sweep, sweep_results
from core.tabular.data import load_table, prepare_binary

STUDY = "loan"  # the reference runs' study name
EXPERIMENTS = ("loan_exp1", "loan_exp2", "loan_exp3", "loan_exp4", "loan_exp5")
WHAT_CHANGES = {
    "loan_exp1": "1 block, h = 32, SGD lr 0.01",
    "loan_exp2": "3 blocks, h = 128",
    "loan_exp3": "+ skip connections, BatchNorm at block start",
    "loan_exp4": "+ dropout p (chosen on val)",
    "loan_exp5": "+ weight decay and lr (chosen on val)",
}


@dataclass
class Sweep:
    sweep_id: str
    results: pd.DataFrame
    best_run: int


def run_single(store: RunStore, name: str, values: dict | None = None) -> int:
    config = get_experiment(name).make_config(values)
    run_id = store.create(name, vars(config))
    execute_with_progress_bar(store, run_id, f"{name} run {run_id}")
    return run_id


def run_sweep(store: RunStore, name: str, base: dict | None = None) -> Sweep:
    grid = get_experiment(name).grid
    sweep_id = f"report-{name}-{int(time.time())}"
    run_ids = [
        store.create(name, config, sweep_id, {"swept_keys": list(grid)})
        for config in plan_sweep(name, base, grid)
    ]
    for index, run_id in enumerate(run_ids, 1):
        execute_with_progress_bar(store, run_id, f"{name} sweep {index}/{len(run_ids)}")
    results = sweep_results(store, sweep_id)
    return Sweep(sweep_id, results, int(results.loc[results["best"], "run_id"].iloc[0]))


def test_auc_interval(store: RunStore, run_id: int) -> tuple[float, float, float]:
    predictions = np.load(store.get(run_id).artifacts["test_predictions"])
    return bootstrap_ci(roc_auc_score, predictions["y_true"], predictions["score"])


def logistic_baseline(seed: int = 0) -> float:
    """Test ROC-AUC of scikit-learn's logistic regression on the same preprocessed split."""
    splits = prepare_binary(load_table("islp-default"), "default", seed=seed)
    model = LogisticRegression(max_iter=1000).fit(splits.x_train, splits.y_train)
    return float(roc_auc_score(splits.y_test, model.decision_function(splits.x_test)))


def parameter_count(config: dict, n_features: int) -> int:
    model = build_model(get_experiment("loan_exp1").make_config(config), n_features)
    return sum(parameter.numel() for parameter in model.parameters())


def results_table(store: RunStore, final_runs: dict[str, int]) -> pd.DataFrame:
    rows = []
    for name, run_id in final_runs.items():
        run = store.get(run_id)
        final = store.final_metrics(run_id)
        auc, low, high = test_auc_interval(store, run_id)
        rows.append(
            {
                "experiment": name,
                "what changes": WHAT_CHANGES[name],
                "params": parameter_count(run.config, run.details["n_features"]),
                "dropout": run.config["dropout"],
                "weight decay": run.config["weight_decay"],
                "lr": run.config["lr"],
                "val ROC-AUC": round(final["val_roc_auc"], 4),
                "test ROC-AUC": round(auc, 4),
                "test 95% CI": f"[{low:.4f}, {high:.4f}]",
                "train loss": round(final["train_loss"], 4),
                "test loss": round(final["test_loss"], 4),
                "time, s": round(run.duration_s or 0, 1),
                "run": run_id,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class LoanStudy:
    """The runs a loan report is written from: Exp 1-5's final runs and the two sweeps."""

    final_runs: dict[str, int]
    exp4: Sweep
    exp5: Sweep


def run_study(store: RunStore, base: dict) -> LoanStudy:
    """Train Exp 1-3, sweep Exp 4's dropout, then Exp 5's (weight decay, lr) on its best p."""
    final_runs = {name: run_single(store, name, base) for name in EXPERIMENTS[:3]}
    exp4 = run_sweep(store, "loan_exp4", base)
    final_runs["loan_exp4"] = exp4.best_run
    chosen_dropout = store.get(exp4.best_run).config["dropout"]
    exp5 = run_sweep(store, "loan_exp5", {**base, "dropout": chosen_dropout})
    final_runs["loan_exp5"] = exp5.best_run
    return LoanStudy(final_runs, exp4, exp5)


def study_runs(study: LoanStudy) -> list[int]:
    """Every run of the study, in the order it was trained."""
    singles = [study.final_runs[name] for name in EXPERIMENTS[:3]]
    return singles + [int(i) for sweep in (study.exp4, study.exp5) for i in sweep.results.run_id]


def study_from_reference(store: RunStore) -> LoanStudy:
    """The study of the shipped reference runs (`core.runs.reference`) in `store`."""
    runs = reference_runs(store, STUDY)
    if not runs:
        raise LookupError("the run store holds no loan reference runs")
    final_runs = {name: runs[f"{STUDY}/{name}"] for name in EXPERIMENTS[:3]}
    sweeps = {}
    for name in EXPERIMENTS[3:]:
        sweep_id = store.get(runs[f"{STUDY}/{name}-1"]).sweep_id
        results = sweep_results(store, sweep_id)
        sweeps[name] = Sweep(sweep_id, results, int(results.loc[results["best"], "run_id"].iloc[0]))
        final_runs[name] = sweeps[name].best_run
    return LoanStudy(final_runs, sweeps["loan_exp4"], sweeps["loan_exp5"])


def curves(store: RunStore, final_runs: dict[str, int], quantity: str, label: str) -> Curves:
    """Train, val and test `quantity` per epoch, one panel per experiment."""
    panels = []
    for name, run_id in final_runs.items():
        history = store.metrics(run_id)
        series = [
            Series(split, history["epoch"].tolist(), history[f"{split}_{quantity}"].tolist(), dash)
            for split, dash in DASHES.items()
        ]
        panels.append(Panel(name.replace("loan_", "").replace("exp", "Exp "), series))
    return Curves(quantity, f"{label} per epoch", panels, y_label=label)


def sweep_figures(study: LoanStudy) -> list[Bars | Heatmap]:
    dropout = study.exp4.results
    grid = study.exp5.results.pivot_table(index="weight_decay", columns="lr", values="val_roc_auc")
    return [
        Bars(
            "sweep_dropout",
            "Exp 4: dropout sweep",
            [str(p) for p in dropout["dropout"]],
            {"val": dropout["val_roc_auc"].tolist(), "test": dropout["test_roc_auc"].tolist()},
            x_label="dropout p",
            y_label="ROC-AUC",
        ),
        Heatmap(
            "sweep_grid",
            "Exp 5: val ROC-AUC",
            [str(i) for i in grid.index],
            [str(c) for c in grid.columns],
            grid.to_numpy().tolist(),
            x_label="lr",
            y_label="weight decay",
        ),
    ]


def loan_page(store: RunStore, study: LoanStudy) -> Page:
    """The study's page (the README and the Results tab) from its runs in `store`."""
    table = results_table(store, study.final_runs)
    baseline = logistic_baseline()
    runs = [store.get(run_id) for run_id in study_runs(study)]
    seconds = sum(run.duration_s or 0 for run in runs)
    first = store.get(study.final_runs["loan_exp1"])
    predictions = np.load(first.artifacts["test_predictions"])
    facts = LoanFacts(
        table=table,
        histories={name: store.metrics(run_id) for name, run_id in study.final_runs.items()},
        dropout=study.exp4.results,
        grid=study.exp5.results,
        baseline=baseline,
        positives=int(predictions["y_true"].sum()),
        test_rows=len(predictions["y_true"]),
        train_rows=int(first.details.get("n_train", 0)),
    )
    page = Page("Loan default: Exp 1-5")
    page.add(
        "Binary classification of ISLP's `Default` data (10,000 clients: `student`, `balance`, "
        "`income` -> `default`, 3.3 % positives). One-hot `student`, standardised numerics "
        "fitted on the training split; stratified train/val/test = 65/15/20 % with seed 0. "
        "Every epoch logs loss and ROC-AUC on train, val and test. Sweeps choose on the "
        "validation split; the test split is only reported, with a 95 % bootstrap interval "
        "(1,000 resamples).",
        f"The {len(runs)} runs ship with the app as reference runs, so the Results and "
        "Training tabs show them from the first visit.",
        ForDevelopers(
            "Regenerate with `make report` (`dlstudio report loan --export-reference`); "
            "`dlstudio report loan --from-reference` rewrites this page from the shipped runs. "
            f"The runs trained for {seconds:.0f} s in all on the machine that wrote this "
            "(2 CPU cores; wall-clock, including that machine's other load)."
        ),
        "## Results",
        table,
        f"Reference: logistic regression (scikit-learn) on the same split, test ROC-AUC "
        f"{baseline:.4f}.",
        curves(store, study.final_runs, "loss", "loss"),
        curves(store, study.final_runs, "roc_auc", "ROC-AUC"),
        "## Sweeps",
        *sweep_figures(study),
        "Exp 4, dropout p:",
        study.exp4.results.drop(columns=["status"]).round(4),
        "Exp 5, weight decay x learning rate (dropout from Exp 4):",
        study.exp5.results.drop(columns=["status"]).round(4),
        "\n".join(conclusion_lines(conclusions(facts))).rstrip("\n"),
    )
    return page


@dataclass
class LoanFacts:
    """The numbers the conclusions are drawn from (and nothing else)."""

    table: pd.DataFrame  # results_table: experiment, test ROC-AUC, test 95% CI per final run
    histories: dict[str, pd.DataFrame]  # per-epoch metrics of each final run
    dropout: pd.DataFrame  # Exp 4 sweep: dropout, val_roc_auc
    grid: pd.DataFrame  # Exp 5 sweep: weight_decay, lr, val_roc_auc
    baseline: float  # the logistic regression's test ROC-AUC
    positives: int  # defaults in the test split
    test_rows: int
    train_rows: int


def conclusions(facts: LoanFacts) -> list[str]:
    """Sentences drawn from the numbers, so each changes when its numbers do."""
    return [
        final_ranking(facts),
        linear_baseline(facts),
        first_epoch(facts),
        dropout_choice(facts),
        decay_and_lr(facts),
        overfitting(facts),
    ]


def _intervals(table: pd.DataFrame) -> pd.DataFrame:
    bounds = table["test 95% CI"].str.extract(r"\[([\d.]+), ([\d.]+)\]").astype(float)
    return bounds.set_axis(["low", "high"], axis=1).set_index(table["experiment"])


def final_ranking(facts: LoanFacts) -> str:
    table = facts.table
    best = table.loc[table["test ROC-AUC"].idxmax()]
    worst = table.loc[table["test ROC-AUC"].idxmin()]
    bounds = _intervals(table)
    epochs = len(facts.histories[best["experiment"]])
    text = (
        f"After {epochs} epochs the five networks reach a test ROC-AUC between "
        f"{worst['test ROC-AUC']:.4f} ({worst['experiment']}) and {best['test ROC-AUC']:.4f} "
        f"({best['experiment']}). "
    )
    if bounds["low"].max() <= bounds["high"].min():
        return text + (
            f"Their 95 % bootstrap intervals all overlap: on this test set ({facts.positives} "
            f"defaults among {facts.test_rows:,} clients) no change is a measurable improvement."
        )
    apart = bounds.index[bounds["high"] < bounds.loc[best["experiment"], "low"]].tolist()
    return text + (
        f"{best['experiment']}'s interval lies above that of {', '.join(apart)}: a "
        "difference larger than the test set's sampling noise."
        if apart
        else "Not every pair of intervals overlaps, but none lies wholly below the best one."
    )


def linear_baseline(facts: LoanFacts) -> str:
    table = facts.table
    best = table.loc[table["test ROC-AUC"].idxmax()]
    low, high = _intervals(table).loc[best["experiment"]]
    where = f"the best network's interval [{low:.4f}, {high:.4f}]"
    if facts.baseline >= low:
        return (
            f"A logistic regression on the same split scores {facts.baseline:.4f}, "
            f"{'above' if facts.baseline > high else 'inside'} {where}: the signal in this "
            "data is nearly linear, so a deeper or wider network has little left to learn."
        )
    return (
        f"A logistic regression on the same split scores {facts.baseline:.4f}, below "
        f"{where}: the networks find signal a linear model misses."
    )


def first_epoch(facts: LoanFacts) -> str:
    after_one = {name: h["test_roc_auc"].iloc[0] for name, h in facts.histories.items()}
    plain, skip = after_one["loan_exp2"], after_one["loan_exp3"]
    text = (
        f"After the first epoch Exp 2 (three plain blocks) has a test ROC-AUC of {plain:.3f}"
        + (" (below 0.5: its ranking is upside down)" if plain < 0.5 else "")
        + f" and Exp 3 (the same with skip connections and BatchNorm) {skip:.3f}"
    )
    if skip - plain > 0.05:
        return text + (
            ": the skip path and the normalisation let the signal through the deeper stack "
            "from the first steps, while the plain stack needs a few epochs to catch up."
        )
    if plain - skip > 0.05:
        return text + ": here the plain stack starts faster."
    return text + ": both start about as fast."


def dropout_choice(facts: LoanFacts) -> str:
    dropout = facts.dropout.set_index("dropout")["val_roc_auc"]
    best, worst = dropout.idxmax(), dropout.idxmin()
    spread = dropout[best] - dropout[worst]
    width = (_intervals(facts.table)["high"] - _intervals(facts.table)["low"]).min()
    size = (
        "far smaller than"
        if spread < width / 2
        else "smaller than"
        if spread < width
        else "larger than"
    )
    return (
        f"Dropout (Exp 4): the validation ROC-AUC is highest at p = {best} ({dropout[best]:.4f}) "
        f"and lowest at p = {worst} ({dropout[worst]:.4f}), a difference {size} the width of "
        f"the test intervals above; p = {best} was kept for Exp 5, as the rule says."
    )


def decay_and_lr(facts: LoanFacts) -> str:
    pairs = facts.grid.set_index(["weight_decay", "lr"])["val_roc_auc"]
    best, worst = pairs.idxmax(), pairs.idxmin()
    text = (
        f"Weight decay and learning rate (Exp 5): the best pair on validation is weight decay "
        f"{best[0]}, lr {best[1]} ({pairs[best]:.4f}); the worst is weight decay {worst[0]}, "
        f"lr {worst[1]} ({pairs[worst]:.4f})."
    )
    by_decay = facts.grid.groupby("weight_decay")["val_roc_auc"]
    strongest = by_decay.max().index.max()
    if by_decay.max()[strongest] < by_decay.min().drop(strongest).min():
        text += (
            f" Weight decay {strongest} is the worst for every learning rate: it pulls the "
            "weights to zero harder than the data pulls them away."
        )
    return text


def overfitting(facts: LoanFacts) -> str:
    """Overfitting is a test loss that rises while the training loss falls (`loss_rise`)."""
    rises = {name: loss_rise(history) for name, history in facts.histories.items()}
    overfit = {name: rise for name, rise in rises.items() if rise and rise.overfits}
    noisy = [name for name, rise in rises.items() if rise and rise.noisy]
    epochs = max(len(history) for history in facts.histories.values())
    if overfit:
        worst = max(overfit, key=lambda name: overfit[name].rise)
        others = sorted(set(overfit) - {worst})
        return (
            f"{worst} overfits: its test loss is lowest at epoch {overfit[worst].lowest_epoch} "
            f"and ends {100 * overfit[worst].rise:.0f} % higher while its training loss keeps "
            "falling"
            + (f" (so do {', '.join(others)})" if others else "")
            + "; stopping at the best validation epoch, or more regularisation, would help."
        )
    text = f"No model overfits within {epochs} epochs: "
    if not noisy:
        return text + (
            f"every test loss ends within {100 * OVERFIT_RISE:.0f} % of its lowest value, with "
            f"{facts.train_rows:,} training rows for a handful of features."
        )
    return text + (
        f"where a test loss ends more than {100 * OVERFIT_RISE:.0f} % above its lowest value "
        f"({', '.join(noisy)}), the training loss rose with it, a noisy step of the optimiser "
        "rather than memorised training rows."
    )


def write_report(store: RunStore, study: LoanStudy, out: Path) -> Path:
    """The study's README and figures in `out`; returns the README's path."""
    return to_markdown(loan_page(store, study), out)


def reference_report(out: Path) -> Path:
    """The README written from the shipped reference runs (ids as a fresh app shows them)."""
    with fresh_reference_store() as store:
        return write_report(store, study_from_reference(store), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report loan",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's usage lines
    )
    parser.add_argument("--out", default=str(REPO_ROOT / "reports" / "loan_default"))
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    parser.add_argument("--epochs", type=int, default=None, help="override (for a quick check)")
    add_reference_options(parser)
    args = parser.parse_args(argv)
    if args.from_reference:
        print(f"wrote {reference_report(Path(args.out))}")
        return 0
    base = {} if args.epochs is None else {"epochs": args.epochs}
    store = RunStore(args.db or default_db_path())
    study = run_study(store, base)
    if args.export_reference:
        export_reference(store, STUDY, study_runs(study))
        path = reference_report(Path(args.out))
    else:
        path = write_report(store, study, Path(args.out))
    print(f"wrote {path}")
    return 0
