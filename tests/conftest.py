"""Shared fixtures: an isolated run store and data directory per test, and a polling helper."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


# --- End-to-end: one app process per test session, a fresh browser page per test module. ---

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the app did not answer at {url} within {deadline_s} s")


@pytest.fixture(scope="session")
def app_data(tmp_path_factory) -> Path:
    """The running app's data directory (run store, uploads): tests may open its store."""
    return tmp_path_factory.mktemp("app-data")


@pytest.fixture(scope="session")
def app_url(app_data):
    """`python app.py` on a free loopback port, shared by every end-to-end module."""
    port = free_port()
    env = {
        **os.environ,
        "DLSTUDIO_DATA": str(app_data),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = (app_data / "app.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, app_url):
    """A fresh page on the app for each test module; tests click their own tab first."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    yield page
    page.close()
