"""Two search workers share one study in a real PostgreSQL server: `dlstudio tune` in two
processes, the second joining with --worker. The study ends with exactly its budget of trained
trials, no trial or run twice, and the best trial is the one the runs' own metrics name.

The server is Debian's `postgresql` (installed by `make test` when run as root); without it, or
without the PostgreSQL driver, the test is skipped and says why.
"""

import getpass
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from core.paths import REPO_ROOT
from core.runs import tuning
from core.runs.store import RunStore

BUDGET = 6
STUDY = "shared-search"
SPACE = "lr=1e-3..0.3:log; weight_decay=0..0.01"


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL server on a free loopback port, stopped after the test. As root
    it runs as Debian's `postgres` user (the server refuses to run as root), in a folder of its
    own under the system's temporary folder (pytest's is private to root)."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (make install-distributed)")
    binaries = server_binaries()
    if binaries is None:
        pytest.skip(
            "no PostgreSQL server here (Debian's postgresql; make test installs it as root)"
        )
    folder = Path(tempfile.mkdtemp(prefix="dlstudio-postgres-"))
    as_user: list[str] = []
    user = getpass.getuser()
    if os.geteuid() == 0:
        user = "postgres"
        shutil.chown(folder, user)
        as_user = ["runuser", "-u", user, "--"]
    port = free_port()
    data = folder / "data"

    def server(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{Path(command[0]).name} failed: {done.stderr[-2000:]}"

    server(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", user)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(folder / "server.log")
    server(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        server(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def worker(url: str, db: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "core", "tune", "loan_exp1", "--space", SPACE]
    command += ["--trials", str(BUDGET), "--sampler", "random", "--storage", url]
    command += ["--study", STUDY, "--db", str(db), "--epochs", "2", "--json", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)


def test_two_workers_share_one_study_in_postgresql(postgres_url, tmp_path):
    db = tmp_path / "runs.sqlite"
    RunStore(db)  # both workers write their runs here
    first = worker(postgres_url, db)
    deadline = time.monotonic() + 120
    while STUDY not in optuna.get_all_study_names(postgres_url):  # the first creates it
        assert time.monotonic() < deadline, "the first worker never created the study"
        time.sleep(0.2)
    second = worker(postgres_url, db, "--worker")
    for process in (first, second):
        process.communicate(timeout=600)
        assert process.returncode == 0

    study = optuna.load_study(study_name=STUDY, storage=postgres_url)
    trained = tuning.trained_trials(study)
    assert len(trained) == BUDGET
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trained)
    run_ids = [t.user_attrs["run_id"] for t in trained]
    assert len(set(run_ids)) == BUDGET  # no trial trained twice
    assert len({tuple(sorted(t.params.items())) for t in trained}) == BUDGET  # nor one config
    store = RunStore(db)
    runs = [run for run in store.list() if run.sweep_id == STUDY]
    assert sorted(run.id for run in runs) == sorted(run_ids)
    assert len({run.details["trial"] for run in runs}) == BUDGET
    by_runs = max(runs, key=lambda run: store.final_metrics(run.id)["val_roc_auc"])
    assert study.best_trial.user_attrs["run_id"] == by_runs.id
    assert study.best_value == pytest.approx(store.final_metrics(by_runs.id)["val_roc_auc"])
