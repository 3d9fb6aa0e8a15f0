"""The command line `python -m core.runs.cli`: listing, single runs, sweeps, errors, overrides."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import core
from core.experiments import list_experiments
from core.runs.cli import main, parse_overrides
from core.runs.store import RunStore

REPO = Path(core.__file__).resolve().parent.parent


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DLSTUDIO_DB", raising=False)
    return tmp_path / "runs.sqlite"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.runs.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_list_prints_one_line_per_experiment_name_first():
    result = cli("--list")
    assert result.returncode == 0, result.stderr
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    descriptions = dict(line.split("\t") for line in result.stdout.splitlines())
    assert sorted(names) == sorted(experiment.name for experiment in list_experiments())
    assert {f"loan_exp{i}" for i in range(1, 6)} | {"digits_plain", "digits_all"} <= set(names)
    assert descriptions["loan_exp1"].startswith("Loan default, Exp 1")


def test_a_run_prints_its_json_summary_and_lands_in_the_store(db):
    result = cli("loan_exp1", "--epochs", "2", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "done" and summary["error"] is None
    assert (summary["experiment"], summary["config"]["epochs"]) == ("loan_exp1", 2)
    assert summary["final"]["test_roc_auc"] > 0.8 and summary["final"]["train_loss"] > 0
    assert summary["details"]["n_train"] == 6500

    store = RunStore(db)
    assert store.get(summary["run_id"]).status == "done"
    assert store.final_metrics(summary["run_id"]) == summary["final"]
    model = Path(store.get(summary["run_id"]).artifacts["model"])
    assert model == db.with_suffix("") / str(summary["run_id"]) / "model.pt" and model.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["loan_exp1", "--lr", "0"], r"lr must be in \(0, 10\], got 0.0"),
        (["loan_exp1", "--lr=-1"], r"lr must be in \(0, 10\], got -1.0"),
        (["loan_exp1", "--epochs", "two"], "epochs: 'two' is not a valid int"),
        (["loan_exp1", "--hiden", "8"], "unknown config key\\(s\\) hiden"),
        (["loan_exp1", "stray"], "expected --key value, got 'stray'"),
        (["loan_exp9"], "unknown experiment 'loan_exp9'; registered: .*loan_exp1"),
        (["loan_exp1", "--sweep"], "loan_exp1 has no default grid"),
        (["loan_exp4", "--grid", "dropout"], "is not of the form key=value1,value2"),
        (["loan_exp4", "--grid", "dropout=0.1,1.5"], r"dropout must be in \[0, 1\)"),
    ],
    ids=[
        "lr-zero",
        "lr-negative",
        "epochs-text",
        "unknown-key",
        "stray-token",
        "unknown-experiment",
        "no-grid",
        "grid-syntax",
        "grid-out-of-range",
    ],
)
def test_bad_input_exits_2_with_an_error_and_stores_nothing(db, capsys, args, message):
    assert main([*args, "--db", str(db)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ")
    assert re.search(message, err), err
    assert RunStore(db).list() == []


def test_no_experiment_is_a_usage_error(db, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--db", str(db)])
    assert exit_.value.code == 2 and "name an experiment" in capsys.readouterr().err


def test_a_failed_run_exits_1_and_shows_the_error(db, capsys):
    assert main(["loan_exp1", "--lr", "10", "--epochs", "2", "--db", str(db)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("run 1 failed:")
    assert "FloatingPointError" in err and "learning rate 10.0 is too high" in err
    assert RunStore(db).get(1).status == "failed"


def test_a_sweep_returns_its_runs_and_the_best_one(db, capsys):
    args = ["loan_exp4", "--grid", "dropout=0.1,0.5", "--epochs", "1", "--json", "--db", str(db)]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["experiment"], result["status"]) == ("loan_exp4", "done")
    assert result["selection_metric"] == "val_roc_auc"
    runs = result["runs"]
    assert [run["config"]["dropout"] for run in runs] == [0.1, 0.5]
    assert all(run["status"] == "done" and run["config"]["epochs"] == 1 for run in runs)
    best = max(runs, key=lambda run: run["final"]["val_roc_auc"])
    assert result["best"]["run_id"] == best["run_id"]
    store = RunStore(db)
    assert {run.id for run in store.list(sweep_id=result["sweep_id"])} == {
        run["run_id"] for run in runs
    }
    assert store.get(runs[0]["run_id"]).details["swept_keys"] == ["dropout"]


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ([], {}),
        (["--lr", "0.1"], {"lr": "0.1"}),
        (["--epochs=5"], {"epochs": "5"}),
        (["--skip"], {"skip": "true"}),
        (["--skip", "--lr", "0.1"], {"skip": "true", "lr": "0.1"}),
        (["--lr", "0.1", "--skip"], {"lr": "0.1", "skip": "true"}),
        (["--weight-decay", "-0.5"], {"weight_decay": "-0.5"}),
        (["--target", ""], {"target": ""}),
        (["--grid=a=b"], {"grid": "a=b"}),
        (["--lr", "1", "--lr", "2"], {"lr": "2"}),
    ],
)
def test_parse_overrides(tokens, expected):
    assert parse_overrides(tokens) == expected


@pytest.mark.parametrize("tokens", [["lr", "0.1"], ["--"], ["--lr", "0.1", "0.2"], ["-x"]])
def test_parse_overrides_rejects_tokens_that_are_not_options(tokens):
    with pytest.raises(ValueError, match="expected --key value"):
        parse_overrides(tokens)
