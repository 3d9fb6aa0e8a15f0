"""Turning user tables (CSV files, edited grids, lists) into checked arrays, with clear errors.

Every error is a `MetricInputError` (a `ValueError`) whose message names the column and the
row, so the tab can show it as it is and the command line can print it as its one line.
Rows are numbered from 1, as a spreadsheet shows them.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.paths import REPO_ROOT, confine

EXAMPLES_DIR = REPO_ROOT / "assets" / "metrics"  # the example tables the tab and docs use
MAX_CSV_BYTES = 50 * 1024 * 1024
MAX_LISTED = 5  # how many bad rows a message names


class MetricInputError(ValueError):
    """Input a metric cannot use: the message says which column, which rows and why."""


def _rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask) + 1
    shown = ", ".join(map(str, rows[:MAX_LISTED]))
    return shown + (f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else "")


def _cells(values: Sequence | np.ndarray | pd.Series, name: str) -> pd.Series:
    series = pd.Series(list(values), dtype=object)
    if series.empty:
        raise MetricInputError(f"{name} is empty: enter at least one row")
    series = series.map(lambda value: value.strip() if isinstance(value, str) else value)
    blank = (series.isna() | (series == "")).to_numpy()
    if blank.any():
        raise MetricInputError(f"{name} has empty cells (row {_rows(blank)})")
    return series


def numbers(values: Sequence | np.ndarray | pd.Series, name: str) -> np.ndarray:
    """Finite floats from numbers or numeric text; blank, non-numeric or infinite cells raise."""
    series = _cells(values, name)
    parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(parsed)
    if bad.any():
        first = series.iloc[int(np.flatnonzero(bad)[0])]
        raise MetricInputError(f"{name} must be numbers: {first!r} is not (row {_rows(bad)})")
    if not np.isfinite(parsed).all():
        raise MetricInputError(f"{name} has infinite values (row {_rows(~np.isfinite(parsed))})")
    return parsed


def binary_labels(values: Sequence | np.ndarray | pd.Series, name: str = "y_true") -> np.ndarray:
    """0/1 integer labels; any other value raises, naming it and its rows."""
    parsed = numbers(values, name)
    bad = (parsed != 0) & (parsed != 1)
    if bad.any():
        raise MetricInputError(
            f"{name} must be 0 or 1: found {parsed[bad][0]:g} (row {_rows(bad)})"
        )
    return parsed.astype(int)


def scores(
    values: Sequence | np.ndarray | pd.Series, name: str = "y_score", probabilities: bool = False
) -> np.ndarray:
    """Real-valued scores; with `probabilities`, every value must lie in [0, 1]."""
    parsed = numbers(values, name)
    if probabilities:
        check_probabilities(parsed, name)
    return parsed


def check_probabilities(values: np.ndarray, name: str = "y_score") -> None:
    bad = (values < 0) | (values > 1)
    if bad.any():
        raise MetricInputError(
            f"{name} must be probabilities in [0, 1]: found {values[bad][0]:g} (row {_rows(bad)})"
        )


def class_labels(values: Sequence | np.ndarray | pd.Series, name: str) -> np.ndarray:
    """Multi-class labels: integers when every cell is a whole number, else text."""
    series = _cells(values, name)
    parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if not np.isnan(parsed).any() and np.all(parsed == np.round(parsed)):
        return parsed.astype(int)
    return series.astype(str).to_numpy()


def same_length(**arrays: np.ndarray) -> int:
    """The common length of named arrays, or an error that gives every length."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise MetricInputError(f"the columns must have the same length: {shown}")
    return next(iter(lengths.values()))


def require_both_classes(y_true: np.ndarray, name: str = "y_true") -> None:
    """Ranking metrics (ROC-AUC, PR-AUC) and recall/specificity need a 0 and a 1."""
    present = np.unique(y_true)
    if present.size < 2:
        raise MetricInputError(
            f"{name} has a single class ({present[0] if present.size else 'none'}, "
            f"{len(y_true)} rows): ROC-AUC, PR-AUC and recall or specificity need at least "
            "one 0 and one 1"
        )


def read_csv(path: str | Path, uploaded: bool = False) -> pd.DataFrame:
    """A user's CSV, with clear errors for a missing, huge, empty or unreadable file.

    The path is confined first (`core.paths.confine`: uploads and shipped data, plus the
    folders a terminal user allows), and messages name the file by its base name only.
    """
    path = confine(path, "CSV file", uploaded=uploaded)
    if not path.is_file():
        raise MetricInputError(f"no such CSV file: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise MetricInputError(f"the CSV file {path.name} is empty")
    if size > MAX_CSV_BYTES:
        raise MetricInputError(
            f"the CSV file {path.name} is {size / 2**20:.0f} MB; the limit is "
            f"{MAX_CSV_BYTES // 2**20} MB"
        )
    try:
        table = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise MetricInputError(f"the CSV file {path.name} has no columns") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise MetricInputError(f"{path.name} is not a readable CSV: {first_line}") from None
    if table.empty:
        raise MetricInputError(f"the CSV file {path.name} has a header but no rows")
    table.columns = [str(column).strip() for column in table.columns]
    return table


def require_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise naming the missing columns and the ones the table has."""
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise MetricInputError(
            f"{what} needs the columns {', '.join(columns)}; missing {', '.join(missing)} "
            f"(the table has {', '.join(map(str, table.columns)) or 'no columns'})"
        )
