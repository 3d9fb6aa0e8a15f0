"""Runs as tables to read elsewhere: their configs and final metrics, their per-epoch metrics,
and what differs between their configs.

    runs_frame(store, [3, 4])      one row per run: id, name, experiment, status, tags...,
                                   one column per config key, one per final metric
    metrics_frame(store, [3, 4])   one row per (run, epoch): every logged metric
    config_diff(store, [3, 4])     the config keys whose values differ, one column per run
    export_runs(store, [3, 4], folder) -> [runs.csv, metrics.csv]

`dlstudio export RUN_ID... --out DIR` writes the two CSV files; the Training tab offers the
same files for the runs it compares.
"""

import json
from pathlib import Path

import pandas as pd

from core.runs.store import Run, RunStore


def _run_facts(run: Run) -> dict:
    return {
        "run": run.id,
        "name": run.name,
        "experiment": run.experiment,
        "status": run.status,
        "owner": run.owner_name,
        "sweep": run.sweep_id or "",
        "duration_s": None if run.duration_s is None else round(run.duration_s, 1),
    }


def _cell(value):
    """A config value as one CSV cell: lists and dicts as JSON, the rest as they are."""
    return json.dumps(value) if isinstance(value, list | dict) else value


def runs_frame(store: RunStore, run_ids: list[int]) -> pd.DataFrame:
    """One row per run: its facts, `config.KEY` per config key, `final.METRIC` per metric of
    its last epoch (runs of different experiments leave each other's columns empty)."""
    rows = []
    for run_id in run_ids:
        run = store.get(run_id)
        config = {f"config.{key}": _cell(value) for key, value in run.config.items()}
        final = {f"final.{name}": value for name, value in store.final_metrics(run_id).items()}
        rows.append(_run_facts(run) | config | final)
    return pd.DataFrame(rows)


def metrics_frame(store: RunStore, run_ids: list[int]) -> pd.DataFrame:
    """Every logged metric of these runs: one row per (run, epoch), one column per metric."""
    tables = [store.metrics(run_id).assign(run=run_id) for run_id in run_ids]
    if not tables:
        return pd.DataFrame(columns=["run", "epoch"])
    table = pd.concat(tables, ignore_index=True)
    return table[["run", "epoch", *sorted(set(table.columns) - {"run", "epoch"})]]


def config_diff(store: RunStore, run_ids: list[int]) -> pd.DataFrame:
    """The config keys whose values differ between these runs (a key one run lacks counts as
    differing): a `key` column, then one column per run, `#ID`, each value as text (a table
    of mixed types would show True as 1)."""
    configs = {f"#{run_id}": store.get(run_id).config for run_id in run_ids}
    keys = sorted({key for config in configs.values() for key in config})
    rows = []
    for key in keys:
        values = [str(_cell(config.get(key, "(none)"))) for config in configs.values()]
        if len(set(values)) > 1:
            rows.append({"key": key, **dict(zip(configs, values, strict=True))})
    return pd.DataFrame(rows, columns=["key", *configs])


def export_runs(store: RunStore, run_ids: list[int], folder: Path) -> list[Path]:
    """Write `runs.csv` (runs_frame) and `metrics.csv` (metrics_frame) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    runs, metrics = folder / "runs.csv", folder / "metrics.csv"
    runs_frame(store, run_ids).to_csv(runs, index=False)
    metrics_frame(store, run_ids).to_csv(metrics, index=False)
    return [runs, metrics]
