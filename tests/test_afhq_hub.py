"""AFHQ from the Hugging Face hub, offline: the same code runs on a small stand-in laid out as
the hub's copy (two parquet files of encoded photos and label ids 0-2). It is unpacked into the
data directory with a held-out test split per class, read by the AFHQ loader, trains an AFHQ
experiment, and is fetched only once."""

import io
import json
import threading
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from core.experiments import get_experiment
from core.runs.execution import execute_run
from core.vision import hub
from core.vision.data import afhq_dir, load_image_dataset, missing_data

PER_CLASS = 10  # photos per class in the stand-in: 2 held out (a fifth), 8 to train
COLOURS = ((200, 40, 40), (40, 200, 40), (40, 40, 200))  # one colour per class: learnable


def photo(colour: tuple[int, int, int], number: int, kind: str) -> bytes:
    pixels = np.full((40, 48, 3), colour, dtype=np.uint8)
    pixels[number % 30 : number % 30 + 5] = 255  # photos of one class differ
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=kind)
    return out.getvalue()


@pytest.fixture
def stand_in(tmp_path):
    """The hub's two files, small: photos of the three classes, mixed, JPEG and PNG."""
    rows = [(label, number) for number in range(PER_CLASS) for label in range(3)]
    files = {}
    for index, name in enumerate(hub.HUB_FILES):
        part = rows[index::2]
        images = [
            {"bytes": photo(COLOURS[label], n, "JPEG" if n % 2 else "PNG"), "path": None}
            for label, n in part
        ]
        table = pa.table({"image": images, "label": [label for label, _ in part]})
        files[name] = tmp_path / name.replace("/", "-")
        pq.write_table(table, files[name])
    return files


def test_the_stand_in_is_unpacked_with_a_held_out_split_and_read_as_afhq(store, stand_in):
    assert missing_data("afhq") is not None
    asked = []

    def download(name):
        asked.append(name)
        return stand_in[name]

    steps = []
    folder = hub.fetch_afhq(lambda fraction, message: steps.append(fraction), download)
    assert folder == afhq_dir() and asked == list(hub.HUB_FILES)
    assert steps[-1] == 1.0 and steps == sorted(steps)
    manifest = json.loads((folder / hub.MANIFEST).read_text())
    assert manifest["photos"]["val"] == {"cat": 2, "dog": 2, "wild": 2}
    assert manifest["photos"]["train"] == {"cat": 8, "dog": 8, "wild": 8}
    assert {p.suffix for p in folder.rglob("0*.*")} == {".jpeg", ".png"}
    assert missing_data("afhq") is None

    dataset = load_image_dataset("afhq")
    assert dataset.classes == ["cat", "dog", "wild"] and len(dataset) == 3 * PER_CLASS
    assert dataset.is_test.sum() == 6
    cat = np.asarray(dataset.image(int(np.flatnonzero(dataset.labels == 0)[0])))
    assert tuple(cat[-1, -1]) == pytest.approx(COLOURS[0], abs=8)  # the photo, decoded

    def no_download(name):
        raise AssertionError("fetched twice")

    assert hub.fetch_afhq(None, no_download) == folder  # once per data directory


def test_an_afhq_experiment_trains_on_the_fetched_stand_in(store, stand_in):
    hub.fetch_afhq(None, stand_in.__getitem__)
    experiment = get_experiment("afhq_plain")
    small = {"backbone": "small_cnn", "pretrained": False, "input_size": 32, "epochs": 1}
    run_id = store.create("afhq_plain", asdict(experiment.checked_config(small)))
    run = execute_run(store, run_id)
    assert run.status == "done", run.error
    assert run.details["classes"] == ["cat", "dog", "wild"] and run.details["n_test"] == 6


def test_a_file_that_is_not_the_hubs_layout_is_refused(store, tmp_path):
    wrong = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"image": [{"bytes": b"x", "path": None}], "label": [7]}), wrong)
    with pytest.raises(ValueError, match="expected photos labelled 0-2"):
        hub.fetch_afhq(None, lambda name: wrong)
    assert not afhq_dir().exists()


def test_a_second_request_during_a_download_is_told_at_once(store, stand_in):
    """A visitor who clicks while another's download runs gets an answer at once, not a
    worker held for the length of a 730 MB download; the first download still completes."""
    started, finish = threading.Event(), threading.Event()

    def slow_download(name):
        started.set()
        assert finish.wait(30), "the test never let the download finish"
        return stand_in[name]

    first = threading.Thread(target=hub.fetch_afhq, args=(None, slow_download))
    first.start()
    try:
        assert started.wait(30)
        with pytest.raises(hub.FetchUnderWay, match="being downloaded already"):
            hub.fetch_afhq(None, stand_in.__getitem__)
    finally:
        finish.set()
        first.join(60)
    assert (afhq_dir() / hub.MANIFEST).is_file()
    assert hub.fetch_afhq(None, stand_in.__getitem__) == afhq_dir()  # now ready, at once
