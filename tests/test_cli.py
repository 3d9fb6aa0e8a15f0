"""The `dlstudio` command: every verb listed and reachable, the README's examples, and its
`train` verb (`core.runs.cli`): listing, single runs, sweeps, errors, overrides."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import core
from core.cli import ALLOW_PATH, VERBS, Verb
from core.cli import main as dlstudio_main
from core.experiments import get_experiment, list_experiments
from core.paths import ALLOW_ENV
from core.runs.cli import build_parser, main, parse_overrides
from core.runs.store import RunStore
from core.runs.sweeps import parse_grid, plan_sweep

REPO = Path(core.__file__).resolve().parent.parent
DLSTUDIO = Path(sys.executable).with_name("dlstudio")  # the console script in the venv
RUN_SUMMARY = {
    "run_id",
    "status",
    "experiment",
    "config",
    "final",
    "details",
    "duration_s",
    "error",
}


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DLSTUDIO_DB", raising=False)
    return tmp_path / "runs.sqlite"


def cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m core train ARGS` in a process of its own (the same as `dlstudio train`)."""
    return subprocess.run(
        [sys.executable, "-m", "core", "train", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_list_prints_one_line_per_experiment_name_first():
    """Also the check that `python -m core VERB` is the dlstudio command."""
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
    summary = json.loads(result.stdout)  # the whole of stdout is the one JSON object
    assert set(summary) == RUN_SUMMARY
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


# --- the dlstudio command: verbs, help, errors, the README's examples -------------------------


def verb_paths(verbs: dict[str, Verb] = VERBS, above: tuple[str, ...] = ()) -> list[tuple]:
    """Every verb and sub-verb that runs a function, as the words that name it."""
    paths = []
    for name, verb in verbs.items():
        if verb.target:
            paths.append((*above, name))
        paths += verb_paths(verb.verbs, (*above, name))
    return paths


def verb_help(path: tuple[str, ...], capsys) -> str:
    """What `dlstudio PATH --help` prints (argparse exits 0 after printing it)."""
    with pytest.raises(SystemExit) as exit_:
        dlstudio_main([*path, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_the_console_script_lists_every_verb_with_its_line_of_help(tmp_path):
    assert DLSTUDIO.is_file(), f"no {DLSTUDIO}: scripts/install.sh installs it (make test does)"
    result = subprocess.run(
        [DLSTUDIO, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: dlstudio VERB")
    listed = re.findall(r"^  (\w\S*) +(.+)$", result.stdout, re.M)
    assert listed == [(name, verb.help) for name, verb in VERBS.items()]
    assert re.search(r"^  --allow-path DIR +\S", result.stdout, re.M)  # the global option
    expected = {"train", "classify", "generate", "search", "optimize", "metrics", "quantize"}
    assert expected | {"embeddings", "build-models", "report", "serve"} <= set(VERBS)


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """`dlstudio train --list | head -1`: a closed pipe ends the command quietly. The pipe's
    read end is closed before the command starts, so every write meets the closed pipe."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [DLSTUDIO, "train", "--list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == -signal.SIGPIPE


def test_help_imports_none_of_the_verbs_modules():
    probe = (
        "import sys; from core.cli import main; main(['--help']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('core', 'torch', 'gradio')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "['core', 'core.cli', 'core.paths']"


@pytest.mark.parametrize("path", verb_paths(), ids=" ".join)
def test_every_verb_reaches_its_function_whose_usage_names_the_verb(path, capsys):
    assert f"usage: dlstudio {' '.join(path)} " in verb_help(path, capsys)


def test_a_group_lists_its_sub_verbs_and_an_unknown_verb_exits_2(capsys):
    assert dlstudio_main(["report", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("loan", "image", "ssl", "pseudo-labels", "inference"):
        assert re.search(rf"^  {name} +\S", out, re.M)
    assert dlstudio_main(["trian", "loan_exp1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "unknown verb 'trian' (did you mean 'train'?)" in err
    assert dlstudio_main(["report"]) == 2 and "name a verb" in capsys.readouterr().err


def readme_examples() -> list[list[str]]:
    """The words after `dlstudio` of every such line in the README's bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    lines = [shlex.split(line, comments=True) for block in blocks for line in block.splitlines()]
    return [words[1:] for words in lines if words[:1] == ["dlstudio"]]


def test_the_readme_shows_the_command():
    assert len(readme_examples()) >= 15


@pytest.mark.parametrize("words", readme_examples(), ids=" ".join)
def test_every_readme_example_parses(words, capsys, monkeypatch):
    """A dry check, nothing runs: the verb exists and each --flag is one of its flags; for
    `train`, the experiment exists and the overrides (and grid) make valid configs, with the
    folders of a leading `--allow-path DIR` allowed (they need not exist here)."""
    allowed = []
    while words[:1] == [ALLOW_PATH]:
        allowed, words = [*allowed, words[1]], words[2:]
    monkeypatch.setenv(ALLOW_ENV, os.pathsep.join(allowed))
    words = ["12" if word == "RUN_ID" else word for word in words]  # a placeholder for an id
    verb, path = Verb("", verbs=VERBS), []
    while len(path) < len(words) and words[len(path)] in verb.verbs:
        verb = verb.verbs[words[len(path)]]
        path.append(words[len(path)])
    rest = words[len(path) :]
    if verb.target is None:
        assert rest in ([], ["--help"]), f"dlstudio {' '.join(path)} needs a sub-verb"
        return
    known = set(re.findall(r"(?<![\w-])--[\w-]+", verb_help(tuple(path), capsys)))
    if path == ["train"] and "--help" not in rest:
        args, overrides = build_parser().parse_known_args(rest)
        if args.list:
            return
        experiment = get_experiment(args.experiment)
        values = parse_overrides(overrides)
        experiment.make_config(values)
        if args.sweep or args.grid:
            grid = parse_grid(args.grid) if args.grid else dict(experiment.grid)
            assert plan_sweep(args.experiment, values, grid)
        return
    flags = {word.split("=")[0] for word in rest if word.startswith("--")}
    assert flags <= known, f"dlstudio {' '.join(path)} has no {', '.join(flags - known)}"
