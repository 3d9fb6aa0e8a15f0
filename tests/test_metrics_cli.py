"""The command lines: `dlstudio metrics FILE.csv` (the contract) and the worked studies'."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from core.metrics import cli as metrics_cli
from core.metrics import fbeta, imbalance, page, roc, significance

REPO = Path(__file__).resolve().parent.parent
CONTRACT = {
    "precision",
    "recall",
    "f1",
    "f_beta",
    "accuracy",
    "balanced_accuracy",
    "specificity",
    "mcc",
    "roc_auc",
    "pr_auc",
}


@pytest.fixture
def binary_csv(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 150)
    s = np.round(np.clip(0.35 * y + 0.65 * rng.random(150), 0, 1), 2)
    path = tmp_path / "scores.csv"
    pd.DataFrame({"y_true": y, "y_score": s}).to_csv(path, index=False)
    return path, y, s


def run_json(main, capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_module_prints_every_metric_by_name_as_json(binary_csv):
    path, y, s = binary_csv
    command = ["-m", "core", "metrics", str(path), "--threshold", "0.6", "--beta", "2"]
    result = subprocess.run(
        [sys.executable, *command, "--bootstrap", "200", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert CONTRACT | {"log_loss"} <= set(out)
    predicted = s >= 0.6
    assert out["f_beta"] == pytest.approx(sk.fbeta_score(y, predicted, beta=2), abs=1e-12)
    assert out["specificity"] == pytest.approx(sk.recall_score(y, predicted, pos_label=0))
    assert out["roc_auc"] == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    low, high = out["ci"]["roc_auc"]
    assert low < out["roc_auc"] < high


def test_multiclass_prints_the_three_averages(tmp_path, capsys):
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.choice(list("abc"), 80), rng.choice(list("abc"), 80)
    path = tmp_path / "labels.csv"
    pd.DataFrame({"y_true": y_true, "y_pred": y_pred}).to_csv(path, index=False)
    out = run_json(metrics_cli.main, capsys, str(path))
    for average in ("micro", "macro", "weighted"):
        p, r, f, _ = sk.precision_recall_fscore_support(y_true, y_pred, average=average)
        assert out[f"precision_{average}"] == pytest.approx(p)
        assert out[f"recall_{average}"] == pytest.approx(r)
        assert out[f"f1_{average}"] == pytest.approx(f)
    assert out["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))


BAD_FILES = {
    "non-numeric": (
        "y_true,y_score\n0,0.1\n1,high\n",
        r"y_score must be numbers: 'high' is not \(row 2\)",
    ),
    "labels": ("y_true,y_score\n0,0.1\n2,0.4\n", r"y_true must be 0 or 1: found 2 \(row 2\)"),
    "single class": ("y_true,y_score\n1,0.1\n1,0.4\n", r"y_true has a single class \(1, 2 rows\)"),
    "empty table": ("y_true,y_score\n", "has a header but no rows"),
    "empty file": ("", "is empty"),
    "mismatched": ("y_true,y_score\n0,0.1\n1\n", r"y_score has empty cells \(row 2\)"),
    "columns": ("label,score\n0,0.1\n1,0.4\n", "needs the columns y_true and y_score"),
    "not a csv": ('a,b\n1,"2\n3,4,5,6\n', "not a readable CSV"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_exits_2_with_one_line(case, tmp_path, capsys):
    text, message = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert metrics_cli.main([str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]


def test_a_missing_file_exits_2(tmp_path, capsys):
    assert metrics_cli.main([str(tmp_path / "missing.csv")]) == 2
    assert "no such CSV file" in capsys.readouterr().err


def test_a_file_outside_the_readable_folders_exits_2_without_reading_it(capsys):
    assert metrics_cli.main(["/etc/passwd"]) == 2
    error = capsys.readouterr().err
    assert "refused" in error and "root:" not in error and "/etc" not in error


def test_scores_that_are_not_probabilities_leave_out_log_loss_with_a_note(tmp_path, capsys):
    path = tmp_path / "margins.csv"
    pd.DataFrame({"y_true": [0, 1, 0, 1], "y_score": [-2.0, 3.0, 0.5, 1.5]}).to_csv(
        path, index=False
    )
    out = run_json(metrics_cli.main, capsys, str(path), "--threshold", "1")
    assert "log_loss" not in out
    assert any("log_loss needs probabilities in [0, 1]" in note for note in out["notes"])


def test_part_commands_print_json(tmp_path, capsys):
    roc.EXAMPLE.to_csv(tmp_path / "roc.csv", index=False)
    worked = run_json(metrics_cli.roc_main, capsys, str(tmp_path / "roc.csv"))
    assert worked["auc_trapezoid"] == worked["auc_sklearn"] == 0.84375

    significance.EXAMPLE.to_csv(tmp_path / "judgments.csv", index=False)
    tests = run_json(
        metrics_cli.significance_main, capsys, str(tmp_path / "judgments.csv"), "--alpha", "0.01"
    )
    assert tests["unit"] == "position" and len(tests["tests"]) == 3
    assert all("alpha = 0.01" in t["decision"] for t in tests["tests"])

    page.EXAMPLE_PAGE.to_csv(tmp_path / "page.csv", index=False)
    assert 0 < run_json(metrics_cli.page_main, capsys, str(tmp_path / "page.csv"))["success"] < 1

    assert set(run_json(metrics_cli.imbalance_main, capsys)["invariant"]) == set(
        imbalance.PRIOR_FREE
    )
    assert set(run_json(metrics_cli.fbeta_main, capsys)) == set(fbeta.SCENARIOS)
    assert "Dawid-Skene" in run_json(metrics_cli.labeling_main, capsys, "--simulate")["accuracy"]


def test_part_commands_refuse_bad_input_with_status_2(tmp_path, capsys):
    (tmp_path / "j.csv").write_text("a_grade,b_grade\n1,9\n")
    assert metrics_cli.significance_main([str(tmp_path / "j.csv")]) == 2
    assert "b_grade must be whole grades from 0 to 3" in capsys.readouterr().err
    assert metrics_cli.labeling_main([]) == 2
    assert "give either LABELS.csv or --simulate" in capsys.readouterr().err
