"""Reference runs: a study's runs exported as a bundle, loaded read-only into a fresh store
exactly as they were, once, and shown by the study's page; the shipped loan bundle gives the
numbers of the committed report."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import committed_table

from core.paths import REPO_ROOT
from core.reports import loan, studies
from core.reports.page import to_markdown
from core.reports.studies import available_studies, study_page
from core.runs.access import REFERENCE_OWNER
from core.runs.jobs import JobRunner
from core.runs.reference import (
    BUNDLE,
    MAX_ARTIFACT_BYTES,
    REFERENCE_DIR,
    export_reference,
    load_reference_runs,
    reference_runs,
    run_keys,
)
from core.runs.store import RunStore
from core.sharing.visitors import LOCAL


def finished_run(store: RunStore, experiment: str, epochs: int, sweep_id=None) -> int:
    run_id = store.create(experiment, {"seed": 0, "lr": 0.01}, sweep_id, {"n_train": 10})
    store.start(run_id)
    for epoch in range(1, epochs + 1):
        store.log_metrics(
            run_id, epoch, {"train_loss": 1 / epoch, "val_roc_auc": 0.5 + epoch / 100}
        )
    predictions = store.run_dir(run_id) / "predictions.npz"
    np.savez(predictions, y_true=np.array([0, 1, 1]), score=np.array([0.1, 0.7, 0.8]))
    store.add_artifact(run_id, "test_predictions", predictions)
    big = store.run_dir(run_id) / "best.pt"
    big.write_bytes(b"\0" * (2**20))  # over the size cap: stays behind
    store.add_artifact(run_id, "model", big)
    store.rename(run_id, f"{experiment} run")
    store.finish(run_id, "done")
    return run_id


def test_keys_name_each_run_of_a_study_once():
    assert run_keys("loan", ["a", "b", "b", "c"]) == ["loan/a", "loan/b-1", "loan/b-2", "loan/c"]


def test_a_bundle_loads_into_a_fresh_store_as_it_was_once_and_read_only(tmp_path):
    source = RunStore(tmp_path / "source.sqlite")
    ids = [finished_run(source, "loan_exp1", 3), finished_run(source, "loan_exp4", 2, "sw-1")]
    bundle = export_reference(source, "toy", ids, tmp_path / "shipped")
    assert bundle == tmp_path / "shipped" / "toy" / BUNDLE
    assert not list(bundle.parent.rglob("best.pt"))  # the large checkpoint did not ship

    fresh = RunStore(tmp_path / "fresh.sqlite")
    fresh.create("loan_exp1", {"seed": 1})  # a run of someone's already there
    added = load_reference_runs(fresh, tmp_path / "shipped")
    assert len(added) == 2
    assert load_reference_runs(fresh, tmp_path / "shipped") == []  # the next start adds none
    assert reference_runs(fresh, "toy") == {"toy/loan_exp1": added[0], "toy/loan_exp4": added[1]}
    for old, new in zip(ids, added, strict=True):
        before, after = source.get(old), fresh.get(new)
        assert after.owner == REFERENCE_OWNER and after.status == "done"
        assert (after.experiment, after.config, after.name) == (
            before.experiment,
            before.config,
            before.name,
        )
        assert after.sweep_id == before.sweep_id
        assert after.duration_s == pytest.approx(before.duration_s)
        pd.testing.assert_frame_equal(fresh.metrics(new), source.metrics(old))
        assert set(after.artifacts) == {"test_predictions"}
        shipped = np.load(after.artifacts["test_predictions"])
        assert shipped["score"].tolist() == [0.1, 0.7, 0.8]

    runner = JobRunner(fresh)
    try:
        with pytest.raises(PermissionError, match="reference run: it cannot be deleted"):
            runner.delete(added[0], LOCAL)  # not even by the machine's own admin
    finally:
        runner.shutdown()
    assert fresh.get(added[0]).status == "done"


def test_two_files_of_one_name_ship_apart_and_a_run_started_from_another_follows_it(tmp_path):
    source = RunStore(tmp_path / "source.sqlite")
    pretext = finished_run(source, "digits_context", 1)
    student = source.create("digits_finetune", {"seed": 0, "init_from": str(pretext)})
    for stage, score in (("teacher", 0.25), ("student1", 0.75)):
        folder = source.run_dir(student) / stage
        folder.mkdir(parents=True)
        np.savez(folder / "test_predictions.npz", score=np.array([score]))
        source.add_artifact(student, f"{stage}_test_predictions", folder / "test_predictions.npz")
    source.finish(student, "done")
    export_reference(source, "toy", [pretext, student], tmp_path / "shipped")

    fresh = RunStore(tmp_path / "fresh.sqlite")
    fresh.create("loan_exp1", {"seed": 1})  # ids move on by one
    new_pretext, new_student = load_reference_runs(fresh, tmp_path / "shipped")
    artifacts = fresh.get(new_student).artifacts
    assert np.load(artifacts["teacher_test_predictions"])["score"].tolist() == [0.25]
    assert np.load(artifacts["student1_test_predictions"])["score"].tolist() == [0.75]
    assert new_pretext != pretext
    assert fresh.get(new_student).config["init_from"] == str(new_pretext)


def ship_big_arrays(
    source: RunStore, run_id: int, name: str, tmp_path, **arrays: np.ndarray
) -> tuple[Path, RunStore]:
    """Save `arrays` as the run's artifact `name` (over the size cap), ship the run as a
    reference bundle and load it into a fresh store; the shipped file and that store."""
    big = source.run_dir(run_id) / f"{name}.npz"
    np.savez(big, **arrays)
    assert big.stat().st_size > MAX_ARTIFACT_BYTES
    source.add_artifact(run_id, name, big)
    export_reference(source, "toy", [run_id], tmp_path / "shipped")
    fresh = RunStore(tmp_path / "fresh.sqlite")
    (new,) = load_reference_runs(fresh, tmp_path / "shipped")
    return Path(fresh.get(new).artifacts[name]), fresh


def test_large_test_predictions_ship_without_their_probabilities(tmp_path):
    """10,000 test pictures' probabilities are over the size cap; their answers ship, slimmed
    and compressed, so the pages' paired tests still work from the bundle."""
    source = RunStore(tmp_path / "source.sqlite")
    run_id = finished_run(source, "fashion_plain", 1)
    rng = np.random.default_rng(0)
    answers = {
        "index": np.arange(60_000, 70_000),
        "y_true": rng.integers(0, 10, 10_000),
        "y_pred": rng.integers(0, 10, 10_000),
    }
    probabilities = rng.random((10_000, 10), dtype=np.float32)
    shipped, fresh = ship_big_arrays(
        source, run_id, "test_predictions", tmp_path, probabilities=probabilities, **answers
    )
    with np.load(shipped) as arrays:
        assert set(arrays.files) == set(answers)
        for key, values in answers.items():
            assert np.array_equal(arrays[key], values)
    assert all("model" not in run.artifacts for run in fresh.list())  # checkpoints stay behind


def test_a_large_array_file_ships_whole_when_compacting_it_loses_nothing(tmp_path):
    """A pseudo-labeling run's labels of a 9,000-picture pool are over the size cap as saved
    (int64); stored compressed at their smallest whole-number type they fit, every array kept
    with the same values."""
    source = RunStore(tmp_path / "source.sqlite")
    run_id = finished_run(source, "fashion_pseudo", 1)
    rng = np.random.default_rng(0)
    labels = {
        "index": rng.permutation(60_000)[:9_000],
        "predicted": rng.integers(0, 10, 9_000),
        "confidence": rng.random(9_000, dtype=np.float32),
        "accepted": np.sort(rng.choice(9_000, 7_000, replace=False)),
        "hidden_labels": rng.integers(-1, 10, 9_000),
    }
    shipped, _ = ship_big_arrays(source, run_id, "pseudo_labels_round1", tmp_path, **labels)
    with np.load(shipped) as arrays:
        assert set(arrays.files) == set(labels)
        for key, values in labels.items():
            assert np.array_equal(arrays[key], values), key
        assert arrays["hidden_labels"].dtype.kind == "i"  # -1 kept: signed
        assert arrays["index"].dtype.itemsize < 8  # smaller than saved


def test_a_bundle_grown_by_more_runs_keeps_the_files_of_its_own_runs(tmp_path):
    """Loaded reference runs keep their files where the bundle lies; exporting them again
    with new runs (a study given more seeds) must not delete those files on the way."""
    source = RunStore(tmp_path / "source.sqlite")
    first = finished_run(source, "loan_exp1", 2)
    export_reference(source, "toy", [first], tmp_path / "shipped")
    grown = RunStore(tmp_path / "grown.sqlite")
    (loaded,) = load_reference_runs(grown, tmp_path / "shipped")
    added = finished_run(grown, "loan_exp1", 3)
    export_reference(grown, "toy", [loaded, added], tmp_path / "shipped")

    fresh = RunStore(tmp_path / "fresh.sqlite")
    for run_id in load_reference_runs(fresh, tmp_path / "shipped"):
        shipped = np.load(fresh.get(run_id).artifacts["test_predictions"])
        assert shipped["score"].tolist() == [0.1, 0.7, 0.8]
    assert not list((tmp_path / "shipped").glob("*.partial"))


def test_only_finished_runs_are_exported(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    queued = store.create("loan_exp1", {"seed": 0})
    with pytest.raises(ValueError, match="only finished runs"):
        export_reference(store, "toy", [queued], tmp_path / "shipped")


# --- the shipped loan study ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> RunStore:
    store = RunStore(tmp_path_factory.mktemp("shipped") / "runs.sqlite")
    load_reference_runs(store)
    return store


def test_the_loan_bundle_ships_every_run_of_the_study(shipped):
    runs = reference_runs(shipped, loan.STUDY)
    assert len(runs) == 3 + 5 + 9
    assert "loan" in available_studies(shipped)
    records = json.loads((REFERENCE_DIR / loan.STUDY / BUNDLE).read_text())
    assert {record["status"] for record in records} == {"done"}


def test_the_loan_page_has_the_numbers_of_the_committed_report(shipped):
    page = study_page(shipped, loan.STUDY)
    table = next(block for block in page.blocks if isinstance(block, pd.DataFrame))
    committed = committed_table((REPO_ROOT / "reports" / "loan_default" / "README.md").read_text())
    assert set(committed) == set(loan.EXPERIMENTS)
    for row in table.to_dict("records"):
        cells = committed[row["experiment"]]
        assert float(cells["test ROC-AUC"]) == pytest.approx(row["test ROC-AUC"], abs=1e-9)
        assert cells["test 95% CI"] == row["test 95% CI"]
        assert float(cells["val ROC-AUC"]) == pytest.approx(row["val ROC-AUC"], abs=1e-9)
    text = "\n".join(block for block in page.blocks if isinstance(block, str))
    assert re.search(r"## Conclusions\n\n(- .+\n?){6}", text), text[-2000:]
    assert study_page(shipped, loan.STUDY) is page  # written once, then shared


@pytest.mark.parametrize(
    ("study", "folder"),
    [
        ("loan", "loan_default"),
        ("image_digits", "image_digits"),
        ("image_fashion", "image_fashion"),
        ("ssl_digits", "ssl/digits"),
        ("pseudo_labeling", "pseudo_labeling"),
        ("inference", "inference"),
        ("pq", "pq"),
        ("tuning", "tuning"),
    ],
)
def test_the_app_and_the_repository_show_the_same_page(shipped, study, folder, tmp_path):
    """The Results tab's page, written as a README, is the committed report, word for word."""
    readme = to_markdown(study_page(shipped, study), tmp_path).read_text()
    assert readme == (REPO_ROOT / "reports" / folder / "README.md").read_text()
    assert study in available_studies(shipped)


def test_the_pages_are_written_in_the_background_at_start(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    load_reference_runs(store)
    studies.write_pages_in_background(store).join(timeout=300)
    written = {key[1] for key in studies._pages if key[0] == str(store.path)}
    shipped = {"loan", "image_digits", "image_fashion", "ssl_digits", "pseudo_labeling"}
    shipped |= {"inference", "pq", "tuning"}
    assert written == set(available_studies(store)) == shipped
