"""The image-classifier study: the four recipes (a)-(d) on one data set, as a `Page`.

    dlstudio report image --data digits [--seeds 0 1 2] [--extra digits_cnn] [--export-reference]
    dlstudio report image --data fashion --runs 12 13 14 15 16   (report on finished runs)
    dlstudio report image --data digits --from-reference        (the shipped runs' page)

One sweep over `recipe` per seed runs (a) plain, (b) + gradual unfreezing and adaptive lr,
(c) + iterative augmentation and (d) all, into the run store (so the Training tab shows them);
`--extra` adds other experiments (e.g. the from-scratch CNN) with the same seeds. The page (the
README and the Results tab) gets a results table with intervals and a paired test of each
recipe against (a), loss and accuracy curves, the confusion matrix of the best model (chosen on
validation), example test pictures and conclusions computed from the numbers.
`--export-reference` ships the new runs as the app's reference runs (study `image_DATA`). On a
busy 2-core machine, OMP_NUM_THREADS=1 trains several times faster.
"""

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from core.experiments import get_experiment
from core.experiments.images import DATA_SETS, RECIPE_LABELS, RECIPE_SUFFIXES
from core.paths import REPO_ROOT, default_db_path
from core.reports.accuracy import (
    accuracy_interval,
    interval_text,
    mean_sd,
    paired_by_seed,
    right_answers,
    test_predictions,
)
from core.reports.markdown import (
    add_reference_options,
    changed_values,
    conclusion_lines,
    rerun_lines,
)
from core.reports.page import (
    Curves,
    ForDevelopers,
    Heatmap,
    Page,
    Panel,
    Pictures,
    Series,
    to_markdown,
)
from core.runs.execution import execute_with_progress_bar
from core.runs.reference import export_reference, fresh_reference_store, reference_runs
from core.runs.store import Run, RunStore
from core.runs.sweeps import plan_sweep
from core.vision.data import load_image_dataset

# What an earlier run of a study found, kept under its page with the measurement.
FOOTNOTES = {
    "fashion": (
        "## Footnote: at 32x32 the pretrained network sees nothing",
        "An earlier run of these recipes at 32x32 (6,000 training pictures, 4 epochs, seed 0) "
        "found (b) and (d) failing: 34.70 % and 33.38 % test accuracy against 82.47 % for (a) "
        "and 80.07 % for (c). At that size the ImageNet network's pooled features barely vary "
        "between pictures (mean per-feature standard deviation 1e-4 over 1,200 Fashion-MNIST "
        "pictures, linear probe 14 %; at 64x64: 0.41 and 77 %), so a head trained on the "
        "frozen network learns nothing. That table answered what fails at 32x32, not which "
        "recipe helps, so the recipes now run at 64x64.",
    ),
}
GOALS = {"digits": 0.99, "fashion": 0.93}  # test accuracy the best configuration should reach
ALPHA = 0.05  # the significance level the conclusions name


def run_recipes(store: RunStore, prefix: str, seed: int, values: dict) -> list[int]:
    """One sweep over the four recipes of `prefix` with `seed`; returns the run ids."""
    name = f"{prefix}_plain"
    grid = get_experiment(name).grid
    sweep_id = f"report-{prefix}-seed{seed}-{int(time.time())}"
    run_ids = [
        store.create(name, config, sweep_id, {"swept_keys": list(grid)})
        for config in plan_sweep(name, {**values, "seed": seed}, grid)
    ]
    for index, run_id in enumerate(run_ids, 1):
        execute_with_progress_bar(store, run_id, f"{prefix} seed {seed} recipe {index}/4")
    return run_ids


def run_label(run: Run) -> str:
    """(a)-(d) for the four recipes' experiments; else the experiment's name with the config
    values that differ from its defaults (so two variants of one experiment stay apart)."""
    if run.experiment.endswith(tuple(f"_{suffix}" for suffix in RECIPE_SUFFIXES)):
        return RECIPE_LABELS[run.config["recipe"]]
    return " ".join([run.experiment, *(f"{k}={v}" for k, v in changed_values(run).items())])


def run_extra(store: RunStore, name: str, seed: int, values: dict) -> int:
    """One run of experiment `name` with `seed`; returns its id."""
    config = get_experiment(name).make_config({**values, "seed": seed})
    run_id = store.create(name, asdict(config))
    execute_with_progress_bar(store, run_id, f"{name} seed {seed}")
    return run_id


def run_rows(store: RunStore, run_ids: list[int]) -> pd.DataFrame:
    """One row per finished run: its recipe, seed and results."""
    rows = []
    for run_id in run_ids:
        run = store.get(run_id)
        if run.status != "done":
            raise RuntimeError(f"run {run_id} ended {run.status}: {run.error}")
        history = store.metrics(run_id)
        best_epoch = history[history["epoch"] == run.details["best_epoch"]].iloc[0]
        rows.append(
            {
                "run": run_id,
                "label": run_label(run),
                "recipe": run.config["recipe"],
                "seed": run.config["seed"],
                "backbone": run.config["backbone"],
                "val_accuracy": run.details["best_val_accuracy"],
                "val_loss": best_epoch["val_loss"],
                "test_accuracy": run.details["best_test_accuracy"],
                "test_macro_f1": run.details["best_test_macro_f1"],
                "best_epoch": run.details["best_epoch"],
                "epochs": len(history),
                "epoch_time_s": history["epoch_time_s"].mean(),
                "n_train": run.details["n_train"],
                "n_test": run.details["n_test"],
            }
        )
    return pd.DataFrame(rows)


def against_plain(store: RunStore, rows: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: its test accuracy minus (a)'s, in points (over the seeds both ran),
    and the p-value of a paired test over the same (seed, test picture) pairs."""
    answers = {run: right_answers(store.get(int(run))) for run in rows["run"]}  # read once
    by_seed = {
        label: {seed: answers[run] for seed, run in zip(group["seed"], group["run"], strict=True)}
        for label, group in rows.groupby("label", sort=False)
    }
    plain = by_seed.get(RECIPE_LABELS["plain"], {})
    found = [
        {"label": label, **paired_by_seed(seeds, plain)}
        for label, seeds in by_seed.items()
        if label != RECIPE_LABELS["plain"] and set(seeds) & set(plain)
    ]
    return pd.DataFrame(found, columns=["label", "points", "p_value", "pairs"])


def results_table(rows: pd.DataFrame, paired: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: mean (± sd over seeds) of the best checkpoint's numbers, the 95 %
    interval of test accuracy and the paired comparison with (a)."""
    versus = paired.set_index("label")
    table = []
    for label, group in rows.groupby("label", sort=False):
        low, high = accuracy_interval(group["test_accuracy"].tolist(), int(group["n_test"].iloc[0]))
        compared = label in versus.index
        table.append(
            {
                "configuration": label,
                "backbone": group["backbone"].iloc[0],
                "val acc, %": mean_sd(group["val_accuracy"], 100, 2),
                "test acc, %": mean_sd(group["test_accuracy"], 100, 2),
                "95 % interval": interval_text(low, high),
                "vs (a), pt": f"{versus.loc[label, 'points']:+.2f}" if compared else "",
                "p vs (a)": f"{versus.loc[label, 'p_value']:.3g}" if compared else "",
                "test macro-F1, %": mean_sd(group["test_macro_f1"], 100, 2),
                "epochs to best": mean_sd(group["best_epoch"], 1, 1),
                "train pictures": int(group["n_train"].iloc[0]),
                "s / epoch": mean_sd(group["epoch_time_s"], 1, 1),
                "runs": ", ".join(map(str, group["run"])),
            }
        )
    return pd.DataFrame(table)


def mean_histories(store: RunStore, rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per configuration, its per-epoch metrics over its seeds: each column's mean, and its
    lowest and highest as COLUMN_min and COLUMN_max (the seed spread the curves shade)."""
    histories = {}
    for label, group in rows.groupby("label", sort=False):
        epochs = pd.concat([store.metrics(int(run)) for run in group["run"]]).groupby("epoch")
        lowest, highest = epochs.min(numeric_only=True), epochs.max(numeric_only=True)
        histories[label] = (
            epochs.mean(numeric_only=True)
            .join(lowest.add_suffix("_min"))
            .join(highest.add_suffix("_max"))
            .reset_index()
        )
    return histories


def seed_series(label: str, history: pd.DataFrame, column: str) -> Series:
    """A line of `column` against the epoch, shaded from its lowest to its highest seed when
    the history holds several (`mean_histories`)."""
    low, high = history.get(f"{column}_min"), history.get(f"{column}_max")
    spread = None
    if low is not None and high is not None and (low != high).any():
        spread = (low.tolist(), high.tolist())
    return Series(label, history["epoch"].tolist(), history[column].tolist(), spread=spread)


def split_curves(
    histories: dict[str, pd.DataFrame], quantity: str, label: str, name: str = ""
) -> Curves:
    """`quantity` per epoch, a panel per split (train, val), a line per labelled history;
    `name` is the figure's file stem (default: the quantity)."""
    panels = [
        Panel(
            split,
            [seed_series(line, h, f"{split}_{quantity}") for line, h in histories.items()],
        )
        for split in ("train", "val")
    ]
    return Curves(
        name or quantity, f"{label} per epoch", panels, y_label=label, log_y=quantity == "loss"
    )


def confusion_heatmap(matrix: np.ndarray, classes: list[str]) -> Heatmap:
    return Heatmap(
        "confusion",
        "Confusion matrix of the best model (test pictures)",
        [str(name) for name in classes],
        [str(name) for name in classes],
        matrix.tolist(),
        x_label="predicted",
        y_label="true",
        digits=0,
    )


def example_pictures(run: Run, predictions: dict, count: int = 8) -> Pictures | None:
    """Test pictures with predicted and true labels, the mistakes first; None when the data
    set is not on this machine."""
    try:
        dataset = load_image_dataset(run.config["data"], run.config["data_root"] or None)
    except (OSError, ValueError):
        return None
    classes = run.details["classes"]
    wrong = np.flatnonzero(predictions["y_pred"] != predictions["y_true"])
    right = np.flatnonzero(predictions["y_pred"] == predictions["y_true"])
    chosen = np.concatenate([wrong[: count // 2], right[: count - min(len(wrong), count // 2)]])
    predicted = [classes[predictions["y_pred"][i]] for i in chosen]
    true = [classes[predictions["y_true"][i]] for i in chosen]
    return Pictures(
        "examples",
        "Test pictures: predicted and true class (mistakes in red)",
        [np.asarray(dataset.image(int(predictions["index"][i]))) for i in chosen],
        [f"pred {p}\ntrue {t}" for p, t in zip(predicted, true, strict=True)],
        [p != t for p, t in zip(predicted, true, strict=True)],
    )


@dataclass
class RecipeFacts:
    """The numbers the conclusions are drawn from (and nothing else)."""

    prefix: str  # the data set
    rows: pd.DataFrame  # run_rows: one row per run
    paired: pd.DataFrame  # against_plain: label, points, p_value
    best: pd.Series  # the run chosen on validation (a row of `rows`)
    matrix: np.ndarray  # its test confusion matrix
    classes: list[str]


def conclusions(facts: RecipeFacts) -> list[str]:
    """Sentences drawn from the measured numbers, so they stay true when the report is rerun."""
    rows, best = facts.rows, facts.best
    means = rows.groupby("label")[["val_accuracy", "test_accuracy", "epoch_time_s"]].mean()
    seeds = rows["seed"].nunique()
    lines = [
        f"Chosen on validation, the best model is {best['label']} (seed "
        f"{best['seed']}, run {best['run']}): val accuracy {best['val_accuracy']:.2%}, test "
        f"accuracy {best['test_accuracy']:.2%}, test macro-F1 {best['test_macro_f1']:.2%}."
    ]
    if facts.prefix in GOALS:
        goal = GOALS[facts.prefix]
        reached = "reaches" if best["test_accuracy"] >= goal else "falls short of"
        lines.append(
            f"The model chosen on validation {reached} the goal of {goal:.0%} test accuracy "
            f"with {best['test_accuracy']:.2%}; the best configuration on test is "
            f"{means['test_accuracy'].idxmax()} with {means['test_accuracy'].max():.2%}"
            + (f" (mean of {seeds} seeds)." if seeds > 1 else ".")
        )
    lines.append(comparison_sentence(facts.paired, seeds, int(rows["n_test"].iloc[0])))
    plain = RECIPE_LABELS["plain"]
    time_ratio = means["epoch_time_s"] / means.loc[plain, "epoch_time_s"]
    unfreezing, augmenting = (time_ratio[RECIPE_LABELS[r]] for r in ("unfreeze+lr", "augment"))
    lines.append(
        "Time per epoch against plain, wall-clock on a machine whose other load changed while "
        f"the runs trained: gradual unfreezing {unfreezing:.0%}"
        + (" (frozen stages need no backward pass)" if unfreezing < 1 else "")
        + f", iterative augmentation {augmenting:.0%}"
        + (" (each picture is transformed on its own, on the CPU)" if augmenting > 1 else "")
        + "."
    )
    lines.append(mistakes_sentence(facts.matrix, facts.classes))
    return lines


def comparison_sentence(paired: pd.DataFrame, seeds: int, n_test: int) -> str:
    """Each configuration against (a), and which differences are more than chance."""
    effects = "; ".join(
        f"{row.label} {row.points:+.2f} (p = {row.p_value:.2g})" for row in paired.itertuples()
    )
    significant = paired[paired["p_value"] < ALPHA]
    if significant.empty:
        verdict = (
            f"none of the differences is significant at the {ALPHA:.0%} level, so these runs "
            "do not show that any recipe beats plain fine-tuning here"
        )
    else:
        verdict = "at the {:.0%} level, {}".format(
            ALPHA,
            "; ".join(
                f"{row.label} is {'better' if row.points > 0 else 'worse'} than (a)"
                for row in significant.itertuples()
            ),
        )
    seeds_text = f"{seeds} seed{'s' if seeds > 1 else ''}"
    return (
        f"Test accuracy against (a) plain fine-tuning, in percentage points, paired over the "
        f"same {n_test} test pictures and {seeds_text} (one picture is {1 / n_test:.2%}): "
        f"{effects}; {verdict}."
    )


def mistakes_sentence(matrix: np.ndarray, classes: list[str]) -> str:
    off_diagonal = matrix - np.diag(np.diag(matrix))
    if off_diagonal.sum() == 0:
        return "The best model makes no mistake on the test set."
    true, predicted = np.unravel_index(off_diagonal.argmax(), matrix.shape)
    count = off_diagonal[true, predicted]
    return (
        f"The best model makes {off_diagonal.sum()} test mistakes; the most frequent is "
        f"{classes[true]} read as {classes[predicted]} "
        f"({'once' if count == 1 else f'{count} times'})."
    )


def recipes_page(store: RunStore, prefix: str, run_ids: list[int]) -> Page:
    """The study's page (the README and the Results tab) from these finished runs."""
    rows = run_rows(store, run_ids)
    if "plain" not in set(rows["recipe"]):
        raise ValueError(
            f"the report compares every configuration with (a) plain: include a {prefix}_plain run"
        )
    paired = against_plain(store, rows)
    # chosen as the runs choose their epochs: val accuracy, then the lower val loss
    best = rows.sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    best_run = store.get(int(best["run"]))
    predictions = test_predictions(best_run)
    classes = best_run.details["classes"]
    matrix = confusion_matrix(
        predictions["y_true"], predictions["y_pred"], labels=range(len(classes))
    )
    facts = RecipeFacts(prefix, rows, paired, best, matrix, classes)
    config = store.get(int(rows[rows["recipe"] == "plain"]["run"].iloc[0])).config
    seeds = sorted(rows["seed"].unique())
    histories = mean_histories(store, rows)
    seconds = sum(store.get(int(run)).duration_s or 0 for run in rows["run"])
    pictures = example_pictures(best_run, predictions)
    page = Page(f"Image classifier: four fine-tuning recipes on {prefix}")
    page.add(
        f"{DATA_SETS[prefix][0]}. Every recipe starts from the same ImageNet-pretrained "
        f"{config['backbone']} with the same split, {config['epochs']} epochs, batch "
        f"{config['batch_size']}, {config['optimizer']} at lr {config['lr']}: the sweep over "
        "`recipe` changes nothing else. (a) fine-tunes the whole network at a constant lr; "
        "(b) trains the head alone first and unfreezes one stage per "
        f"{config['unfreeze_every']} epoch(s) towards the stem, each earlier stage at "
        f"{config['stage_lr_decay']} times the next one's lr, BatchNorm statistics kept, with "
        f"{config['warmup_epochs']} warm-up epoch(s) then a cosine lr; (c) adds augmentation "
        "that grows with the epoch (none, then shifts/rotations/zoom, then elastic distortion "
        "or random erasing); (d) does both. Each run keeps its best epoch by val accuracy; "
        "the test numbers are that checkpoint's.",
        f"Seeds: {', '.join(map(str, seeds))} ({len(rows)} runs).",
        ForDevelopers(
            f"Regenerate with `dlstudio report image --data {prefix} --seeds "
            f"{' '.join(map(str, seeds))}{study_flags(prefix, config)} --export-reference`; "
            "`dlstudio report image --data "
            f"{prefix} --from-reference` rewrites this page from the shipped runs. The runs "
            f"trained for {seconds / 60:.0f} min in all on the machine that wrote this (2 CPU "
            "cores, wall-clock, including that machine's other load).\n\n"
            + "\n".join(rerun_lines(store.get(int(run)) for run in rows["run"])).rstrip("\n")
        ),
        "## Results",
        results_table(rows, paired),
        "Values are the mean over seeds (± their standard deviation). 95 % interval: of the "
        + (
            "mean test accuracy over seeds (t; Wilson's over the test pictures where that is "
            "wider)."
            if len(seeds) > 1
            else "test accuracy over the test pictures (Wilson), one run per configuration."
        )
        + " vs (a): the difference from (a) plain fine-tuning, in points; p: a one-sided "
        "paired sign-flip test over the (seed, test picture) pairs where the two disagree.",
        split_curves(histories, "loss", "cross-entropy loss"),
        split_curves(histories, "accuracy", "accuracy"),
        "Train curves are measured on the augmented batches, as the model was while training; "
        + (
            "each line is the mean over seeds, shaded from the lowest to the highest seed."
            if len(seeds) > 1
            else "one seed."
        ),
        f"## The best model (run {best['run']}, {best['label']})",
        confusion_heatmap(matrix, classes),
        pictures if pictures else "(The test pictures are not on this machine.)",
        "\n".join(conclusion_lines(conclusions(facts))).rstrip("\n"),
        *FOOTNOTES.get(prefix, ()),
    )
    return page


def study_flags(prefix: str, config: dict) -> str:
    """The `report image` flags that give the runs' epochs and training pictures, where these
    differ from the experiment's defaults."""
    defaults = get_experiment(f"{prefix}_plain").make_config()
    return "".join(
        f" --{key.replace('_', '-')} {config[key]}"
        for key in ("epochs", "limit_train")
        if config[key] != getattr(defaults, key)
    )


def page_from_reference(store: RunStore, prefix: str) -> Page:
    """The page of the shipped reference runs of `prefix` (`core.runs.reference`)."""
    runs = reference_runs(store, study_name(prefix))
    if not runs:
        raise LookupError(f"the run store holds no reference runs of the {prefix} recipes")
    return recipes_page(store, prefix, list(runs.values()))


def study_name(prefix: str) -> str:
    """The reference-run study of one data set's recipes (also its reports/ folder)."""
    return f"image_{prefix}"


def reference_report(prefix: str, out: Path) -> Path:
    """The README written from the shipped reference runs (ids as a fresh app shows them)."""
    with fresh_reference_store() as store:
        return to_markdown(page_from_reference(store, prefix), out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's usage lines
    )
    parser.add_argument("--data", default="digits", choices=sorted(DATA_SETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default=None, help="default: reports/image_DATA")
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    parser.add_argument("--data-root", default="", help="folder of MNIST or AFHQ")
    parser.add_argument("--epochs", type=int, default=None, help="override (for a quick check)")
    parser.add_argument("--limit-train", type=int, default=0, help="train on fewer pictures")
    parser.add_argument("--extra", nargs="*", default=[], help="other experiments to compare")
    parser.add_argument("--runs", type=int, nargs="*", help="report on these finished runs")
    add_reference_options(parser)
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else REPO_ROOT / "reports" / study_name(args.data)
    if args.from_reference:
        print(f"wrote {reference_report(args.data, out)}")
        return 0
    values = {"data_root": args.data_root, "limit_train": args.limit_train}
    if args.epochs is not None:
        values["epochs"] = args.epochs
    store = RunStore(args.db or default_db_path())
    run_ids = args.runs or [
        run_id
        for seed in args.seeds
        for run_id in run_recipes(store, args.data, seed, values)
        + [run_extra(store, name, seed, values) for name in args.extra]
    ]
    try:
        page = recipes_page(store, args.data, run_ids)
    except ValueError as error:
        parser.error(str(error))
    if args.export_reference:
        export_reference(store, study_name(args.data), run_ids)
        path = reference_report(args.data, out)
    else:
        path = to_markdown(page, out)
    print(f"wrote {path}")
    return 0
