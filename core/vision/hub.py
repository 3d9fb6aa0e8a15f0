"""AFHQ from the Hugging Face hub: one call downloads the public copy and lays it out the way
the app reads AFHQ (`<data dir>/datasets/afhq/{train,val}/<class>/*.jpg`, `core.vision.data`).

    fetch_afhq(progress)   # once per data directory; later calls return at once, and a call
                           # during another's download raises FetchUnderWay at once
    dlstudio fetch afhq    # the same from a terminal (the Training tab has a button)

The hub's copy (`huggan/AFHQ`, pinned to one revision) holds AFHQ's 16,130 photos of cats,
dogs and wild animals as two parquet files, with the original train and validation photos in
one `train` split. AFHQ's own validation split has 500 photos per class, so the same number
per class is held out here, chosen with a fixed seed, as the test split the experiments read
(the split is written down in `afhq/SOURCE.json` and never changes for a data directory).
Downloads go to the hub's cache in the data directory, so an interrupted one resumes; the
photos are unpacked into a folder of their own and renamed into place only when complete.
"""

import io
import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from core.paths import data_dir
from core.vision.data import afhq_dir

HUB_REPO = "huggan/AFHQ"
HUB_REVISION = "6983c553da3dcadd659953db9c925e7febeac88f"
HUB_FILES = ("data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet")
HUB_BYTES = 729_233_101  # the download, as the hub states it
CLASSES = ("cat", "dog", "wild")  # the hub's label ids, in order
HELD_OUT_PER_CLASS = 500  # AFHQ's validation split: 500 photos per class
SPLIT_SEED = 0
MANIFEST = "SOURCE.json"

Progress = Callable[[float, str], None]
_fetching = threading.Lock()  # one download at a time, however many visitors ask


class FetchUnderWay(RuntimeError):
    """Another request is downloading the data set now: this one is told so at once instead
    of holding a worker until that download ends."""


def hub_file(name: str) -> Path:
    """One file of the hub's copy, downloaded into the data directory's hub cache (resumed
    when a download was interrupted)."""
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(
        HUB_REPO,
        name,
        repo_type="dataset",
        revision=HUB_REVISION,
        cache_dir=data_dir() / "hub",
    )
    return Path(path)


def fetch_afhq(
    progress: Progress | None = None, download: Callable[[str], Path] = hub_file
) -> Path:
    """AFHQ laid out in the data directory (downloaded and unpacked the first time); its
    folder. `download` fetches one of HUB_FILES (tests give a stand-in)."""
    target = afhq_dir()
    if (target / MANIFEST).is_file():
        return target
    say = progress or (lambda fraction, message: None)
    if not _fetching.acquire(blocking=False):
        raise FetchUnderWay(
            "AFHQ is being downloaded already, for another request: it is ready a few minutes "
            "after that download started; try again then"
        )
    try:
        if (target / MANIFEST).is_file():  # finished while this call waited for the lock
            return target
        files = []
        for number, name in enumerate(HUB_FILES):
            say(number / (len(HUB_FILES) + 1), f"downloading {name} from {HUB_REPO}")
            files.append(download(name))
        say(len(HUB_FILES) / (len(HUB_FILES) + 1), "unpacking the photos")
        unpack(files, target)
        say(1.0, "AFHQ is ready")
    finally:
        _fetching.release()
    return target


def read_photos(files: list[Path]) -> tuple[list[bytes], np.ndarray]:
    """Every photo's encoded bytes and label id, in the files' order."""
    photos: list[bytes] = []
    labels: list[int] = []
    for path in files:
        table = pq.read_table(path, columns=["image", "label"])
        photos += [image["bytes"] for image in table.column("image").to_pylist()]
        labels += table.column("label").to_pylist()
    return photos, np.array(labels, dtype=np.int64)


def held_out(labels: np.ndarray, per_class: int = HELD_OUT_PER_CLASS) -> np.ndarray:
    """Whether each photo is in the test split: `per_class` photos of every class (at most a
    fifth of a class, for small stand-ins), drawn with SPLIT_SEED."""
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(labels), dtype=bool)
    for label in range(len(CLASSES)):
        where = np.flatnonzero(labels == label)
        test[rng.choice(where, min(per_class, len(where) // 5), replace=False)] = True
    return test


def unpack(files: list[Path], target: Path) -> None:
    """Write the photos as `target/{train,val}/<class>/<n>.<format>` and the manifest; the
    folder appears only when complete."""
    photos, labels = read_photos(files)
    if len(photos) == 0 or labels.min() < 0 or labels.max() >= len(CLASSES):
        raise ValueError(f"{HUB_REPO}: expected photos labelled 0-{len(CLASSES) - 1}")
    test = held_out(labels)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for split in ("train", "val"):
        for name in CLASSES:
            (partial / split / name).mkdir(parents=True)
    for number, (photo, label, is_test) in enumerate(zip(photos, labels, test, strict=True)):
        kind = (Image.open(io.BytesIO(photo)).format or "jpeg").lower()
        split = "val" if is_test else "train"
        (partial / split / CLASSES[label] / f"{number:05d}.{kind}").write_bytes(photo)
    counts = {
        split: {name: int(((test == (split == "val")) & (labels == i)).sum())
                for i, name in enumerate(CLASSES)}
        for split in ("train", "val")
    }  # fmt: skip
    manifest = {
        "repository": HUB_REPO,
        "revision": HUB_REVISION,
        "files": list(HUB_FILES),
        "held_out": f"{HELD_OUT_PER_CLASS} photos per class as val (the test split), seed "
        f"{SPLIT_SEED}",
        "photos": counts,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
