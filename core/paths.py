"""Where DL Studio keeps what users make, and which files a user-named path may open.

Everything lives under one data directory so that a container can mount it as a volume.
`DLSTUDIO_DATA` overrides the default `<repo>/data` (ignored by git).

The app is public, so a path a visitor names (a config's `data`, a retrieval corpus, a vector
file) is `confine`d: it must lie in the uploads the app keeps (`uploads/NAME` names a kept copy)
or in the data shipped with the app (`assets/`, `<data dir>/datasets/`), after symlinks are
resolved. Gradio's own upload folder is open only to files handed over by an upload component
(`uploaded=True`): Gradio gives a handler only the files of that request, while a path typed
into a form could name another visitor's upload there. Nothing else is readable, and the run
store never is. A host or a terminal user opens more folders with `allow_paths`
(`dlstudio --allow-path DIR`), which also reaches the worker processes through
`DLSTUDIO_ALLOW_PATHS`.
"""

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ALLOW_ENV = "DLSTUDIO_ALLOW_PATHS"  # extra readable folders, separated by os.pathsep
UPLOADS_PREFIX = "uploads/"  # "uploads/NAME" names a kept upload without a server path
DOWNLOADS_MAX_AGE_S = 3600  # a download's folder outlives Gradio's copy of it by far


class PathRefused(ValueError):
    """A user-named path outside what the app may read; the message names no server path."""


def data_dir() -> Path:
    """The data directory, created on first use."""
    path = Path(os.environ.get("DLSTUDIO_DATA", REPO_ROOT / "data")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    """The SQLite run store: `DLSTUDIO_DB` if set, else `<data dir>/runs.sqlite`."""
    return Path(os.environ.get("DLSTUDIO_DB", data_dir() / "runs.sqlite")).expanduser()


def uploads_dir() -> Path:
    """Where the app keeps copies of visitors' uploads (runs refer to these copies)."""
    return data_dir() / "uploads"


def upload_name(kept: Path) -> str:
    """How a config names a kept upload: `uploads/NAME`, which `confine` resolves in the
    uploads folder, so that the form a visitor sees carries no server path."""
    return UPLOADS_PREFIX + kept.name


def gradio_upload_dir() -> Path:
    """Where Gradio writes an upload before a handler sees it (`GRADIO_TEMP_DIR`)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def download_folder(prefix: str) -> Path:
    """A new folder for files made for a visitor to download (an export, a study's zip).

    Gradio serves a copy from its own cache, so the folders under the system's temporary
    directory (which Gradio may serve) live for an hour; each call first removes the older
    ones, so a busy host's disk does not fill with exports."""
    root = Path(tempfile.gettempdir()) / "dlstudio-downloads"
    root.mkdir(exist_ok=True)
    cutoff = time.time() - DOWNLOADS_MAX_AGE_S
    for old in root.iterdir():
        try:
            stale = old.stat().st_mtime < cutoff
        except FileNotFoundError:  # another request removed it a moment ago
            continue
        if stale:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def shipped_data_dirs() -> list[Path]:
    """The data shipped with the app: `assets/`, and `<data dir>/datasets/` for a host's sets."""
    return [REPO_ROOT / "assets", data_dir() / "datasets"]


def allowed_dirs(uploaded: bool = False) -> list[Path]:
    """Every folder a user-named path may lie in, resolved; with `uploaded`, Gradio's upload
    folder too (for a file an upload component handed over)."""
    extra = [Path(p).expanduser() for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
    handed_over = [gradio_upload_dir()] if uploaded else []
    roots = [uploads_dir(), *handed_over, *shipped_data_dirs(), *extra]
    return [root.resolve() for root in roots]


def allow_paths(paths: list[str | Path]) -> None:
    """Let user-named paths also lie in these folders, in this process and the ones it starts."""
    current = [p for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
    added = [str(Path(p).expanduser().resolve()) for p in paths]
    os.environ[ALLOW_ENV] = os.pathsep.join(dict.fromkeys([*current, *added]))


def _run_store_paths() -> list[Path]:
    """The run store's file, its SQLite companions and its runs folder: never an input."""
    store = default_db_path().resolve()
    companions = [store.with_name(store.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    return [store, *companions, store.with_suffix("")]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def confine(path: str | Path, what: str = "file", *, uploaded: bool = False) -> Path:
    """`path` resolved (symlinks followed) when the app may read it; else `PathRefused`.

    `what` names the input in the message ("data", "corpus file"); the message never repeats
    the path, so a refusal tells a visitor nothing about the server's files. `uploaded` says
    the path came from an upload component (not typed), which opens Gradio's upload folder.
    """
    text = str(path).strip()
    if not text or "\x00" in text:
        raise PathRefused(f"{what}: give the name of a file you uploaded")
    if text.startswith(UPLOADS_PREFIX):
        resolved = (uploads_dir() / text.removeprefix(UPLOADS_PREFIX)).resolve()
    else:
        resolved = Path(text).expanduser().resolve()
    if any(_inside(resolved, denied) for denied in _run_store_paths()):
        raise PathRefused(f"{what}: the run store cannot be used as an input")
    if not any(_inside(resolved, root) for root in allowed_dirs(uploaded)):
        raise PathRefused(
            f"{what}: refused; the app reads only files you uploaded and the data shipped with it"
        )
    return resolved


_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.@+~-]+)+/?")


def redact_paths(text: str) -> str:
    """`text` with every absolute path cut to its last part, for messages a visitor reads
    (a traceback's last line, an OS error): `/srv/app/data/runs/7/last.pt` -> `last.pt`."""
    return _ABSOLUTE_PATH.sub(lambda match: Path(match.group(0)).name or "/", text)
