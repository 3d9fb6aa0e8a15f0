"""Grid sweeps: expand a grid into configs, and read a finished sweep back as a results table.

The best run of a sweep is chosen on the experiment's selection metric (a validation metric);
the test metric is only reported next to it.
"""

import itertools
import uuid
from dataclasses import asdict
from typing import Any

import pandas as pd

from core.experiments import get_experiment
from core.runs.store import RunStore


def new_sweep_id() -> str:
    """A fresh id that groups the runs of one sweep in the store: 8 hex digits."""
    return uuid.uuid4().hex[:8]


def expand_grid(grid: dict[str, tuple[Any, ...] | list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in a stable order."""
    if not grid:
        raise ValueError("a sweep needs a grid with at least one key")
    empty = [key for key, values in grid.items() if len(values) == 0]
    if empty:
        raise ValueError(f"grid key(s) {', '.join(empty)} have no values")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def plan_sweep(
    experiment_name: str, base: dict[str, Any] | None, grid: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The validated config of every grid point (the experiment's own grid when none is given).

    Raises ValueError before any run exists when one point's config is invalid.
    """
    experiment = get_experiment(experiment_name)
    grid = grid or experiment.grid
    if not grid:
        raise ValueError(f"{experiment_name} has no default grid: give one, e.g. lr=0.01,0.1")
    return [
        asdict(experiment.make_config({**(base or {}), **point})) for point in expand_grid(grid)
    ]


def parse_grid(text: str) -> dict[str, list[str]]:
    """`"lr=0.01,0.1; weight_decay=0.1,0.01"` -> {"lr": ["0.01", "0.1"], "weight_decay": [...]}."""
    grid: dict[str, list[str]] = {}
    for part in filter(None, (chunk.strip() for chunk in text.split(";"))):
        key, sep, values = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"grid entry {part!r} is not of the form key=value1,value2")
        grid[key.strip()] = [value.strip() for value in values.split(",") if value.strip()]
    return grid


def format_grid(grid: dict[str, Any]) -> str:
    """The inverse of `parse_grid`: {"lr": (0.01, 0.1)} -> "lr=0.01,0.1"."""
    return "; ".join(f"{key}={','.join(map(str, values))}" for key, values in grid.items())


def sweep_results(store: RunStore, sweep_id: str) -> pd.DataFrame:
    """One row per run of the sweep: the swept values, status, final metrics and `best` flag."""
    runs = sorted(store.list(sweep_id=sweep_id), key=lambda run: run.id)
    if not runs:
        raise KeyError(f"no runs belong to sweep {sweep_id!r}")
    experiment = get_experiment(runs[0].experiment)
    swept = runs[0].details.get("swept_keys") or []
    rows = []
    for run in runs:
        final = store.final_metrics(run.id)
        rows.append(
            {
                "run_id": run.id,
                **{key: run.config.get(key) for key in swept},
                "status": run.status,
                experiment.selection_metric: final.get(experiment.selection_metric),
                f"test_{experiment.metric}": final.get(f"test_{experiment.metric}"),
            }
        )
    table = pd.DataFrame(rows)
    done = table["status"].eq("done") & table[experiment.selection_metric].notna()
    table["best"] = False
    if done.any():
        table.loc[table.loc[done, experiment.selection_metric].idxmax(), "best"] = True
    return table
