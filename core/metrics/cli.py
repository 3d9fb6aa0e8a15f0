"""`dlstudio metrics FILE.csv [--threshold T] [--beta B] [--json]`: every metric by name.

A CSV with the columns y_true and y_score is binary: y_true must be 0/1, y_score any numbers
(log_loss needs them in [0, 1]); a row is predicted 1 when y_score >= T. It prints precision,
recall, f1, f_beta, accuracy, balanced_accuracy, specificity, mcc, roc_auc, pr_auc and log_loss
with percentile-bootstrap intervals under "ci". A CSV with y_true and y_pred is multi-class
and prints precision_micro, precision_macro, precision_weighted, recall_..., f1_... and
accuracy.

The worked studies' commands live here too (`dlstudio metrics roc`, `... fbeta`,
`... imbalance` and the others: `roc_main`, `fbeta_main`, ... over their modules' library
functions) and share `run_cli` with it: JSON or text out, and
bad input (any `ValueError`, which `MetricInputError` is) prints `error: MESSAGE` on one line
to stderr and exits with status 2, the status argparse uses for bad arguments.
"""

import argparse
import json
import math
import sys
from collections.abc import Callable

import numpy as np

from core.metrics.averaging import averaging_report, confusion_from_labels
from core.metrics.binary import BOOTSTRAP_RESAMPLES, binary_report
from core.metrics.coverage import coverage
from core.metrics.crowd import simulate_crowd
from core.metrics.fbeta import SCENARIOS, worked_example
from core.metrics.imbalance import binormal_scores, conclusions, imbalance_table, invariant_metrics
from core.metrics.inputs import MetricInputError, binary_labels, read_csv, scores
from core.metrics.labeling import MIN_ACCURACY, labeling_report
from core.metrics.page import ELEMENT_TYPES, UserModel, page_metrics
from core.metrics.ranking import GAINS
from core.metrics.roc import worked_roc_table
from core.metrics.significance import SCOPE, ZERO_METHODS, compare_engines
from core.sharing.limits import HostLimits

BAD_INPUT = 2


def plain(value):
    """JSON-ready: numpy scalars to Python, NaN and infinities to null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_cli(
    parser: argparse.ArgumentParser,
    compute: Callable[[argparse.Namespace], dict],
    argv: list[str] | None,
    text: Callable[[dict], str],
) -> int:
    """Parse, compute, print JSON (`--json`) or `text(result)`; exit 2 on bad input."""
    args = parser.parse_args(argv)
    try:
        result = compute(args)
    except ValueError as error:
        message = " ".join(str(error).split())
        print(f"error: {message}", file=sys.stderr)
        return BAD_INPUT
    print(json.dumps(plain(result), indent=2) if args.json else text(result))
    return 0


def file_metrics(
    path: str,
    threshold: float = 0.5,
    beta: float = 1.0,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
) -> dict:
    """Every metric of a y_true/y_score (binary) or y_true/y_pred (multi-class) CSV."""
    if n_resamples < 0:
        raise MetricInputError(f"--bootstrap must be 0 or more resamples, not {n_resamples}")
    table = read_csv(path)
    if "y_true" in table and "y_score" in table:
        report = binary_report(
            binary_labels(table["y_true"]),
            scores(table["y_score"]),
            threshold,
            beta,
            n_resamples,
            level,
        )
        return report.as_dict()
    if "y_true" in table and "y_pred" in table:
        matrix = confusion_from_labels(table["y_true"], table["y_pred"])
        report = averaging_report(matrix)
        per_class = report.per_class
        return {
            "kind": "multiclass",
            "n": int(per_class["support"].sum()),
            "classes": per_class["class"].tolist(),
            "accuracy": float(per_class["tp"].sum() / per_class["support"].sum()),
            **report.values(),
            "per_class": per_class.to_dict(orient="records"),
        }
    raise MetricInputError(
        "the CSV needs the columns y_true and y_score (binary) or y_true and y_pred "
        f"(multi-class); it has {', '.join(map(str, table.columns))}"
    )


def text(result: dict) -> str:
    skip = {"kind", "confusion", "ci", "notes", "per_class", "classes", "ci_level"}
    lines = []
    for name, value in result.items():
        if name in skip:
            continue
        interval = result.get("ci", {}).get(name)
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(
            f"{name:<20} {shown}"
            + (f"  [{interval[0]:.4g}, {interval[1]:.4g}]" if interval else "")
        )
    return "\n".join(lines + [f"note: {note}" for note in result.get("notes", [])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics",
        description="Binary (y_true, y_score) or multi-class (y_true, y_pred) metrics of a CSV.",
    )
    parser.add_argument("csv", metavar="FILE.csv")
    parser.add_argument("--threshold", type=float, default=0.5, help="predict 1 when score >= T")
    parser.add_argument("--beta", type=float, default=1.0, help="beta of f_beta")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=BOOTSTRAP_RESAMPLES,
        help="resamples for the CIs; 0: none. Rows x resamples are held to "
        f"DLSTUDIO_BOOTSTRAP_BUDGET (default {HostLimits().bootstrap_budget:,}), as in the app",
    )
    parser.add_argument("--level", type=float, default=0.95, help="confidence level of the CIs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return run_cli(
        parser,
        lambda args: file_metrics(args.csv, args.threshold, args.beta, args.bootstrap, args.level),
        argv,
        text,
    )


def roc_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics roc",
        description="ROC-AUC by the trapezoid rule and by the pair count, next to scikit-learn.",
    )
    parser.add_argument("csv", metavar="FILE.csv", help="columns y_true and y_score")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return run_cli(
        parser,
        lambda args: worked_roc_table(read_csv(args.csv)).as_dict(),
        argv,
        text=lambda result: "\n".join(result["explanation"]),
    )


def fbeta_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics fbeta",
        description="Worked examples where beta != 1 is right: best thresholds under F_beta and "
        "F1, with the counts of found, missed and false alarms.",
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def compute(args: argparse.Namespace) -> dict:
        return {name: worked_example(name) for name in args.scenario or SCENARIOS}

    return run_cli(
        parser,
        compute,
        argv,
        text=lambda result: "\n\n".join("\n".join(e["text"]) for e in result.values()),
    )


def imbalance_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics imbalance",
        description="Every binary metric of a fixed binormal classifier as the positive share "
        "falls from 50 % to 0.1 %.",
    )
    parser.add_argument("--separation", type=float, default=2.0, help="d' between the classes")
    parser.add_argument("--spread", type=float, default=1.5, help="the positives' logit std")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def compute(args: argparse.Namespace) -> dict:
        table = imbalance_table(
            *binormal_scores(args.separation, args.spread), args.threshold, args.beta
        )
        return {
            "table": table.to_dict(orient="records"),
            "invariant": invariant_metrics(table),
            "conclusions": conclusions(table),
        }

    return run_cli(parser, compute, argv, text=lambda result: "\n".join(result["conclusions"]))


def coverage_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics coverage", description="Coverage of the bootstrap intervals."
    )
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def compute(args: argparse.Namespace) -> dict:
        result = coverage(args.reps, args.n, n_resamples=args.resamples, level=args.level)
        return {"level": args.level, "reps": args.reps, "n": args.n, "coverage": result}

    return run_cli(
        parser,
        compute,
        argv,
        text=lambda r: "\n".join(f"{k:<12} {v:.3f}" for k, v in r["coverage"].items()),
    )


def page_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics page",
        description="Whole-page metrics of a results page CSV (columns type, grade, height_px, "
        f"intents; types: {', '.join(ELEMENT_TYPES)}).",
    )
    parser.add_argument("csv", metavar="PAGE.csv")
    parser.add_argument("--persistence", type=float, default=UserModel.persistence)
    parser.add_argument("--alpha", type=float, default=UserModel.alpha)
    parser.add_argument("--k", type=int, default=UserModel.k)
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def compute(args: argparse.Namespace) -> dict:
        model = UserModel(persistence=args.persistence, alpha=args.alpha, k=args.k)
        result = page_metrics(read_csv(args.csv), model)
        result["details"] = result["details"].to_dict(orient="records")
        return result

    def text(result: dict) -> str:
        return "\n".join(
            f"{name:<20} {value:.4f}" for name, value in result.items() if isinstance(value, float)
        )

    return run_cli(parser, compute, argv, text)


def labeling_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics labeling",
        description="Agreement, honeypot screening and Dawid-Skene vs majority vote for crowd "
        "labels (CSV columns item, worker, label[, gold]), or for a simulated crowd.",
    )
    parser.add_argument("csv", nargs="?", metavar="LABELS.csv", help="omit with --simulate")
    parser.add_argument("--simulate", action="store_true", help="use a simulated crowd")
    parser.add_argument("--spammers", type=float, default=0.25, help="simulated spammer share")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-accuracy", type=float, default=MIN_ACCURACY)
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def compute(args: argparse.Namespace) -> dict:
        if args.simulate == bool(args.csv):
            raise MetricInputError("give either LABELS.csv or --simulate")
        if args.simulate:
            crowd = simulate_crowd(spammer_share=args.spammers, seed=args.seed)
            report = labeling_report(crowd.labels, crowd.truth, args.min_accuracy)
        else:
            report = labeling_report(read_csv(args.csv), None, args.min_accuracy)
        return {
            "alpha": report.alpha.to_dict(orient="records"),
            "honeypots": report.honeypots.to_dict(orient="records"),
            "accuracy": report.accuracy,
            "evaluated_on": report.evaluated_on,
            "conclusions": report.conclusions(),
        }

    return run_cli(parser, compute, argv, text=lambda result: "\n".join(result["conclusions"]))


def significance_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio metrics significance",
        description="One-sided paired tests of 'engine A is better than engine B' from graded "
        "judgments (CSV columns: [query,] [rank,] a_result, a_grade, b_result, b_grade).",
    )
    parser.add_argument("csv", metavar="JUDGMENTS.csv")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument("--k", type=int, default=10, help="depth of nDCG@k")
    parser.add_argument("--gain", choices=sorted(GAINS), default="exponential")
    parser.add_argument("--unit", choices=sorted(SCOPE), help="default: position for one query")
    parser.add_argument("--zero-method", choices=sorted(ZERO_METHODS), default="wilcox")
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    def compute(args: argparse.Namespace) -> dict:
        comparison = compare_engines(
            read_csv(args.csv), args.alpha, args.k, args.gain, args.unit, args.zero_method
        )
        return comparison.as_dict()

    def text(result: dict) -> str:
        lines = [f"nDCG difference (A - B): {result['difference']:+.4f}, per {result['unit']}"]
        lines += [
            f"{t['test']:<34} p = {t['p_value']:.6f}  {t['decision']}  [{t['method']}]"
            for t in result["tests"]
        ]
        return "\n".join(lines + [f"note: {note}" for note in result["notes"]])

    return run_cli(parser, compute, argv, text)
