"""The image-classifier report: the four recipes (a)-(d) on one data set, with numbers and plots.

    dlstudio report image --data digits [--seeds 0 1 2] [--extra digits_cnn]
    dlstudio report image --data fashion --runs 12 13 14 15 16   (report on finished runs)

One sweep over `recipe` per seed runs (a) plain, (b) + gradual unfreezing and adaptive lr,
(c) + iterative augmentation and (d) all, into the run store (so the Training tab shows them);
`--extra` adds other experiments (e.g. the from-scratch CNN) with the same seeds. README.md then
gets a results table, overlaid loss and accuracy curves, the confusion matrix of the best model
(chosen on validation), example test images and conclusions computed from the numbers. On a
busy 2-core machine, OMP_NUM_THREADS=1 trains several times faster.
"""

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from core.experiments import get_experiment
from core.experiments.images import DATA_SETS, RECIPE_LABELS, RECIPE_SUFFIXES
from core.paths import REPO_ROOT, default_db_path
from core.reports.markdown import changed_values, conclusion_lines, rerun_lines, write_readme
from core.runs.execution import execute_with_progress_bar
from core.runs.store import Run, RunStore
from core.runs.sweeps import plan_sweep
from core.vision.data import load_image_dataset

GOALS = {"digits": 0.99, "fashion": 0.93}  # test accuracy the best configuration should reach


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


def _mean_sd(values: pd.Series, scale: float, digits: int) -> str:
    text = f"{values.mean() * scale:.{digits}f}"
    return text if len(values) == 1 else f"{text} ± {values.std() * scale:.{digits}f}"


def results_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: mean (± sd over seeds) of the best checkpoint's numbers."""
    table = []
    for label, group in rows.groupby("label", sort=False):
        table.append(
            {
                "configuration": label,
                "backbone": group["backbone"].iloc[0],
                "val acc, %": _mean_sd(group["val_accuracy"], 100, 2),
                "test acc, %": _mean_sd(group["test_accuracy"], 100, 2),
                "test macro-F1, %": _mean_sd(group["test_macro_f1"], 100, 2),
                "epochs to best": _mean_sd(group["best_epoch"], 1, 1),
                "train pictures": int(group["n_train"].iloc[0]),
                "s / epoch": _mean_sd(group["epoch_time_s"], 1, 1),
                "runs": ", ".join(map(str, group["run"])),
            }
        )
    return pd.DataFrame(table)


def plot_curves(store: RunStore, runs: dict[str, int], path: Path) -> None:
    """Loss (train and val) and accuracy (train and val) of each configuration, overlaid."""
    figure = Figure(figsize=(11, 3.8), layout="tight")
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    for index, (name, run_id) in enumerate(runs.items()):
        history, colour = store.metrics(run_id), f"C{index}"
        for split, style in (("train", ":"), ("val", "-")):
            label = f"{name.split(' (')[0]}, {split}"
            loss_axis.plot(history["epoch"], history[f"{split}_loss"], style, c=colour, label=label)
            accuracy_axis.plot(
                history["epoch"], history[f"{split}_accuracy"], style, c=colour, label=label
            )
    loss_axis.set_yscale("log")
    for axis, quantity in ((loss_axis, "cross-entropy loss"), (accuracy_axis, "accuracy")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(quantity)
        axis.grid(alpha=0.3)
    accuracy_axis.legend(fontsize=7, ncol=2)
    figure.savefig(path, dpi=110)


def plot_confusion(matrix: np.ndarray, classes: list[str], path: Path) -> None:
    size = max(4.0, 0.45 * len(classes) + 2)
    figure = Figure(figsize=(size, size), layout="tight")
    axis = figure.subplots()
    axis.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if count > matrix.max() / 2 else "black"
            axis.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    figure.savefig(path, dpi=110)


def plot_examples(run: Run, predictions: dict, path: Path, count: int = 8) -> None:
    """Test images with predicted and true labels: the mistakes first, then correct ones."""
    dataset = load_image_dataset(run.config["data"], run.config["data_root"] or None)
    classes = run.details["classes"]
    wrong = np.flatnonzero(predictions["y_pred"] != predictions["y_true"])
    right = np.flatnonzero(predictions["y_pred"] == predictions["y_true"])
    chosen = np.concatenate([wrong[: count // 2], right[: count - min(len(wrong), count // 2)]])
    figure = Figure(figsize=(1.6 * len(chosen), 2.0), layout="tight")
    for axis, position in zip(figure.subplots(1, len(chosen)), chosen, strict=True):
        picture = np.asarray(dataset.image(int(predictions["index"][position])))
        axis.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
        predicted = classes[predictions["y_pred"][position]]
        true = classes[predictions["y_true"][position]]
        axis.set_title(
            f"pred {predicted}\ntrue {true}",
            fontsize=8,
            color="black" if predicted == true else "red",
        )
        axis.axis("off")
    figure.savefig(path, dpi=110)


def conclusions(
    prefix: str, rows: pd.DataFrame, best: pd.Series, matrix: np.ndarray, classes: list[str]
) -> list[str]:
    """Sentences drawn from the measured numbers, so they stay true when the report is rerun."""
    means = rows.groupby("label")[["val_accuracy", "test_accuracy", "epoch_time_s"]].mean()
    seeds = rows["seed"].nunique()
    n_test = int(rows["n_test"].iloc[0])
    spread = rows.groupby("label")["test_accuracy"].std().mean() if seeds > 1 else None
    lines = [
        f"Chosen on validation, the best model is {best['label']} (seed "
        f"{best['seed']}, run {best['run']}): val accuracy {best['val_accuracy']:.2%}, test "
        f"accuracy {best['test_accuracy']:.2%}, test macro-F1 {best['test_macro_f1']:.2%}."
    ]
    if prefix in GOALS:
        goal = GOALS[prefix]
        reached = "reaches" if best["test_accuracy"] >= goal else "falls short of"
        lines.append(
            f"The model chosen on validation {reached} the goal of {goal:.0%} test accuracy "
            f"with {best['test_accuracy']:.2%}; the best configuration on test is "
            f"{means['test_accuracy'].idxmax()} with {means['test_accuracy'].max():.2%}"
            + (f" (mean of {seeds} seeds)." if seeds > 1 else ".")
        )
    noise = (
        f"the seed-to-seed standard deviation of test accuracy is {spread:.2%}"
        if spread is not None
        else f"one test image is {1 / n_test:.2%} of the {n_test} test images, and with one "
        "seed a difference of a few images is within chance"
    )
    plain = RECIPE_LABELS["plain"]
    gain = means["test_accuracy"] - means.loc[plain, "test_accuracy"]
    effects = [f"{name} {gain[name] * 100:+.2f}" for name in means.index if name != plain]
    lines.append(
        "Test accuracy against (a) plain fine-tuning, in percentage points: "
        + "; ".join(effects)
        + f". For scale: {noise}."
    )
    time_ratio = means["epoch_time_s"] / means.loc[plain, "epoch_time_s"]
    lines.append(
        "Time per epoch against plain: gradual unfreezing "
        f"{time_ratio[RECIPE_LABELS['unfreeze+lr']]:.0%} (frozen stages need no backward pass, "
        "so the early epochs are fast), iterative augmentation "
        f"{time_ratio[RECIPE_LABELS['augment']]:.0%} (each picture is transformed on its own, "
        "on the CPU)."
    )
    off_diagonal = matrix - np.diag(np.diag(matrix))
    if off_diagonal.sum() == 0:
        lines.append("The best model makes no mistake on the test set.")
    else:
        true, predicted = np.unravel_index(off_diagonal.argmax(), matrix.shape)
        count = off_diagonal[true, predicted]
        lines.append(
            f"The best model makes {off_diagonal.sum()} test mistakes; the most frequent is "
            f"{classes[true]} read as {classes[predicted]} "
            f"({'once' if count == 1 else f'{count} times'})."
        )
    return lines


def write_report(
    store: RunStore, prefix: str, run_ids: list[int], out: Path, seconds: float, command: str
) -> Path:
    rows = run_rows(store, run_ids)
    if "plain" not in set(rows["recipe"]):
        raise ValueError(
            f"the report compares every configuration with (a) plain: include a {prefix}_plain run"
        )
    out.mkdir(parents=True, exist_ok=True)
    # chosen as the runs choose their epochs: val accuracy, then the lower val loss
    best = rows.sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    best_run = store.get(int(best["run"]))
    predictions = dict(np.load(best_run.artifacts["test_predictions"]))
    classes = best_run.details["classes"]
    matrix = confusion_matrix(
        predictions["y_true"], predictions["y_pred"], labels=range(len(classes))
    )
    first_seed = rows[rows["seed"] == rows["seed"].iloc[0]]
    plot_curves(
        store, dict(zip(first_seed["label"], first_seed["run"], strict=True)), out / "curves.png"
    )
    plot_confusion(matrix, classes, out / "confusion.png")
    plot_examples(best_run, predictions, out / "examples.png")
    config = store.get(int(rows[rows["recipe"] == "plain"]["run"].iloc[0])).config
    seeds = ", ".join(map(str, sorted(rows["seed"].unique())))
    text = [
        f"# Image classifier: four fine-tuning recipes on {prefix}",
        "",
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
        "",
        f"Seeds: {seeds}. Regenerate with `{command}`: {seconds / 60:.1f} min for all "
        f"{len(rows)} runs on the machine that wrote this (2 CPU cores shared with other work; "
        "times are wall-clock).",
        "",
        "## Results",
        "",
        results_table(rows).to_markdown(index=False),
        "",
        *rerun_lines(store.get(run_id) for run_id in run_ids),
        "![loss and accuracy curves](curves.png)",
        "",
        f"Curves of seed {rows['seed'].iloc[0]}: dotted train (on the augmented batches, as the "
        "model was while training), solid val.",
        "",
        f"## The best model (run {best['run']}, {best['label']})",
        "",
        "![confusion matrix](confusion.png)",
        "",
        "![example test images](examples.png)",
        "",
        *conclusion_lines(conclusions(prefix, rows, best, matrix, classes)),
    ]
    return write_readme(out, text)


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
    args = parser.parse_args(argv)
    values = {"data_root": args.data_root, "limit_train": args.limit_train}
    if args.epochs is not None:
        values["epochs"] = args.epochs
    store = RunStore(args.db or default_db_path())
    started = time.monotonic()
    if args.runs:
        run_ids = args.runs
        seconds = sum(store.get(run_id).duration_s or 0 for run_id in run_ids)
    else:
        run_ids = [
            run_id
            for seed in args.seeds
            for run_id in run_recipes(store, args.data, seed, values)
            + [run_extra(store, name, seed, values) for name in args.extra]
        ]
        seconds = time.monotonic() - started
    command = " ".join([parser.prog, *argv])
    out = Path(args.out) if args.out else REPO_ROOT / "reports" / f"image_{args.data}"
    try:
        path = write_report(store, args.data, run_ids, out, seconds, command)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {path}")
    return 0
