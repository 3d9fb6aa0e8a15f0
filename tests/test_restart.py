"""Killing the app mid-run: finished runs stay, the running one ends up `interrupted`."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from core.runs.store import RunStore

REPO = Path(__file__).resolve().parent.parent

# A stand-in for the app: a JobRunner that finishes one short run, starts a long one, and waits.
APP = textwrap.dedent("""
    import sys, time
    from core.runs.jobs import JobRunner
    from core.runs.store import RunStore
    runner = JobRunner(RunStore(sys.argv[1]))
    runner.wait(runner.submit("loan_exp1", {"epochs": 1}))
    runner.submit("loan_exp2", {"epochs": 1000})
    time.sleep(600)
""")


def test_killing_the_app_marks_its_running_run_interrupted(store, tmp_path, wait_until):
    db = store.path
    env = {**os.environ, "DLSTUDIO_DATA": str(tmp_path)}
    app = subprocess.Popen([sys.executable, "-c", APP, str(db)], cwd=REPO, env=env)
    try:
        wait_until(
            lambda: (
                len(store.list()) == 2
                and store.list()[0].status == "running"
                and not store.metrics(store.list()[0].id).empty
            ),
            "the long run's 1st epoch",
        )
        finished, running = sorted(store.list(), key=lambda run: run.id)
        app.send_signal(signal.SIGKILL)
        app.wait()
        wait_until(lambda: store.get(running.id).finished, "the worker to record the end", 30)
    finally:
        app.kill()

    assert store.get(finished.id).status == "done"
    assert not store.metrics(finished.id).empty
    assert store.get(running.id).status == "interrupted"
    assert len(store.metrics(running.id)) >= 1  # the epochs it trained are kept
    restarted = RunStore(db)
    assert restarted.recover_interrupted() == []  # nothing left dangling for the next start
    assert [run.status for run in restarted.list()] == ["interrupted", "done"]
