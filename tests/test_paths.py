"""User-named paths: what `core.paths.confine` lets through, configs confining their path fields
when they are built, `dlstudio --allow-path`, and seeds checked at launch.

The suite's own temporary files are readable in every other test (conftest); these tests take
that away (`DLSTUDIO_ALLOW_PATHS` removed), so `tmp_path` is outside what the app may read,
as a server's own files are.
"""

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core import cli
from core.config import build_config
from core.experiments import get_experiment
from core.paths import (
    ALLOW_ENV,
    DOWNLOADS_MAX_AGE_S,
    REPO_ROOT,
    PathRefused,
    allow_paths,
    confine,
    default_db_path,
    download_folder,
    uploads_dir,
)
from core.tabular.data import read_csv

SECRET = "HF_TOKEN=canary-4f1d"
DOG = REPO_ROOT / "assets" / "examples" / "dog_huey.jpg"


@pytest.fixture
def server(tmp_path, monkeypatch) -> Path:
    """A data directory of its own, nothing allowed beyond the app's folders, and a server
    file outside them (`server/.env`) whose first line is a secret."""
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DLSTUDIO_DB", raising=False)
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    uploads_dir().mkdir(parents=True)
    secret = tmp_path / "server" / ".env"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET}\nOTHER=1\n")
    return secret


def test_gradio_upload_folder_is_open_only_to_files_an_upload_component_handed_over(
    server, tmp_path, monkeypatch
):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    upload = tmp_path / "gradio" / "4c1e9a" / "loans.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text("a,b\n1,0\n2,1\n")
    assert confine(upload, uploaded=True) == upload.resolve()
    assert "refused" in refusal(upload)  # typed into a form: maybe another visitor's upload
    config = get_experiment("loan_exp1").config_type
    with pytest.raises(PathRefused, match="refused"):
        build_config(config, {"data": str(upload), "target": "b"})
    read_csv(upload, uploaded=True)  # what the CSV upload's handler does
    with pytest.raises(PathRefused):
        read_csv(upload)


def refusal(path, what: str = "data") -> str:
    """The message `confine` refuses `path` with; it must name no path."""
    with pytest.raises(PathRefused) as error:
        confine(path, what)
    message = str(error.value)
    assert message.startswith(f"{what}: ") and "/" not in message, message
    return message


def test_uploads_and_shipped_assets_are_readable(server, monkeypatch):
    upload = uploads_dir() / "loans.csv"
    upload.write_text("a,b\n")
    assert confine(str(upload)) == upload.resolve()
    assert confine(DOG) == DOG
    monkeypatch.chdir(REPO_ROOT)
    assert confine("assets/examples/dog_huey.jpg") == DOG


@pytest.mark.parametrize("name", ["outside", "traversal", "symlink", "proc", "git config"])
def test_files_outside_the_uploads_are_refused_without_naming_them(server, name):
    link = uploads_dir() / "innocent.csv"
    link.symlink_to(server)
    path = {
        "outside": str(server),
        "traversal": f"{uploads_dir()}/../../server/.env",
        "symlink": str(link),
        "proc": "/proc/self/environ",
        "git config": str(REPO_ROOT / ".git" / "config"),
    }[name]
    assert "refused" in refusal(path)


def test_the_run_store_its_companions_and_its_runs_are_never_inputs(server, tmp_path):
    allow_paths([tmp_path])  # even inside an allowed folder
    store = default_db_path()
    for path in (store, f"{store}-wal", f"{store}-journal", store.with_suffix("") / "3"):
        assert "run store" in refusal(path)
    assert confine(tmp_path / "data" / "mine.csv")  # the folder itself is allowed


@pytest.mark.parametrize("path", ["", "   ", "uploads/a.csv\x00.png"])
def test_empty_paths_and_nul_bytes_are_refused(server, path):
    assert "uploaded" in refusal(path)


@pytest.mark.parametrize("name", ["server file", "git config", "run store"])
def test_a_loan_config_refuses_a_server_file_before_reading_it(server, name):
    data = {
        "server file": server,
        "git config": REPO_ROOT / ".git" / "config",
        "run store": default_db_path(),
    }[name]
    with pytest.raises(PathRefused) as error:
        get_experiment("loan_exp1").checked_config({"data": str(data), "target": "x"})
    message = str(error.value)
    assert message.startswith("data: ") and "canary" not in message and "/" not in message


def test_an_allowed_folder_is_read(server):
    """The same server file, once its folder is allowed, is read: the refusal above is what
    kept its first line out of the message."""
    allow_paths([server.parent])
    with pytest.raises(ValueError, match="columns are: HF_TOKEN=canary"):
        get_experiment("loan_exp1").checked_config({"data": str(server), "target": "x"})


def test_the_built_in_sources_and_run_ids_are_names_not_paths(server):
    assert get_experiment("loan_exp1").make_config({"data": "islp-default"}).data == "islp-default"
    config = get_experiment("digits_finetune").make_config({"init_from": "12"})
    assert config.init_from == "12"  # resolved through the run store later, not confined


@pytest.mark.parametrize(
    ("experiment", "key"),
    [
        ("digits_finetune", "init_from"),
        ("digits_plain", "resume"),
        ("mnist_plain", "data_root"),
        ("digits_context", "data_root"),
        ("digits_pseudo", "data_root"),
    ],
)
def test_every_path_field_is_confined(server, experiment, key):
    with pytest.raises(PathRefused, match=f"^{key}: refused"):
        get_experiment(experiment).make_config({key: str(server.parent)})


@dataclass
class Toy:
    source: str = field(
        default="", metadata={"path": True, "not_a_path": lambda value: value == "builtin"}
    )
    note: str = "/etc/passwd"  # no path: never opened


def test_build_config_confines_the_fields_that_say_they_are_paths(server):
    assert build_config(Toy, {"source": "builtin"}).source == "builtin"
    assert build_config(Toy).note == "/etc/passwd"
    upload = str(uploads_dir() / "a.csv")
    assert build_config(Toy, {"source": f"  {upload} "}).source == upload  # spaces dropped
    with pytest.raises(PathRefused, match=r"^source: refused"):
        build_config(Toy, {"source": str(server)})


def test_a_folder_named_like_a_csv_gets_a_plain_message(server):
    folder = uploads_dir() / "x.csv"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"^x\.csv is a folder, not a CSV file$"):
        read_csv(folder)
    with pytest.raises(ValueError, match=r"^no such CSV file: gone\.csv \("):
        read_csv(uploads_dir() / "gone.csv")


def run_dlstudio(argv: list[str], capsys) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_a_refused_path_ends_the_command_with_status_2_and_the_hint(server, capsys):
    picture = server.parent / "dog.jpg"
    picture.write_bytes(DOG.read_bytes())
    status, out, err = run_dlstudio(["classify", str(picture), "--model", "animals"], capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: image: refused") and str(server.parent) not in err
    assert err.splitlines()[-1] == cli.ALLOW_PATH_HINT


def test_allow_path_lets_a_command_read_the_folder(server, capsys, monkeypatch):
    monkeypatch.setenv(ALLOW_ENV, "")  # restored after the test: main() allows in os.environ
    picture = server.parent / "dog.jpg"
    picture.write_bytes(DOG.read_bytes())
    argv = ["--allow-path", str(server.parent), "classify", str(picture), "--model", "animals"]
    status, out, err = run_dlstudio(argv, capsys)
    assert status == 0, err
    image, best = out.splitlines()[:2]
    assert image == str(picture) and best.split()[0] == "dog"
    assert str(server.parent.resolve()) in os.environ[ALLOW_ENV].split(os.pathsep)


def test_the_shipped_examples_need_no_allow_path(server, capsys):
    status, out, err = run_dlstudio(["classify", str(DOG), "--model", "animals"], capsys)
    assert status == 0, err
    assert out.splitlines()[1].split()[0] == "dog"


@pytest.mark.parametrize("argv", [["--allow-path"], ["--allow-path", "/no/such/folder", "info"]])
def test_allow_path_needs_a_folder(argv, capsys):
    status, _, err = run_dlstudio(argv, capsys)
    assert status == 2 and "--allow-path needs a folder" in err


@pytest.mark.parametrize(
    "experiment", ["loan_exp1", "digits_plain", "digits_context", "digits_pseudo"]
)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", r"seed must be in \[0, 4294967295\], got -1"),
        (10**30, r"seed must be in \[0, 4294967295\], got 10{30}$"),
        ("inf", "seed: 'inf' is not a valid int"),
        (float("inf"), "seed: inf is not a valid int"),
    ],
)
def test_seeds_outside_what_numpy_takes_are_refused_at_launch(experiment, value, message):
    with pytest.raises(ValueError, match=message):
        get_experiment(experiment).checked_config({"seed": value})


@pytest.mark.parametrize("experiment", ["digits_plain", "digits_context", "digits_pseudo"])
def test_split_seeds_are_checked_too(experiment):
    with pytest.raises(ValueError, match=r"^split_seed must be in \[0, 4294967295\]"):
        get_experiment(experiment).checked_config({"split_seed": str(2**32)})


def test_train_refuses_a_server_file_and_reads_it_once_allowed(server, capsys, monkeypatch):
    monkeypatch.setenv(ALLOW_ENV, "")
    argv = ["train", "loan_exp1", "--data", str(server), "--target", "x"]
    argv += ["--db", str(server.parent / "runs.sqlite")]
    status, out, err = run_dlstudio(argv, capsys)
    assert status == 2 and out == "" and "data: refused" in err and "canary" not in err
    status, _, err = run_dlstudio(["--allow-path", str(server.parent), *argv], capsys)
    assert status == 2 and "columns are: HF_TOKEN=canary" in err  # read: the user allowed it


def test_download_folders_older_than_an_hour_are_removed(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = download_folder("export-")
    (old / "runs.csv").write_text("id\n1\n")
    hour_ago = time.time() - DOWNLOADS_MAX_AGE_S - 5
    os.utime(old, (hour_ago, hour_ago))
    recent = download_folder("page-")
    new = download_folder("page-")
    assert not old.exists() and recent.is_dir() and new.is_dir() and recent != new
    assert new.parent == tmp_path / "dlstudio-downloads"
