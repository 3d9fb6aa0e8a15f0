"""Tabular binary-classification data: loading, checking and preprocessing.

Sources: ISLP's Default.csv (shipped in the `islp` package, works offline), OpenML credit-g
(needs network), or any CSV the user gives with a chosen target column. Preprocessing (one-hot
categoricals, standardised numerics) is fitted on the training split only, after a stratified
train/val/test split with a fixed seed.
"""

import hashlib
import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from core.paths import confine, data_dir, redact_paths, uploads_dir

BUILTIN_SOURCES = {
    "islp-default": "ISLP Default: 10,000 clients (student, balance, income) -> default; offline",
    "openml-credit-g": "OpenML credit-g: 1,000 German credit applicants -> good/bad; needs network",
}
DEFAULT_TARGETS = {"islp-default": "default", "openml-credit-g": "class"}
MAX_CSV_BYTES = 50 * 1024 * 1024


def islp_default_path() -> Path:
    """Where the `islp` package keeps Default.csv (installed --no-deps, so it is not imported)."""
    spec = importlib.util.find_spec("ISLP")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the ISLP package is not installed: run `make run` or `make test`")
    return Path(spec.submodule_search_locations[0]) / "data" / "Default.csv"


def load_table(source: str) -> pd.DataFrame:
    """A built-in source by name, or the path of a CSV file."""
    if source == "islp-default":
        return pd.read_csv(islp_default_path())
    if source == "openml-credit-g":
        return _fetch_credit_g()
    return read_csv(source)


def read_csv(path: str | Path, uploaded: bool = False) -> pd.DataFrame:
    """Read a user's CSV with clear errors for a missing, huge, empty or unreadable file.

    Messages name the file by its base name only: a visitor reads them, and the folders it lies
    in are the server's business. The path is confined first (`core.paths.confine`; `uploaded`:
    an upload component handed it over): this is where a user-named CSV is opened, so no caller
    can skip the check.
    """
    path = confine(path, "data", uploaded=uploaded)
    if path.is_dir():
        raise ValueError(f"{path.name} is a folder, not a CSV file")
    if not path.is_file():
        raise ValueError(
            f"no such CSV file: {path.name} (built-in sources: {', '.join(BUILTIN_SOURCES)})"
        )
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"the CSV file {path.name} is empty")
    if size > MAX_CSV_BYTES:
        raise ValueError(
            f"the CSV file {path.name} is {size / 2**20:.0f} MB; the limit is "
            f"{MAX_CSV_BYTES // 2**20} MB"
        )
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"the CSV file {path.name} has no columns") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        reason = redact_paths(str(error).strip().splitlines()[0])
        raise ValueError(f"the file {path.name} is not a readable CSV: {reason}") from None
    if table.empty:
        raise ValueError(f"the CSV file {path.name} has a header but no rows")
    return table


def _fetch_credit_g() -> pd.DataFrame:
    from sklearn.datasets import fetch_openml

    try:
        bunch = fetch_openml(
            "credit-g", version=1, as_frame=True, data_home=str(data_dir() / "openml")
        )
    except Exception as error:
        raise ValueError(
            f"OpenML credit-g could not be downloaded (no network?): {redact_paths(str(error))}"
        ) from None
    return bunch.frame


@dataclass
class BinarySplits:
    """Preprocessed float32 arrays for train / val / test, and what the columns mean."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    positive_label: str
    transformer: ColumnTransformer

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def positive_class(labels: pd.Series) -> str:
    """The class to predict: the minority class (defaults, bad credit), ties broken by name."""
    counts = labels.astype(str).value_counts()
    return str(min(counts.index, key=lambda label: (counts[label], label)))


def check_binary_table(table: pd.DataFrame, target: str) -> None:
    """Raise ValueError with a plain explanation when `table` cannot train a binary classifier."""
    if target not in table.columns:
        raise ValueError(
            f"the target column {target!r} is not in the data; columns are: "
            f"{', '.join(map(str, table.columns))}"
        )
    if table.shape[1] < 2:
        raise ValueError("the data needs at least one feature column besides the target")
    missing = table.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        where = ", ".join(f"{column} ({count})" for column, count in missing.items())
        raise ValueError(f"the data has missing values (NaN) in: {where}; fill or drop them first")
    classes = table[target].astype(str).unique()
    if len(classes) != 2:
        shown = ", ".join(sorted(classes)[:10])
        raise ValueError(
            f"the target {target!r} must have exactly two classes; it has {len(classes)}: {shown}"
        )
    smallest = table[target].astype(str).value_counts().min()
    if smallest < 10:
        raise ValueError(
            f"the rarer class of {target!r} has only {smallest} rows; "
            "at least 10 are needed for stratified train/val/test splits"
        )


def prepare_binary(
    table: pd.DataFrame,
    target: str,
    seed: int = 0,
    val_size: float = 0.15,
    test_size: float = 0.2,
    positive_label: str | None = None,
) -> BinarySplits:
    """Stratified train/val/test split, then one-hot + standardisation fitted on train only."""
    check_binary_table(table, target)
    labels = table[target].astype(str)
    positive = positive_label if positive_label is not None else positive_class(labels)
    if positive not in set(labels):
        raise ValueError(f"positive label {positive!r} is not a class of {target!r}")
    y = (labels == positive).to_numpy(dtype=np.float32)
    features = table.drop(columns=[target])
    # Stratify on the label text, so choosing the other class as positive keeps the same split.
    rest_x, test_x, rest_y, y_test, rest_labels, _ = train_test_split(
        features, y, labels, test_size=test_size, stratify=labels, random_state=seed
    )
    train_x, val_x, y_train, y_val = train_test_split(
        rest_x,
        rest_y,
        test_size=val_size / (1 - test_size),
        stratify=rest_labels,
        random_state=seed,
    )

    numeric = features.select_dtypes(include="number").columns.tolist()
    categorical = [column for column in features.columns if column not in numeric]
    transformer = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            ),
        ]
    )
    x_train = transformer.fit_transform(train_x).astype(np.float32)
    return BinarySplits(
        x_train=x_train,
        y_train=y_train,
        x_val=transformer.transform(val_x).astype(np.float32),
        y_val=y_val,
        x_test=transformer.transform(test_x).astype(np.float32),
        y_test=y_test,
        feature_names=[str(name) for name in transformer.get_feature_names_out()],
        positive_label=positive,
        transformer=transformer,
    )


def import_csv(path: str | Path) -> tuple[Path, list[str]]:
    """Check a CSV an upload component handed over and keep a copy in the data directory;
    returns (copy, columns).

    Upload folders are temporary; runs refer to the kept copy, so they can be re-run later.
    """
    table = read_csv(path, uploaded=True)
    path = confine(path, "data", uploaded=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    kept = uploads_dir() / f"{digest}-{path.name}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    if not kept.exists():
        shutil.copyfile(path, kept)
    return kept, [str(column) for column in table.columns]
