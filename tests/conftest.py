"""Shared fixtures: an isolated run store and data directory per test, and a polling helper."""

import time

import pytest

from core.runs import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    """A fresh run store; the data directory (uploads, downloads) is the test's own too."""
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DLSTUDIO_DB", raising=False)
    return RunStore(tmp_path / "runs.sqlite")


def poll(condition, what: str, timeout_s: float = 120.0) -> None:
    """Wait until `condition()` holds; fail naming `what` after `timeout_s` (a hang guard)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def wait_until():
    return poll
