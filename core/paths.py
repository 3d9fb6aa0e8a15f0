"""Where DL Studio keeps what users make: the run store, uploads, downloaded data.

Everything lives under one data directory so that a container can mount it as a volume.
`DLSTUDIO_DATA` overrides the default `<repo>/data` (ignored by git).
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data directory, created on first use."""
    path = Path(os.environ.get("DLSTUDIO_DATA", REPO_ROOT / "data")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    """The SQLite run store: `DLSTUDIO_DB` if set, else `<data dir>/runs.sqlite`."""
    return Path(os.environ.get("DLSTUDIO_DB", data_dir() / "runs.sqlite")).expanduser()
