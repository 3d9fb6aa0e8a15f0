"""`python -m core.metrics FILE.csv [--threshold T] [--beta B] [--json]`: every metric by name.

A CSV with the columns y_true and y_score is binary: y_true must be 0/1, y_score any numbers
(log_loss needs them in [0, 1]); a row is predicted 1 when y_score >= T. It prints precision,
recall, f1, f_beta, accuracy, balanced_accuracy, specificity, mcc, roc_auc, pr_auc and log_loss
with percentile-bootstrap intervals under "ci". A CSV with y_true and y_pred is multi-class
and prints precision_micro, precision_macro, precision_weighted, recall_..., f1_... and
accuracy. Bad input exits with status 2 and a one-line message.
"""

import argparse

from core.metrics.averaging import averaging_report, confusion_from_labels
from core.metrics.binary import BOOTSTRAP_RESAMPLES, binary_report
from core.metrics.cli import run_cli
from core.metrics.inputs import MetricInputError, binary_labels, read_csv, scores


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
        prog="python -m core.metrics",
        description="Binary (y_true, y_score) or multi-class (y_true, y_pred) metrics of a CSV.",
    )
    parser.add_argument("csv", metavar="FILE.csv")
    parser.add_argument("--threshold", type=float, default=0.5, help="predict 1 when score >= T")
    parser.add_argument("--beta", type=float, default=1.0, help="beta of f_beta")
    parser.add_argument(
        "--bootstrap", type=int, default=BOOTSTRAP_RESAMPLES, help="resamples for the CIs; 0: none"
    )
    parser.add_argument("--level", type=float, default=0.95, help="confidence level of the CIs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return run_cli(
        parser,
        lambda args: file_metrics(args.csv, args.threshold, args.beta, args.bootstrap, args.level),
        argv,
        text,
    )


if __name__ == "__main__":
    raise SystemExit(main())
