"""Reference runs: the runs behind the committed study reports, shipped with the app.

A fresh Space has an empty run store, yet every visitor should find each study's results from
the first visit. So the runs a report was written from travel with the project as a compact
bundle per study, `assets/reference_runs/<study>/runs.json` (each run's row, its per-epoch
metrics and the names of its small files, which lie beside it in `<key>/`), and are inserted
into the run store when the app starts, owned by `reference`: every visitor sees them and may
use their models; nobody changes or deletes them (`core.runs.access`).

    dlstudio runs export-reference STUDY RUN_ID... [--db PATH]   write a study's bundle
    (the app loads the bundles itself; `load_reference_runs` does it from Python)

Each run has a key (`<study>/<experiment>`, or `<study>/<experiment>-<n>` for the n-th run of
an experiment in the study) recorded in its details as `reference`; loading skips the keys the
store already holds, so it may run at every start. Large files (checkpoints over
`MAX_ARTIFACT_BYTES`) stay behind, and large test predictions ship without their
probabilities: the bundle carries what the pages need.
"""

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.paths import REPO_ROOT
from core.runs.access import REFERENCE_OWNER
from core.runs.store import RunStore

REFERENCE_DIR = REPO_ROOT / "assets" / "reference_runs"
BUNDLE = "runs.json"
MAX_ARTIFACT_BYTES = 256 * 2**10  # predictions ship; checkpoints (MBs each) do not
OWNER_NAME = "reference"
COPIED_COLUMNS = ("experiment", "config", "status", "sweep_id", "name", "created_at")
COPIED_COLUMNS += ("started_at", "ended_at", "message", "error", "details", "tags", "note")


def run_keys(study: str, experiments: Iterable[str]) -> list[str]:
    """One stable key per run: `study/experiment`, numbered when an experiment repeats."""
    experiments = list(experiments)
    repeats = Counter(experiments)
    seen: Counter[str] = Counter()
    keys = []
    for experiment in experiments:
        seen[experiment] += 1
        suffix = f"-{seen[experiment]}" if repeats[experiment] > 1 else ""
        keys.append(f"{study}/{experiment}{suffix}")
    return keys


def export_reference(
    store: RunStore, study: str, run_ids: list[int], folder: Path = REFERENCE_DIR
) -> Path:
    """Write the bundle of `study` from these finished runs (replacing an older one); returns
    the bundle's path. Sweep ids are kept, so a sweep stays one sweep after loading."""
    if not study.isidentifier():
        raise ValueError(f"a study's name is a plain word (letters, digits, _), not {study!r}")
    runs = [store.get(run_id) for run_id in run_ids]
    unfinished = [run.id for run in runs if run.status != "done"]
    if unfinished:
        raise ValueError(f"only finished runs can be reference runs; not done: {unfinished}")
    target = folder / study
    # written beside the old bundle and swapped in at the end: the runs may be the old
    # bundle's own, loaded with their files where they lie (a study grown by more seeds)
    partial = folder / f"{study}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    records = []
    for key, run in zip(run_keys(study, (r.experiment for r in runs)), runs, strict=True):
        record: dict[str, Any] = {column: getattr(run, column) for column in COPIED_COLUMNS}
        record["details"] = {**run.details, "reference": key, "exported_from_run": run.id}
        record["artifacts"] = _copy_small_artifacts(run.artifacts, partial / key.split("/")[1])
        record["metrics"] = store.metrics(run.id).to_dict(orient="list")
        records.append(record)
    (partial / BUNDLE).write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target / BUNDLE


def _copy_small_artifacts(artifacts: dict[str, str], folder: Path) -> dict[str, str]:
    """Copy the files under the size cap into `folder`, each named after its artifact (a run
    may keep two `test_predictions.npz`, its teacher's and its own); their names relative to
    the study. An array file over the cap ships compacted: compressed, whole numbers at their
    smallest type (lossless; a pseudo-labeling run's 9,000 pool labels); test predictions
    still over it (10,000 test pictures' probabilities) ship as their answers alone."""
    kept = {}
    for name, source in artifacts.items():
        source_path = Path(source)
        if not source_path.is_file():
            continue
        copy = folder / f"{name}{source_path.suffix}"
        if source_path.stat().st_size <= MAX_ARTIFACT_BYTES:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_path, copy)
        elif source_path.suffix != ".npz" or not (
            _compact(source_path, copy) or _compact(source_path, copy, SLIM_ARRAYS)
        ):
            continue
        kept[name] = f"{folder.name}/{copy.name}"
    return kept


SLIM_ARRAYS = ("index", "y_true", "y_pred")  # what the study pages read of test predictions


def _compact(source: Path, copy: Path, only: tuple[str, ...] | None = None) -> bool:
    """Write `source`'s arrays (or `only` these, when it holds them all) compressed, whole
    numbers at their smallest type, when the result fits under the cap; whether it did."""
    with np.load(source) as saved:
        names = saved.files if only is None else list(only)
        if not set(names) <= set(saved.files):
            return False
        arrays = {name: _smallest_type(saved[name]) for name in names}
    copy.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(copy, **arrays)
    if copy.stat().st_size <= MAX_ARTIFACT_BYTES:
        return True
    copy.unlink()
    return False


def _smallest_type(values: np.ndarray) -> np.ndarray:
    """Whole numbers in the smallest type that holds them all; other arrays as they are."""
    if values.dtype.kind not in "iu" or values.size == 0:
        return values
    smallest = np.result_type(np.min_scalar_type(values.min()), np.min_scalar_type(values.max()))
    return values.astype(smallest)


def load_reference_runs(store: RunStore, folder: Path = REFERENCE_DIR) -> list[int]:
    """Insert every shipped reference run the store does not hold yet; their new ids."""
    present = {
        run.details.get("reference") for run in store.list(owners=[REFERENCE_OWNER], limit=10**6)
    }
    paths = folder.glob(f"*/{BUNDLE}")
    bundles = {path: json.loads(path.read_text(encoding="utf-8")) for path in paths}
    added = []
    # the study whose runs are oldest first: a newly shipped study takes the ids after the
    # others', so a fresh store numbers the runs of the studies already shipped as before
    for bundle in sorted(bundles, key=lambda path: (_oldest(bundles[path]), path.parent.name)):
        new_ids: dict[str, str] = {}  # a run of the bundle: its id where it was made -> here
        for record in bundles[bundle]:
            if record["details"]["reference"] in present:
                continue
            artifacts = {
                name: str(bundle.parent / relative)
                for name, relative in record["artifacts"].items()
            }
            config = dict(record["config"])
            if config.get("init_from") in new_ids:  # started from a run of the same study
                config["init_from"] = new_ids[config["init_from"]]
            row = {**record, "config": config, "artifacts": artifacts, "owner": REFERENCE_OWNER}
            row["owner_name"] = OWNER_NAME
            added.append(store.insert_finished(row, pd.DataFrame(record["metrics"])))
            new_ids[str(record["details"]["exported_from_run"])] = str(added[-1])
    return added


def _oldest(records: list[dict]) -> float:
    return min((record["created_at"] for record in records), default=0.0)


def reference_runs(store: RunStore, study: str) -> dict[str, int]:
    """The store's reference runs of `study` by key (`study/experiment`), in shipped order."""
    runs = store.list(owners=[REFERENCE_OWNER], limit=10**6)
    prefix = f"{study}/"
    found = {
        run.details["reference"]: run.id
        for run in sorted(runs, key=lambda run: run.id)
        if str(run.details.get("reference", "")).startswith(prefix)
    }
    return found


@contextmanager
def fresh_reference_store() -> Iterator[RunStore]:
    """A temporary run store holding only the shipped reference runs, with the ids a fresh app
    gives them (the committed reports are written from it, so they name those ids)."""
    with tempfile.TemporaryDirectory(prefix="dlstudio-reference-") as folder:
        store = RunStore(Path(folder) / "runs.sqlite")
        try:
            load_reference_runs(store)
            yield store
        finally:
            store.close()
