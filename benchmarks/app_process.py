"""`python app.py` in a child process on a free loopback port: for the load benchmark and the
end-to-end tests, which drive the app as its users do."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, deadline_s: float = 180) -> None:
    """Return once `url` answers; raise if the app exits first or stays silent too long."""
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


@contextlib.contextmanager
def served_app(data: Path, deadline_s: float = 180) -> Iterator[str]:
    """The app serving on 127.0.0.1 with `data` as its data directory (run store, uploads; its
    log goes to data/app.log); yields its URL and stops it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "DLSTUDIO_DATA": str(data),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    with (Path(data) / "app.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_for_http(url, process, deadline_s)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
