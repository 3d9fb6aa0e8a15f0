"""Faults: a killed training worker, a full disk, a corrupt model file and hostile uploads.

Each test breaks something for real against a running app (its own `python app.py`, own data
directory) or the run store on a tiny file system, then checks three things: the problem is
reported in plain words, the app keeps serving, and no finished run is lost.

    .venv/bin/pytest tests/test_faults.py -v
"""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import httpx
import pytest
from conftest import poll
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from app import MAX_UPLOAD_MB
from benchmarks.app_process import REPO, served_app
from core.runs import view
from core.runs.jobs import JobRunner
from core.runs.store import RunStore
from core.serving.onnx import MODELS_DIR, ModelCard
from core.tabular.data import import_csv

DRAWN_THREE = REPO / "tests" / "drawn_digits" / "3_dejavu-mathtexgyre_0.png"  # p(3) = 0.97
CORRUPT_RUN_ID, FINISHED_RUN_ID = 1, 2  # the seeded store's runs


def seed_store(data: Path) -> Path:
    """The app's store before it starts: a finished, shared digit-model run whose exported ONNX
    file is garbage (a disk error, a bad copy), then a finished loan run. Returns the broken
    file."""
    store = RunStore(data / "runs.sqlite")
    run_id = store.create("digits_cnn", {"data": "digits"})
    assert run_id == CORRUPT_RUN_ID
    folder = store.run_dir(run_id)
    checkpoint = folder / "best.pt"
    checkpoint.write_bytes(b"a checkpoint that is never read: the ONNX export exists")
    card = ModelCard.load(MODELS_DIR / "digits.json")
    store.add_details(
        run_id, input_spec=card.input.to_dict(), classes=card.classes, best_test_accuracy=0.99
    )
    store.add_artifact(run_id, "best_checkpoint", checkpoint)
    store.finish(run_id, "done")
    store.set_shared(run_id, True)  # the test's client is another visitor: it may use the model
    onnx_file = folder / f"run-{run_id}.onnx"
    onnx_file.write_bytes((MODELS_DIR / "digits.onnx").read_bytes()[:5000])  # truncated
    card.name, card.onnx_file = f"run-{run_id}", onnx_file.name
    card.save(onnx_file.with_suffix(".json"))
    runner = JobRunner(store, in_process=True)
    runner.wait(runner.submit("loan_exp1", {"epochs": 2}))
    assert store.get(FINISHED_RUN_ID).status == "done"
    return onnx_file


@pytest.fixture(scope="module")
def fault_app(tmp_path_factory):
    """A fresh `python app.py` on a free port; yields (url, data directory, corrupt .onnx)."""
    data = tmp_path_factory.mktemp("fault-app")
    onnx_file = seed_store(data)
    with served_app(data) as url:
        yield url, data, onnx_file


@pytest.fixture(scope="module")
def client(fault_app):
    return Client(fault_app[0], verbose=False)


def sketch(path: Path) -> dict:
    """A drawing as the sketchpad sends it."""
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def still_serving(client: Client) -> None:
    """A normal request after the fault: a drawn 3 is read as a 3."""
    answer = client.predict(sketch(DRAWN_THREE), "digits", api_name="/recognise_digit")
    assert answer["label"] == "3"


# --- hostile uploads ---------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height pixels over a few bytes of data: decoding it
    would take width * height bytes of memory (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = zlib.compress(b"\0" * (width + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def zip_bomb() -> bytes:
    """200 MB of zeros in a zip archive of about 200 kB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("zeros.bin", b"\0" * 200 * 2**20)
    return buffer.getvalue()


HOSTILE_PHOTOS = {
    # name: (content, what the refusal must say)
    "bomb.png": (png_claiming(50_000, 50_000), "megapixels; the limit is 40 megapixels"),
    "big.png": (png_claiming(8_000, 8_000), "8000x8000 pixels (64 megapixels); the limit is 40"),
    "cat.png": (zip_bomb(), "cat.png is not a readable image (unknown or unsupported format)"),
    "setup.exe.jpg": (b"MZ\x90\x00" + bytes(4096), "not a readable image"),
    "notes.png": (b"hello, this is text\n" * 50, "not a readable image"),
    "table.csv": (b"a,b\n1,2\n", "table.csv is not a readable image"),
    "empty.png": (b"", "is empty"),
}


@pytest.mark.parametrize("name", HOSTILE_PHOTOS)
def test_a_hostile_photo_is_refused_in_plain_words(client, tmp_path, name):
    content, message = HOSTILE_PHOTOS[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(handle_file(str(path)), "animals", api_name="/classify_animal")


@pytest.mark.parametrize("name", ["bomb.png", "cat.png", "notes.png"])
def test_a_hostile_file_sent_as_a_drawing_is_refused_in_plain_words(client, tmp_path, name):
    content, message = HOSTILE_PHOTOS[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(sketch(path), "digits", api_name="/recognise_digit")
    still_serving(client)


def test_an_upload_over_the_size_limit_is_refused_by_the_server(fault_app, client):
    """100 MB streamed to the upload route: refused with HTTP 413 once past the limit."""
    limit = MAX_UPLOAD_MB * 2**20
    boundary = "dlstudio-fault-test"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="huge.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        for _ in range(100):
            yield bytes(2**20)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = httpx.post(
        fault_app[0] + "gradio_api/upload",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert response.status_code == 413
    assert f"exceeded maximum allowed size of {limit} bytes" in response.text
    still_serving(client)


def test_a_file_of_the_wrong_type_is_refused_by_each_upload_input(client, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 32), "orange").save(photo)
    form = view.config_form("loan_exp1")
    payload = {"headers": list(form.columns), "data": form.to_numpy().tolist()}
    with pytest.raises(AppError, match=r"Invalid file type.*\.csv"):
        client.predict(handle_file(str(photo)), payload, api_name="/upload_csv")
    with pytest.raises(AppError, match=r"Invalid file type.*\.npy"):
        client.predict(handle_file(str(photo)), api_name="/pq_upload")
    disguised = tmp_path / "clients.csv"  # a PNG named .csv: the content check refuses it
    disguised.write_bytes(photo.read_bytes())
    with pytest.raises(ValueError, match=r"the file clients\.csv is not a readable CSV"):
        import_csv(disguised)  # the words of the tab's warning toast
    answer = client.predict(handle_file(str(disguised)), payload, api_name="/upload_csv")
    assert answer[2] is None  # the tab cleared the upload instead of keeping the file
    still_serving(client)


# --- a corrupt model file ----------------------------------------------------------------------


def test_a_corrupt_model_file_is_named_and_the_other_models_keep_serving(fault_app, client):
    onnx_file = fault_app[2]
    with pytest.raises(AppError, match=f"{onnx_file.name} is not a usable ONNX model"):
        client.predict(sketch(DRAWN_THREE), f"run:{CORRUPT_RUN_ID}", api_name="/recognise_digit")
    still_serving(client)  # the shipped digits model, in the same panel


# --- a training worker killed mid-epoch ----------------------------------------------------------


def launch(client: Client, experiment: str, epochs: int) -> None:
    form = view.config_form(experiment)
    form.loc[form["key"] == "epochs", "value"] = str(epochs)
    payload = {"headers": list(form.columns), "data": form.to_numpy().tolist()}
    client.predict(experiment, payload, api_name="/launch")


def test_killing_a_training_worker_fails_only_its_run(fault_app, client):
    store = RunStore(fault_app[1] / "runs.sqlite")
    before = (store.get(FINISHED_RUN_ID), store.metrics(FINISHED_RUN_ID))

    launch(client, "loan_exp2", epochs=1000)
    victim = store.list()[0].id
    poll(lambda: not store.metrics(victim).empty, "the second run's first epoch")
    os.kill(store.get(victim).owner_pid, signal.SIGKILL)  # the worker process, mid-training
    poll(lambda: store.get(victim).finished, "the killed run to be recorded")

    killed = store.get(victim)
    assert killed.status == "failed"
    assert "killed by SIGKILL" in view.status_text(store, victim)  # what the tab shows
    assert len(store.metrics(victim)) >= 1  # the epochs it finished are kept
    after = (store.get(FINISHED_RUN_ID), store.metrics(FINISHED_RUN_ID))
    assert after[0] == before[0] and after[1].equals(before[1])  # the finished run is untouched
    launch(client, "loan_exp1", epochs=1)  # the app still takes and trains new runs
    again = store.list()[0].id
    poll(lambda: store.get(again).finished, "a run launched after the kill")
    assert store.get(again).status == "done"
    still_serving(client)


# --- a full disk under the run store ------------------------------------------------------------

# Runs in a mount namespace of its own (unshare), on a 1 MB tmpfs that vanishes with it.
FULL_DISK = textwrap.dedent("""
    import json, subprocess, sys
    from pathlib import Path
    from core.runs.jobs import JobRunner
    from core.runs.store import RunStore, RunStoreFullError
    disk = Path(sys.argv[1])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    store = RunStore(disk / "runs.sqlite")
    runner = JobRunner(store, in_process=True)
    finished = runner.submit("loan_exp1", {"epochs": 1})
    runner.wait(finished)
    before = store.metrics(finished).to_json()
    filler = disk / "filler"
    try:
        with filler.open("wb") as handle:
            while True:
                handle.write(bytes(4096))
                handle.flush()
    except OSError:
        pass
    try:
        runner.submit("loan_exp1", {"epochs": 1})
        refusal = None
    except RunStoreFullError as error:
        refusal = str(error)
    report = {
        "refusal": refusal,
        "finished_status": store.get(finished).status,
        "finished_metrics_kept": store.metrics(finished).to_json() == before,
        "runs_while_full": len(store.list()),
    }
    filler.unlink()
    report["after_freeing"] = store.get(store.create("loan_exp1", {"epochs": 1})).status
    print(json.dumps(report))
""")


def test_a_full_disk_refuses_new_runs_in_plain_words_and_keeps_the_finished_ones(tmp_path):
    probe = ["unshare", "--map-root-user", "--mount", "true"]
    if shutil.which("unshare") is None or subprocess.run(probe, capture_output=True).returncode:
        pytest.skip("mounting a tiny file system needs unshare and user namespaces (not allowed)")
    disk = tmp_path / "disk"
    disk.mkdir()
    result = subprocess.run(
        ["unshare", "--map-root-user", "--mount", sys.executable, "-c", FULL_DISK, str(disk)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["refusal"].startswith("the disk holding the run store")
    assert "is full" in report["refusal"] and "runs already stored are kept" in report["refusal"]
    assert report["finished_status"] == "done" and report["finished_metrics_kept"]
    assert report["runs_while_full"] == 1  # the refused run left nothing half-written
    assert report["after_freeing"] == "queued"  # with room again, new runs are stored
