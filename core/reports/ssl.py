"""The self-supervised report: context-prediction pretraining against random init at
100 %, 50 % and 10 % of the labels, with learning speed, plateaus and best metrics.

    dlstudio report ssl --data digits                 (pretext, then 6 classifier runs)
    dlstudio report ssl --data fashion --imagenet     (+ the ImageNet EfficientNet-Lite0)
    dlstudio report ssl --data fashion --runs 16 17 18 19 20 21 22   (finished runs)

The pretext run (DATA_context) pretrains the SmallCNN trunk on the training pictures without
labels; each label fraction then trains the same classifier (DATA_finetune) twice, from random
init and from that trunk (init_from), with every other setting equal. reports/ssl/DATA/README.md
gets the table, overlaid curves and conclusions computed from the numbers. Plateau: the run's
last val-accuracy gain above PLATEAU_EPSILON, if PLATEAU_PATIENCE epochs without one follow it
(core.reports.plateau). On a busy 2-core machine, OMP_NUM_THREADS=1 trains several times faster.
"""

import argparse
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.experiments import get_experiment
from core.experiments.pretext import LABEL_FRACTIONS, SSL_DATA
from core.paths import REPO_ROOT, default_db_path
from core.reports.accuracy import (
    accuracy_interval,
    interval_text,
    mean_sd,
    paired_by_seed,
    right_answers,
)
from core.reports.images import mean_histories, run_rows, seed_series
from core.reports.markdown import add_reference_options, conclusion_lines, rerun_lines
from core.reports.page import DASHES, Curves, ForDevelopers, Page, Panel, Series, to_markdown
from core.reports.plateau import epochs_to_fraction, plateau_epoch, seconds_to_epoch
from core.runs.execution import execute_with_progress_bar
from core.runs.reference import export_reference, fresh_reference_store, reference_runs
from core.runs.store import Run, RunStore
from core.runs.sweeps import plan_sweep
from core.vision.pretext import CHANCE

PLATEAU_PATIENCE = 3  # epochs without a val-accuracy gain ...
PLATEAU_EPSILON = 0.002  # ... larger than 0.2 percentage points
SPEED_FRACTION = 0.9  # "fast": epochs until 90 % of the best value (of the fall, for losses)
INITS = ("random", "context", "imagenet")
INIT_LABELS = {
    "random": "random init",
    "context": "context-prediction pretrained",
    "imagenet": "ImageNet EfficientNet-Lite0",
}
IMAGENET_VALUES = {"backbone": "efficientnet_lite0", "pretrained": True, "input_size": 32}


def init_of(run: Run) -> str:
    """random, context or imagenet: how a classifier run's network started."""
    if run.config.get("init_from"):
        return "context"
    return "imagenet" if run.config["pretrained"] else "random"


def launch(store: RunStore, prefix: str, imagenet: bool, seed: int) -> list[int]:
    """The pretext run, then one sweep over the label fractions per initialisation."""
    context = f"{prefix}_context"
    config = get_experiment(context).make_config({"seed": seed})
    pretext = store.create(context, asdict(config))
    execute_with_progress_bar(store, pretext, f"{context} (pretext)")
    if store.get(pretext).status != "done":
        raise RuntimeError(f"the pretext run {pretext} ended {store.get(pretext).status}")
    starts = {"random": {}, "context": {"init_from": str(pretext)}}
    if imagenet:
        starts["imagenet"] = IMAGENET_VALUES
    name, grid = f"{prefix}_finetune", {"label_fraction": LABEL_FRACTIONS}
    run_ids = [pretext]
    for init, values in starts.items():
        sweep_id = f"ssl-{prefix}-{init}-{int(time.time())}"
        for config in plan_sweep(name, {**values, "seed": seed}, grid):
            run_id = store.create(name, config, sweep_id, {"swept_keys": list(grid)})
            execute_with_progress_bar(store, run_id, f"{init} {config['label_fraction']:.0%}")
            run_ids.append(run_id)
    return run_ids


def speed_row(store: RunStore, run_id: int, classes: int) -> dict:
    """Plateau epoch and how fast the curves of one classifier run get close to their best."""
    history = store.metrics(run_id)
    times = history["epoch_time_s"].tolist()
    accuracy_epoch = epochs_to_fraction(history["val_accuracy"].tolist(), SPEED_FRACTION)
    chance_loss = math.log(classes)

    def loss_epoch(split: str) -> int | None:
        values = history[f"{split}_loss"].tolist()
        return epochs_to_fraction(values, SPEED_FRACTION, start=chance_loss, mode="min")

    return {
        "plateau_epoch": plateau_epoch(
            history["val_accuracy"].tolist(), PLATEAU_PATIENCE, PLATEAU_EPSILON
        ),
        "acc_epochs": accuracy_epoch,
        "acc_seconds": seconds_to_epoch(times, accuracy_epoch),
        "train_loss_epochs": loss_epoch("train"),
        "val_loss_epochs": loss_epoch("val"),
        "min_val_loss": float(history["val_loss"].min()),
        "seconds": float(sum(times)),
    }


def classifier_rows(store: RunStore, run_ids: list[int]) -> pd.DataFrame:
    """One row per classifier run: its fraction, init, seed, best numbers and speed."""
    rows = run_rows(store, run_ids)
    runs = [store.get(run_id) for run_id in run_ids]
    rows["fraction"] = [run.config["label_fraction"] for run in runs]
    rows["init"] = [init_of(run) for run in runs]
    speed = [speed_row(store, run.id, len(run.details["classes"])) for run in runs]
    return pd.concat([rows, pd.DataFrame(speed)], axis=1)


def _epochs(value) -> str:
    return "none (still rising)" if value is None or pd.isna(value) else str(int(value))


def _per_seed(values: pd.Series) -> str:
    """Each seed's epoch, "none" where the curve was still rising: "6, 5, none"."""
    if len(values) == 1:
        return _epochs(values.iloc[0])
    return ", ".join("none" if pd.isna(v) else str(int(v)) for v in values)


def _mean(values: pd.Series, digits: int = 1) -> str:
    """The mean over seeds, "none" when no seed got there."""
    known = values.dropna()
    if known.empty:
        return "none"
    text = f"{known.mean():.{digits}f}"
    return text if len(known) == len(values) else f"{text} ({len(known)} of {len(values)} seeds)"


def against_random(store: RunStore, rows: pd.DataFrame) -> pd.DataFrame:
    """Per label fraction and pretrained init: its test accuracy minus random init's, in points
    (over the seeds both ran), and a paired sign-flip test over the (seed, test picture) pairs."""

    def by_seed(group: pd.DataFrame) -> dict[int, pd.Series]:
        return {
            seed: right_answers(store.get(int(run)))
            for seed, run in zip(group["seed"], group["run"], strict=True)
        }

    found = []
    for fraction, labelled in rows.groupby("fraction"):
        random = by_seed(labelled[labelled["init"] == "random"])
        for init, group in labelled[labelled["init"] != "random"].groupby("init"):
            seeds = by_seed(group)
            if set(seeds) & set(random):
                found.append({"fraction": fraction, "init": init, **paired_by_seed(seeds, random)})
    return pd.DataFrame(found, columns=["fraction", "init", "points", "p_value", "pairs"])


def results_table(rows: pd.DataFrame, paired: pd.DataFrame) -> pd.DataFrame:
    """Per label fraction and init: the mean (± sd) over seeds of the best numbers, the 95 %
    interval of test accuracy, the paired comparison with random init, and speed and plateau
    (per seed where a mean would hide a "none")."""
    versus = paired.set_index(["fraction", "init"])
    table = []
    ordered = rows.sort_values(["fraction", "init"], ascending=[False, True], key=_init_order)
    for (fraction, init), group in ordered.groupby(["fraction", "init"], sort=False):
        group = group.sort_values("seed")
        low, high = accuracy_interval(group["test_accuracy"].tolist(), int(group["n_test"].iloc[0]))
        compared = (fraction, init) in versus.index
        table.append(
            {
                "labels": f"{fraction:.0%} ({int(group['n_train'].iloc[0])})",
                "init": INIT_LABELS[init],
                "seeds": len(group),
                "best val acc, %": mean_sd(group["val_accuracy"], 100, 2),
                "test acc, %": mean_sd(group["test_accuracy"], 100, 2),
                "95 % interval": interval_text(low, high),
                "vs random, pt": f"{versus.loc[(fraction, init), 'points']:+.2f}"
                if compared
                else "",
                "p vs random": f"{versus.loc[(fraction, init), 'p_value']:.3g}" if compared else "",
                "min val loss": mean_sd(group["min_val_loss"], 1, 3),
                "plateau epoch (per seed)": _per_seed(group["plateau_epoch"]),
                "epochs to 90 % val acc": _mean(group["acc_epochs"]),
                "s to 90 % val acc": _mean(group["acc_seconds"], 0),
                "epochs to 90 % of train-loss fall": _mean(group["train_loss_epochs"]),
                "epochs to 90 % of val-loss fall": _mean(group["val_loss_epochs"]),
                "epochs": int(group["epochs"].max()),
                "s total": _mean(group["seconds"], 0),
                "runs": ", ".join(map(str, group["run"])),
            }
        )
    return pd.DataFrame(table)


def _init_order(column: pd.Series) -> pd.Series:
    return column.map(INITS.index) if column.name == "init" else column


def fraction_curves(store: RunStore, rows: pd.DataFrame) -> list[Curves]:
    """Per label fraction: train loss, val loss and val accuracy against the epoch, a line per
    init (the mean over seeds, shaded from the lowest to the highest seed)."""
    figures = []
    for fraction in sorted(rows["fraction"].unique(), reverse=True):
        group = rows[rows["fraction"] == fraction].sort_values("init", key=_init_order)
        histories = mean_histories(store, group.assign(label=group["init"].map(INIT_LABELS)))
        panels = [
            Panel(title, [seed_series(init, h, column) for init, h in histories.items()])
            for column, title in (
                ("train_loss", "train loss"),
                ("val_loss", "val loss"),
                ("val_accuracy", "val accuracy"),
            )
        ]
        figures.append(
            Curves(f"curves_{round(100 * fraction)}", f"{fraction:.0%} of the labels", panels)
        )
    return figures


def pretext_curves(history: pd.DataFrame) -> Curves:
    """The pretext task's accuracy per split (the mean over seeds, shaded by their spread)."""
    splits = [
        replace(seed_series(split, history, f"{split}_accuracy"), dash=dash)
        for split, dash in DASHES.items()
    ]
    chance = Series("chance (1/8)", [history["epoch"].min(), history["epoch"].max()], [CHANCE] * 2)
    return Curves(
        "pretext",
        "Pretext task: relative-position accuracy",
        [Panel("context prediction", [*splits, chance])],
        y_label="relative-position accuracy",
    )


def conclusions(
    rows: pd.DataFrame, pretext_accuracies: list[float], paired: pd.DataFrame | None = None
) -> list[str]:
    """Sentences computed from the numbers, so they stay true when the report is rerun: the
    pretext task, then per label fraction the assignment's four comparisons (loss speed, metric
    speed, plateau, best metric), a gain called a difference only when the paired test says so."""
    seeds = rows["seed"].nunique()
    accuracy = float(np.mean(pretext_accuracies))
    spread = (
        f" (seeds {min(pretext_accuracies):.1%}-{max(pretext_accuracies):.1%})"
        if len(pretext_accuracies) > 1
        else ""
    )
    lines = [
        f"The pretext task is learned: {accuracy:.1%} relative-position accuracy on held-out "
        f"val pairs{spread}, against {CHANCE:.1%} by chance."
    ]
    if paired is None:
        paired = pd.DataFrame(columns=["fraction", "init", "points", "p_value"])
    versus = paired.set_index(["fraction", "init"])
    for fraction in sorted(rows["fraction"].unique(), reverse=True):
        group = rows[rows["fraction"] == fraction]
        if not {"random", "context"} <= set(group["init"]):
            continue
        mean = group.groupby("init")[
            ["test_accuracy", "min_val_loss", "acc_epochs", "train_loss_epochs"]
        ].mean()
        random, context = mean.loc["random"], mean.loc["context"]
        n_test = int(group["n_test"].iloc[0])
        gain = 100 * (context["test_accuracy"] - random["test_accuracy"])
        verdict = ""
        if (fraction, "context") in versus.index:
            p = versus.loc[(fraction, "context"), "p_value"]
            verdict = (
                f"; a difference at the 5 % level, paired p = {p:.3g}"
                if p < 0.05
                else f"; within chance, paired p = {p:.3g}"
            )
        plateaus = {
            init: _per_seed(group[group["init"] == init].sort_values("seed")["plateau_epoch"])
            for init in ("context", "random")
        }
        lines.append(
            f"{fraction:.0%} of the labels ({int(group['n_train'].iloc[0])} pictures"
            + (f", mean of {seeds} seeds" if seeds > 1 else "")
            + f"): best metric: pretrained {context['test_accuracy']:.2%} test accuracy against "
            f"{random['test_accuracy']:.2%} from random init ({gain:+.2f} points, "
            f"{abs(gain) / 100 * n_test:.0f} of {n_test} test pictures{verdict}); metric speed: "
            f"90 % of the best val accuracy after {context['acc_epochs']:.1f} against "
            f"{random['acc_epochs']:.1f} epochs; loss speed: 90 % of the train-loss fall after "
            f"{context['train_loss_epochs']:.1f} against {random['train_loss_epochs']:.1f} "
            f"epochs, val loss down to {context['min_val_loss']:.3f} against "
            f"{random['min_val_loss']:.3f}; plateau epoch {plateaus['context']} against "
            f"{plateaus['random']}."
        )
    by_fraction = rows.pivot_table(index="fraction", columns="init", values="test_accuracy")
    if {"random", "context"} <= set(by_fraction.columns) and len(by_fraction) > 1:
        gains = (by_fraction["context"] - by_fraction["random"]).sort_index(ascending=False)
        trend = (
            "grows as labels get scarcer"
            if gains.is_monotonic_increasing
            else "does not grow steadily as labels get scarcer"
        )
        noise = (
            f"Each figure is the mean of {seeds} seeds; the paired tests above say which gains "
            "exceed chance."
            if seeds > 1
            else "One seed per configuration: differences of a few tenths of a point are "
            "within the seed-to-seed noise."
        )
        lines.append(
            "The pretrained trunk's test-accuracy gain, from most to fewest labels: "
            + ", ".join(f"{100 * g:+.2f}" for g in gains)
            + f" points: it {trend}. {noise}"
        )
    if "imagenet" in set(rows["init"]):
        best = rows.loc[rows[rows["init"] == "imagenet"]["test_accuracy"].idxmax()]
        lines.append(
            f"ImageNet-pretrained EfficientNet-Lite0 (another architecture, 32x32 input) "
            f"reaches {best['test_accuracy']:.2%} at {best['fraction']:.0%} of the labels."
        )
    return lines


def epochs_text(rows: pd.DataFrame) -> str:
    """ "10 epochs", or the epochs of each label fraction where they differ."""
    by_fraction = rows.groupby("fraction")["epochs"].max().sort_index(ascending=False)
    if by_fraction.nunique() == 1:
        return f"{by_fraction.iloc[0]} epochs"
    return "epochs " + ", ".join(f"{e} at {f:.0%}" for f, e in by_fraction.items())


def check_runs(prefix: str, pretexts: list[Run], rows: pd.DataFrame) -> None:
    """Refuse a set of runs the page cannot compare: no pretext run, two of one seed, or two
    classifiers of one label fraction, init and seed."""
    if not pretexts:
        raise ValueError(f"give one {prefix}_context run per seed among --runs, not none")
    seeds = [run.config["seed"] for run in pretexts]
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"give one {prefix}_context run per seed; seeds {sorted(seeds)}")
    repeated = rows[rows.duplicated(["fraction", "init", "seed"], keep=False)]
    if len(repeated):
        raise ValueError(
            "give one run per label fraction, init and seed; more than one: runs "
            + ", ".join(map(str, repeated["run"]))
        )


def pretext_text(pretexts: list[Run]) -> str:
    """What the pretext runs did, from the first one's config (the seeds share it)."""
    first, cfg = pretexts[0], pretexts[0].config
    ids = ", ".join(str(run.id) for run in pretexts)
    return (
        f"Run{'s' if len(pretexts) > 1 else ''} {ids}: {first.details['n_unlabeled']} unlabeled "
        f"training pictures, {cfg['pairs_per_image']} pair(s) per picture per epoch, "
        f"{cfg['epochs']} epochs. Patches {cfg['patch_size']}x{cfg['patch_size']} px on a 3x3 "
        f"grid, gap {cfg['gap']} px, each patch jittered by up to ±{cfg['jitter']} px (so "
        f"neighbours are {first.details['min_gap']}-{cfg['gap'] + 2 * cfg['jitter']} px apart), "
        f"per-patch contrast 1 ± {cfg['intensity_jitter']}, brightness ± "
        f"{cfg['intensity_jitter'] / 2} and noise σ {cfg['noise']} in place of the paper's "
        "colour dropping (the pictures are grey). Why these sizes: docs/self-supervised.md."
    )


def ssl_page(store: RunStore, prefix: str, run_ids: list[int]) -> Page:
    """The study's page (the README and the Results tab) from these finished runs: per seed,
    one pretext run and one classifier run per label fraction and init."""
    runs = [store.get(run_id) for run_id in run_ids]
    pretexts = sorted(
        (run for run in runs if run.experiment.endswith("_context")),
        key=lambda run: run.config["seed"],
    )
    rows = classifier_rows(store, [run.id for run in runs if run not in pretexts])
    check_runs(prefix, pretexts, rows)
    paired = against_random(store, rows)
    pretext_history = mean_histories(
        store, pd.DataFrame({"label": "pretext", "run": [run.id for run in pretexts]})
    )["pretext"]
    accuracies = [float(run.details["best_val_accuracy"]) for run in pretexts]
    seeds = sorted(rows["seed"].unique())
    classifier = store.get(int(rows["run"].iloc[0])).config
    minutes = sum(run.duration_s or 0 for run in runs) / 60
    page = Page(f"Self-supervised pretraining on {prefix}: context prediction vs random init")
    return page.add(
        f"{SSL_DATA[prefix][0]}. Pretrain the SmallCNN trunk by context prediction "
        "(Doersch, Gupta & Efros 2015) on the training pictures without their labels, then "
        "train the same classifier on 100 %, 50 % and 10 % of the labels (stratified, nested, "
        "fixed seed), once from random init and once from the pretrained trunk. Everything else "
        f"is equal: {epochs_text(rows)}, batch {classifier['batch_size']}, "
        f"{classifier['optimizer']} at a constant lr {classifier['lr']}, no augmentation, "
        f"input {classifier['input_size']} px"
        + (
            f", the 100 % being a fixed stratified subset of {classifier['limit_train']} "
            "labelled training pictures (CPU budget; the pretext task sees every training "
            "picture)"
            if classifier["limit_train"]
            else ""
        )
        + f". Val and test splits are whole. Seeds: {', '.join(map(str, seeds))}; each seed "
        "pretrains its own trunk and initialises its own classifiers.",
        ForDevelopers(
            f"Regenerate with `dlstudio report ssl --data {prefix} --runs "
            + " ".join(str(run.id) for run in runs)
            + f"`. Training took {minutes:.1f} min summed over these {len(runs)} runs, "
            "wall-clock, on 2 CPU cores shared with other work: seconds in the table depend on "
            "the machine's load while each run trained.\n\n"
            + "\n".join(rerun_lines(runs)).rstrip("\n")
        ),
        "## Pretext task",
        pretext_text(pretexts),
        f"Best val relative-position accuracy: **{np.mean(accuracies):.1%}**"
        + (
            " (per seed: " + ", ".join(f"{a:.1%}" for a in accuracies) + ")"
            if len(accuracies) > 1
            else f" (epoch {pretexts[0].details['best_epoch']})"
        )
        + f"; chance {CHANCE:.1%}; test pairs at the last epoch: "
        f"{pretext_history['test_accuracy'].iloc[-1]:.1%}"
        + (" (mean over seeds)." if len(accuracies) > 1 else "."),
        pretext_curves(pretext_history),
        "## Classifiers",
        results_table(rows, paired),
        "Values are the mean over seeds (± their standard deviation). Best val acc: the best "
        "epoch's (its checkpoint gives the test accuracy). 95 % interval: of the "
        + (
            "mean test accuracy over seeds (t; Wilson's over the test pictures where that is "
            "wider). "
            if len(seeds) > 1
            else "test accuracy over the test pictures (Wilson), one run each. "
        )
        + "vs random: the difference from random init at the same labels, in points; p: a "
        "one-sided paired sign-flip test over the (seed, test picture) pairs where the two "
        "disagree. Plateau: the run's last epoch to raise the best val accuracy so far by more "
        f"than {PLATEAU_EPSILON:.1%}, when at least {PLATEAU_PATIENCE} epochs without such a "
        "gain follow it (core.reports.plateau); none: still rising. 90 % val acc: the first "
        "epoch reaching 90 % of the run's best val accuracy, and the training seconds until "
        "then. 90 % of a loss fall: the first epoch at which the loss has come 90 % of the way "
        "from log(classes) (a uniform guess) to its lowest value.",
        *fraction_curves(store, rows),
        "\n".join(conclusion_lines(conclusions(rows, accuracies, paired))).rstrip("\n"),
    )


def study_name(prefix: str) -> str:
    """The reference-run study of one data set's pretraining (its page is reports/ssl/DATA)."""
    return f"ssl_{prefix}"


def page_from_reference(store: RunStore, prefix: str) -> Page:
    """The page of the shipped reference runs of `prefix` (`core.runs.reference`)."""
    runs = reference_runs(store, study_name(prefix))
    if not runs:
        raise LookupError(f"the run store holds no self-supervised reference runs of {prefix}")
    return ssl_page(store, prefix, list(runs.values()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report ssl",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's usage lines
    )
    parser.add_argument("--data", default="digits", choices=sorted(SSL_DATA))
    parser.add_argument("--seeds", "--seed", type=int, nargs="+", default=[0])
    parser.add_argument("--imagenet", action="store_true", help="add the ImageNet reference")
    parser.add_argument("--runs", type=int, nargs="*", help="report on these finished runs")
    parser.add_argument("--out", default=None, help="default: reports/ssl/DATA")
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    add_reference_options(parser)
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else REPO_ROOT / "reports" / "ssl" / args.data
    try:
        if not args.from_reference:
            store = RunStore(args.db or default_db_path())
            run_ids = args.runs or [
                run_id
                for seed in args.seeds
                for run_id in launch(store, args.data, args.imagenet, seed)
            ]
            page = ssl_page(store, args.data, run_ids)  # checks the runs first
        if args.export_reference:
            export_reference(store, study_name(args.data), run_ids)
        if args.from_reference or args.export_reference:
            with fresh_reference_store() as shipped:
                page = page_from_reference(shipped, args.data)
        path = to_markdown(page, out)
    except (ValueError, KeyError, RuntimeError) as error:
        parser.error(str(error))
    print(f"wrote {path}")
    return 0
