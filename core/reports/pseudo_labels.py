"""The pseudo-labeling report: teacher, student and the supervised best on the same test split.

    dlstudio report pseudo-labels --runs 34 41 40 45 --reference 28 15

`--runs` are finished pseudo-labeling runs (`digits_pseudo`, `fashion_pseudo`), `--reference`
finished supervised runs trained on every label (`fashion_cnn` run 15 is the best supervised
Fashion-MNIST classifier). Each pseudo-labeling run is compared with the reference of its data set
and split seed that is best on val, and with the one trained for as many epochs if there is
one, after checking that they were tested on the same pictures. README.md gets the
table (teacher = the supervised baseline on the labeled part, how many pseudo-labels were
accepted and how many of those are right, the student, the reference), a paired test of student
against teacher, the per-class picture of the accepted pseudo-labels, the learning curves, the
accuracy-against-threshold trade-off of the teacher's labels, and conclusions computed from the
numbers.
"""

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.paths import REPO_ROOT, default_db_path
from core.reports.accuracy import (
    accuracy_interval,
    disagreement_p_value,
    interval_text,
    mean_sd,
    test_predictions,
)
from core.reports.images import mean_histories, split_curves
from core.reports.markdown import add_reference_options, conclusion_lines, rerun_lines
from core.reports.page import Curves, ForDevelopers, Page, Panel, Series, to_markdown
from core.runs.reference import export_reference, fresh_reference_store, reference_runs
from core.runs.store import Run, RunStore


def finished(store: RunStore, run_id: int) -> Run:
    run = store.get(run_id)
    if run.status != "done":
        raise ValueError(f"run {run_id} ({run.experiment}) is {run.status}, not done")
    return run


def matching_references(run: Run, references: list[Run]) -> tuple[Run, Run | None]:
    """Among the references of the same data set and split seed, tested on the same pictures:
    the best on val, and the one trained like the run's stages (same epochs and training
    split size), if there is one."""
    matching = [
        reference
        for reference in references
        if all(reference.config[key] == run.config[key] for key in ("data", "split_seed"))
        and np.array_equal(test_predictions(reference)["index"], test_predictions(run)["index"])
    ]
    if not matching:
        raise ValueError(
            f"run {run.id} ({run.config['data']}, split_seed {run.config['split_seed']}) has "
            "no reference run with the same data set, split seed and test pictures: add one "
            "to --reference"
        )
    best = max(matching, key=lambda reference: reference.details["best_val_accuracy"])
    alike = [
        reference
        for reference in matching
        if all(reference.config[key] == run.config[key] for key in ("epochs", "limit_train"))
    ]
    return best, alike[0] if alike else None


def student_against_teacher(run: Run) -> dict[str, Any]:
    """Test pictures only the student gets right and only the teacher, the one-sided p-value
    in the direction observed (a sign-flip test over the pictures where the two disagree), and
    the class whose test accuracy changes most from teacher to student."""
    student, teacher = test_predictions(run), test_predictions(run, "teacher_test_predictions")
    truth = student["y_true"]
    right_student, right_teacher = student["y_pred"] == truth, teacher["y_pred"] == truth
    d = right_student.astype(float) - right_teacher
    change = [
        right_student[truth == label].mean() - right_teacher[truth == label].mean()
        for label in range(len(run.details["classes"]))
    ]
    moved = int(np.argmax(np.abs(change)))
    return {
        "only_student": int(np.sum(d > 0)),
        "only_teacher": int(np.sum(d < 0)),
        "p_value": disagreement_p_value(right_student, right_teacher),
        "moved_class": run.details["classes"][moved],
        "moved_teacher": right_teacher[truth == moved].mean(),
        "moved_student": right_student[truth == moved].mean(),
        "moved_accepted": run.details["rounds"][-1]["accepted_per_class"][moved],
    }


def comparison_rows(store: RunStore, runs: list[Run], references: list[Run]) -> pd.DataFrame:
    """One row per pseudo-labeling run with its teacher, pseudo-labels, student and reference."""
    rows = []
    for run in runs:
        details = run.details
        reference, alike = matching_references(run, references)
        last = details["rounds"][-1] if details["rounds"] else {}
        rows.append(
            {
                "run": run.id,
                "seed": run.config["seed"],
                "data": run.config["data"],
                "label_fraction": run.config["label_fraction"],
                "n_labeled": details["n_labeled"],
                "n_pool": details["n_pool"],
                "threshold": run.config["threshold"],
                "top_k": run.config["top_k"],
                "rounds": run.config["rounds"],
                "epochs": run.config["epochs"],
                "teacher": details["teacher_test_accuracy"],
                "labeler_pool": last.get("labeler_pool_accuracy"),
                "accepted": details["pseudo_accepted"],
                "pseudo_accuracy": details["pseudo_accuracy"],
                "student": details["student_test_accuracy"],
                **student_against_teacher(run),
                "reference": reference.details["best_test_accuracy"],
                "reference_run": reference.id,
                "reference_n_train": reference.details["n_train"],
                "alike": alike.details["best_test_accuracy"] if alike else None,
                "alike_run": alike.id if alike else None,
                "n_test": details["n_test"],
                "hours": (run.duration_s or 0) / 3600,
            }
        )
    return pd.DataFrame(rows)


def _percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.2%}"


def selection(row: Any) -> str:
    """How a run chose its pseudo-labels: threshold, per-class cap, rounds."""
    return (
        f"p ≥ {row.threshold}"
        + (f", top {row.top_k}/class" if row.top_k else "")
        + (f", {row.rounds} rounds" if row.rounds > 1 else "")
    )


def results_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "data (run)": [f"{r.data} ({r.run})" for r in rows.itertuples()],
            "labeled": [
                f"{r.label_fraction:.0%} of {r.n_labeled + r.n_pool:,} = {r.n_labeled:,}"
                for r in rows.itertuples()
            ],
            "selection": [selection(r) for r in rows.itertuples()],
            "epochs / stage": rows["epochs"],
            "teacher test acc": rows["teacher"].map(_percent),
            "accepted pseudo-labels": [
                f"{r.accepted:,} of {r.n_pool:,} ({r.accepted / max(r.n_pool, 1):.0%})"
                for r in rows.itertuples()
            ],
            "their accuracy": rows["pseudo_accuracy"].map(_percent),
            "labeler on the whole pool": rows["labeler_pool"].map(_percent),
            "student test acc": rows["student"].map(_percent),
            "95 % interval": [
                interval_text(*accuracy_interval([r.student], r.n_test)) for r in rows.itertuples()
            ],
            "student − teacher": [
                f"{(r.student - r.teacher) * 100:+.2f} pt (p = {r.p_value:.3g})"
                for r in rows.itertuples()
            ],
            "all labels (run: training pictures)": [
                f"{_percent(r.reference)} ({r.reference_run}: {r.reference_n_train:,})"
                for r in rows.itertuples()
            ],
            "all labels, same epochs (run)": [
                f"{_percent(r.alike)} ({r.alike_run:.0f})" if pd.notna(r.alike_run) else "–"
                for r in rows.itertuples()
            ],
        }
    )


CONFIGURATION = ["data", "label_fraction", "threshold", "top_k", "rounds", "epochs"]


def configuration_label(row: Any) -> str:
    """A configuration's name across its seeds: data, labeled share and selection."""
    return f"{row.data}, {row.label_fraction:.0%} labeled, {selection(row)}"


def pooled_student_test(runs: list[Run]) -> float:
    """The one-sided p-value that student and teacher are equally good, over every (seed, test
    picture) pair of these runs (one configuration's seeds) where the two disagree."""
    student, teacher = [], []
    for run in runs:
        mine, theirs = test_predictions(run), test_predictions(run, "teacher_test_predictions")
        student.append(mine["y_pred"] == mine["y_true"])
        teacher.append(theirs["y_pred"] == theirs["y_true"])
    return disagreement_p_value(np.concatenate(student), np.concatenate(teacher))


def seed_summary(rows: pd.DataFrame, runs: dict[int, Run]) -> pd.DataFrame:
    """Per configuration, over its seeds: teacher and student means and spreads, the student's
    95 % interval, its mean gain with a paired test pooled over the seeds, and the
    pseudo-labels accepted."""
    summary = []
    for _, group in rows.groupby(CONFIGURATION, sort=False):
        first = next(group.itertuples())
        low, high = accuracy_interval(group["student"].tolist(), int(first.n_test))
        summary.append(
            {
                "configuration": configuration_label(first),
                "seeds": sorted(group["seed"]),
                "teacher": group["teacher"],
                "student": group["student"],
                "low": low,
                "high": high,
                "gain": (group["student"] - group["teacher"]).mean(),
                "p_value": pooled_student_test([runs[int(run)] for run in group["run"]]),
                "accepted": group["accepted"].mean(),
                "n_pool": first.n_pool,
                "pseudo_accuracy": group["pseudo_accuracy"],
                "reference": group["reference"],
            }
        )
    return pd.DataFrame(summary)


def seeds_table(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "configuration": summary["configuration"],
            "seeds": summary["seeds"].map(lambda seeds: ", ".join(map(str, seeds))),
            "teacher test acc, %": summary["teacher"].map(lambda v: mean_sd(v, 100, 2)),
            "student test acc, %": summary["student"].map(lambda v: mean_sd(v, 100, 2)),
            "95 % interval": [interval_text(r.low, r.high) for r in summary.itertuples()],
            "student − teacher": [
                f"{100 * r.gain:+.2f} pt (p = {r.p_value:.3g})" for r in summary.itertuples()
            ],
            "accepted pseudo-labels": [
                f"{r.accepted:,.0f} of {r.n_pool:,}" for r in summary.itertuples()
            ],
            "their accuracy, %": summary["pseudo_accuracy"].map(lambda v: mean_sd(v, 100, 2)),
            "all labels, %": summary["reference"].map(lambda v: mean_sd(v, 100, 2)),
        }
    )


def per_class_table(run: Run) -> pd.DataFrame:
    """Accepted pseudo-labels and their accuracy per predicted class, in the last round."""
    last = run.details["rounds"][-1]
    table = pd.DataFrame(
        [last["accepted_per_class"], [_percent(value) for value in last["accuracy_per_class"]]],
        columns=run.details["classes"],
    )
    table.insert(0, "", ["accepted", "right"])
    return table


def threshold_tradeoff(runs: list[Run]) -> Curves:
    """For the first round's labeler: the share of the pool accepted and the accuracy of the
    accepted pseudo-labels, against the confidence threshold."""
    thresholds = np.linspace(0, 0.999, 200)
    shares, accuracies = [], []
    for run in runs:
        labels = np.load(run.artifacts["pseudo_labels_round1"])
        right = labels["predicted"] == labels["hidden_labels"]
        kept = [labels["confidence"] >= threshold for threshold in thresholds]
        label = (
            f"run {run.id}: {run.config['data']}, {run.config['label_fraction']:.0%} labeled, "
            f"used p ≥ {run.config['threshold']}"
        )
        shares.append(Series(label, thresholds.tolist(), [float(mask.mean()) for mask in kept]))
        accuracies.append(
            Series(
                label,
                thresholds.tolist(),
                [float(right[mask].mean()) if mask.any() else np.nan for mask in kept],
            )
        )
    return Curves(
        "threshold",
        "Accepted share and accuracy against the threshold",
        [
            Panel("share of the pool accepted", shares),
            Panel("accuracy of the accepted pseudo-labels", accuracies),
        ],
        x_label="confidence threshold (teacher's top probability)",
    )


def seeds_conclusions(summary: pd.DataFrame) -> list[str]:
    """Per configuration run with several seeds: the verdict of the pooled paired test."""
    lines = []
    for r in summary[summary["seeds"].map(len) > 1].itertuples():
        verdict = "a difference" if r.p_value < 0.05 else "within chance"
        lines.append(
            f"{r.configuration}, over seeds {', '.join(map(str, r.seeds))}: the teacher reaches "
            f"{r.teacher.mean():.2%} ± {r.teacher.std():.2%} test accuracy, the student "
            f"{r.student.mean():.2%} ± {r.student.std():.2%} (mean ± sd; 95 % interval of the "
            f"mean {interval_text(r.low, r.high)} %). The student's gain of "
            f"{100 * r.gain:+.2f} points, tested over every seed's test pictures, is {verdict} "
            f"at the 5 % level (p = {r.p_value:.3g})."
        )
    return lines


def conclusions(rows: pd.DataFrame, runs: list[Run]) -> list[str]:
    """Sentences computed from the measured numbers, so they stay true when it is rerun."""
    lines = []
    for r, run in zip(rows.itertuples(), runs, strict=True):
        gain, gap = r.student - r.teacher, r.reference - r.teacher
        sharper = r.pseudo_accuracy is not None and r.pseudo_accuracy > r.labeler_pool
        better = "better" if gain >= 0 else "worse"
        verdict = f"significantly {better} at 5 %" if r.p_value < 0.05 else "not significant at 5 %"
        if gap <= 0:
            against = (
                f"The teacher already matches the classifier on every label ({r.reference:.2%})."
            )
        elif gain > 0:
            against = (
                f"Of the teacher's gap of {gap * 100:.2f} points to the classifier trained on "
                f"every label ({r.reference:.2%}), the student closes {gain / gap:.0%}."
            )
        else:
            against = (
                f"The student closes none of the teacher's gap of {gap * 100:.2f} points to the "
                f"classifier trained on every label ({r.reference:.2%})."
            )
        if pd.notna(r.alike_run) and r.alike_run != r.reference_run:
            against += (
                f" Trained like the stages ({r.epochs} epochs) on every label, the classifier "
                f"reaches {r.alike:.2%} (run {r.alike_run:.0f}): at this budget the few labels "
                f"cost the teacher {(r.alike - r.teacher) * 100:.2f} points."
            )
        labeler = "teacher" if r.rounds == 1 else f"student of round {r.rounds - 1}"
        lines.append(
            f"{r.data}, {r.label_fraction:.0%} of the labels ({r.n_labeled:,} pictures), run "
            f"{r.run}: the teacher reaches {r.teacher:.2%} test accuracy. "
            + (f"In the last of {r.rounds} rounds, " if r.rounds > 1 else "")
            + f"{r.accepted:,} of the {r.n_pool:,} pool pictures are accepted and "
            f"{_percent(r.pseudo_accuracy)} of them are right, against "
            f"{_percent(r.labeler_pool)} for the {labeler} on the whole pool"
            + (": the selection keeps its surer labels. " if sharper else ". ")
            + f"The {'last ' if r.rounds > 1 else ''}student reaches {r.student:.2%} "
            f"({gain * 100:+.2f} points); it alone is "
            f"right on {r.only_student} test pictures, the teacher alone on {r.only_teacher} "
            f"(sign-flip test, one-sided towards {better}: p = {r.p_value:.3g}, {verdict}). "
            f"{against} The class that moves most is {r.moved_class}: "
            f"{r.moved_teacher:.1%} of its test pictures right for the teacher, "
            f"{r.moved_student:.1%} for the student ({r.moved_accepted:,} pseudo-labels "
            "accepted as it)."
        )
        last = run.details["rounds"][-1]
        counts, classes = np.array(last["accepted_per_class"]), run.details["classes"]
        if counts.sum():
            low, high = counts.argmin(), counts.argmax()
            lines.append(
                f"Run {r.run}'s accepted pseudo-labels are not balanced by class: from "
                f"{counts[low]:,} ({classes[low]}) to {counts[high]:,} ({classes[high]}) per "
                "predicted class; `top_k` would cap the larger classes."
                if counts[high] > 2 * max(counts[low], 1)
                else f"Run {r.run}'s accepted pseudo-labels are about balanced by class: "
                f"{counts.min():,} to {counts.max():,} per predicted class."
            )
    for _, group in rows.groupby(["data", "n_labeled", "n_pool", "teacher"], sort=False):
        if len(group) > 1:  # one teacher, several selections: what the selection changes
            lines.append(
                "With the same teacher (runs "
                + ", ".join(map(str, group["run"]))
                + "), the students reach "
                + "; ".join(
                    f"{r.student:.2%} from {r.accepted:,} pseudo-labels "
                    f"{_percent(r.pseudo_accuracy)} right ({selection(r)})"
                    for r in group.itertuples()
                )
                + "."
            )
    return lines


def pseudo_page(store: RunStore, run_ids: list[int], reference_ids: list[int]) -> Page:
    """The study's page (the README and the Results tab) from these finished runs."""
    runs = [finished(store, run_id) for run_id in run_ids]
    references = [finished(store, run_id) for run_id in reference_ids]
    missing = [run.id for run in runs if "rounds" not in run.details or not run.details["rounds"]]
    if missing:
        raise ValueError(f"run(s) {missing} are not pseudo-labeling runs with a student round")
    rows = comparison_rows(store, runs, references)
    summary = seed_summary(rows, {run.id: run for run in runs})
    several = bool((summary["seeds"].map(len) > 1).any())
    first_seeds = [  # one run per configuration for the per-run figures: its lowest seed
        run
        for run in runs
        if run.id in set(rows.sort_values("seed").groupby(CONFIGURATION)["run"].first())
    ]
    hours = rows["hours"].sum() + sum((run.duration_s or 0) / 3600 for run in references)
    reruns = runs + [store.get(int(i)) for i in rows["reference_run"].unique()]
    page = Page("Pseudo-labeling: few labels, a teacher, pseudo-labels, a student")
    page.add(
        "The training split of each data set keeps a stratified fraction of its labels; the rest "
        "is an unlabeled pool whose labels stay hidden (they only score the pseudo-labels here). "
        "The **teacher** is the supervised classifier trained on the labeled part alone; its "
        "pseudo-labels with top probability at least the threshold join the labeled part, and a "
        "freshly initialised **student** (same network, recipe and seed) trains on both. Every "
        "stage sees as many pictures per epoch as the whole training split (a small labeled "
        "part is repeated), so teacher, student and the supervised reference take about the "
        "same number of optimiser steps per epoch. Validation (labeled, as in every experiment "
        "here) only picks each stage's best epoch; the test split is the supervised runs' own, "
        "checked picture by picture.",
        ForDevelopers(
            "Regenerate with `dlstudio report pseudo-labels --runs "
            + " ".join(str(run.id) for run in runs)
            + " --reference "
            + " ".join(str(run.id) for run in references)
            + f"`. The runs took {hours:.1f} hours together on a 2-core machine (wall-clock, "
            "including that machine's other load).\n\n"
            + "\n".join(rerun_lines(reruns)).rstrip("\n")
        ),
        *(
            (
                "## Over seeds",
                seeds_table(summary),
                "Mean ± sd over the seeds; 95 % interval: of the student's mean test accuracy "
                "over the seeds (t; Wilson's over the test pictures where wider). p: the sign-flip "
                "test below, over every seed's test "
                "pictures where student and teacher disagree.",
            )
            if several
            else ()
        ),
        "## Results" + (" of each run" if several else ""),
        results_table(rows),
        "labeled: the share of the training split (of its size) that keeps its labels; a split "
        "smaller than the data set's (Fashion-MNIST: 51,000) was cut with `limit_train` to fit "
        "the CPU budget. Epochs / stage: each stage (teacher, student) runs that many epochs of "
        "about the training split's size. "
        "95 % interval: Wilson's, of the student's test accuracy over the test pictures. "
        "p: sign-flip (McNemar-type) test over the test pictures where student and teacher "
        "disagree, one-sided in the direction observed (H1: the student is better when it "
        "gained, worse when it lost).",
        "## Accepted pseudo-labels per predicted class (last round)",
    )
    for run in first_seeds:
        page.add(f"Run {run.id} ({run.config['data']}, seed {run.config['seed']}):")
        page.add(per_class_table(run))
    page.add(
        "## How the threshold trades quantity for accuracy",
        threshold_tradeoff(first_seeds),
        "Computed from each run's saved labeling of the pool (first round) and the hidden labels"
        + (", for each configuration's lowest seed." if several else "."),
        "## Learning curves",
    )
    for data, group in rows.groupby("data", sort=False):
        lines = group.assign(label=[f"pseudo {configuration_label(r)}" for r in group.itertuples()])
        supervised = [run.id for run in references if run.config["data"] == data]
        lines = pd.concat(
            [lines, pd.DataFrame({"label": "all labels", "run": supervised})], ignore_index=True
        )
        histories = mean_histories(store, lines)
        page.add(
            split_curves(histories, "loss", f"{data}: cross-entropy loss", f"loss_{data}"),
            split_curves(histories, "accuracy", f"{data}: accuracy", f"accuracy_{data}"),
            f"{data}: the pseudo-labeling runs' epochs run on from the teacher's to the "
            "student's (the jump is where the student starts from scratch)"
            + (
                "; each line is the mean over seeds, shaded from the lowest to the highest."
                if several
                else "."
            ),
        )
    said = seeds_conclusions(summary) + conclusions(rows, runs)
    page.add("\n".join(conclusion_lines(said)).rstrip("\n"))
    return page


STUDY = "pseudo_labeling"  # the reference runs' study name (also its reports/ folder)


def page_from_reference(store: RunStore) -> Page:
    """The page of the shipped reference runs: the pseudo-labeling runs and the supervised
    runs they are compared with (`core.runs.reference`)."""
    runs = [store.get(run_id) for run_id in reference_runs(store, STUDY).values()]
    if not runs:
        raise LookupError("the run store holds no pseudo-labeling reference runs")
    pseudo = [run.id for run in runs if run.experiment.endswith("_pseudo")]
    return pseudo_page(store, pseudo, [run.id for run in runs if run.id not in pseudo])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report pseudo-labels",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's usage lines
    )
    parser.add_argument("--runs", type=int, nargs="+", help="pseudo-label runs")
    parser.add_argument("--reference", type=int, nargs="+", help="supervised runs, every label")
    parser.add_argument("--out", default=None, help=f"default: reports/{STUDY}")
    parser.add_argument("--db", default=None, help="run store path (default: the app's)")
    add_reference_options(parser)
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else REPO_ROOT / "reports" / STUDY
    if not args.from_reference and not (args.runs and args.reference):
        parser.error("name the --runs and their --reference runs, or use --from-reference")
    try:
        if not args.from_reference:
            store = RunStore(args.db or default_db_path())
            page = pseudo_page(store, args.runs, args.reference)  # checks the runs first
        if args.export_reference:
            export_reference(store, STUDY, args.runs + args.reference)
        if args.from_reference or args.export_reference:
            with fresh_reference_store() as shipped:
                page = page_from_reference(shipped)
        path = to_markdown(page, out)
    except (KeyError, ValueError) as error:
        parser.error(str(error.args[0] if error.args else error))
    print(f"wrote {path}")
    return 0
