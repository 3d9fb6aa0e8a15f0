"""Image data sets for the classifier experiments, and their train/val/test splits.

    load_image_dataset("digits")                        # scikit-learn's 1,797 8x8 digits
    load_image_dataset("fashion-mnist")                 # Debian package dataset-fashion-mnist
    load_image_dataset("mnist", root="~/mnist")         # a folder with the four IDX files
    load_image_dataset("afhq", root="~/afhq")           # root/train/<class>/*.jpg, root/val/...
    missing_data("afhq")                                # what to provide, or None when here

Every data set comes back as an `ImageDataset`: uint8 pixels (or, for folders of photos, the
file paths, read only when a picture is needed) and int64 labels. Turning pixels into network
inputs is not done here: `core.vision.preprocess.prepare_batch` does that with the experiment's
`InputSpec`, the same code that serving runs on a user's picture.

Splits (`dataset_splits`): where a data set has an official test split (Fashion-MNIST and MNIST:
the 10,000 test images; AFHQ: its `val` folder) that split is the test set, and the validation
set is split off the official training set, stratified. Otherwise (digits) the data is split
three ways, stratified, 70/15/15. Both use a fixed seed, so a run can be repeated exactly.
"""

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from core.paths import data_dir, redact_paths
from core.vision.inputs import load_image

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
AFHQ_URL = "https://www.kaggle.com/datasets/andrewmvd/animal-faces"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
DIGIT_CLASSES = [str(digit) for digit in range(10)]


@dataclass
class ImageDataset:
    """Pictures, their labels and the class names.

    `images` is a uint8 array, (N, H, W) grayscale or (N, H, W, 3) colour, with light ink or
    objects on a dark background for the digit and Fashion-MNIST sets; for a folder of photos it
    is the list of file paths instead (`image(i)` reads one). `is_test` marks the official test
    split where the data set has one.
    """

    images: np.ndarray | list[Path]
    labels: np.ndarray
    classes: list[str]
    name: str
    is_test: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, index: int) -> np.ndarray | Image.Image:
        """One picture: a pixel array, or the photo read from its file (EXIF-rotated)."""
        if isinstance(self.images, np.ndarray):
            return self.images[index]
        return load_image(self.images[index])


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format, optionally gzipped) as a uint8 array of its shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path.name} is not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(
            f"{path.name}: the header says {shape}, but the file holds {body.size} bytes"
        )
    return body.reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_idx_pair(folder: Path, name: str, classes: list[str]) -> ImageDataset:
    """The four standard IDX files of `folder`: official train then official test."""
    images, labels = [], []
    for prefix in ("train", "t10k"):
        images.append(read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte")))
        labels.append(read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte")).astype(np.int64))
    is_test = np.concatenate([np.zeros(len(labels[0]), bool), np.ones(len(labels[1]), bool)])
    return ImageDataset(np.concatenate(images), np.concatenate(labels), classes, name, is_test)


def _has_idx_files(folder: Path) -> bool:
    return all(
        _find_idx(folder, f"{prefix}-{kind}-idx{dims}-ubyte") is not None
        for prefix in ("train", "t10k")
        for kind, dims in (("images", 3), ("labels", 1))
    )


def load_digits_dataset(root: Path | None = None) -> ImageDataset:
    """scikit-learn's handwritten digits: 1,797 images of 8x8, ink 0..16 scaled to 0..255."""
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    return ImageDataset(images, digits.target.astype(np.int64), DIGIT_CLASSES, "digits")


def load_fashion_mnist(root: Path | None = None) -> ImageDataset:
    """Fashion-MNIST from the Debian package's IDX files: 60,000 train + 10,000 test, 28x28."""
    folder = root or FASHION_MNIST_DIR
    if not _has_idx_files(folder):
        raise FileNotFoundError(
            f"Fashion-MNIST was not found in {folder.name}: install the Debian package "
            "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
        )
    return _load_idx_pair(folder, "fashion-mnist", FASHION_MNIST_CLASSES)


def load_mnist(root: Path | None = None) -> ImageDataset:
    """MNIST from a folder with the four standard IDX files (gzipped or not).

    Without a folder, torchvision downloads MNIST into the data directory, which needs a
    network connection; torchvision's own layout (`MNIST/raw`) is recognised too.
    """
    folder = root or data_dir() / "mnist"
    for candidate in (folder, folder / "MNIST" / "raw"):
        if _has_idx_files(candidate):
            return _load_idx_pair(candidate, "mnist", DIGIT_CLASSES)
    if root is not None:
        raise FileNotFoundError(
            f"no MNIST IDX files in {folder.name}: it needs train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
            "(each may be .gz)"
        )
    from torchvision.datasets import MNIST  # only for the download

    try:
        MNIST(str(folder), download=True)
    except Exception as error:  # no network: URLError, timeouts, HTTP errors
        raise FileNotFoundError(
            f"MNIST could not be downloaded ({redact_paths(str(error))}); give data_root, a "
            "folder with the four MNIST IDX files"
        ) from error
    return _load_idx_pair(folder / "MNIST" / "raw", "mnist", DIGIT_CLASSES)


def _class_folders(split_dir: Path) -> list[Path]:
    return sorted(path for path in split_dir.iterdir() if path.is_dir())


def _image_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)


def load_image_folder(root: Path | None, name: str = "imagefolder") -> ImageDataset:
    """Photos in `root/train/<class>/` and `root/val/<class>/` (AFHQ's layout); val is the test.

    The pictures stay on disk and are read when prepared. Both splits must have the same
    class folders.
    """
    hint = f" (AFHQ, the animal faces: download it from {AFHQ_URL} and unpack it)"
    if root is None:
        raise FileNotFoundError(f"{name} needs data_root, a folder with train/ and val/{hint}")
    splits = {split: root / split for split in ("train", "val")}
    missing = [f"{split}/" for split, path in splits.items() if not path.is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{name}: {root.name} has no {' and no '.join(missing)}: expected "
            f"{root.name}/train/<class>/*.jpg and {root.name}/val/<class>/*.jpg{hint}"
        )
    classes = [folder.name for folder in _class_folders(splits["train"])]
    val_classes = [folder.name for folder in _class_folders(splits["val"])]
    if len(classes) < 2 or classes != val_classes:
        raise ValueError(
            f"{name}: train/ and val/ need the same class folders (at least two); found "
            f"train: {classes}, val: {val_classes}"
        )
    paths, labels, is_test = [], [], []
    for split, folder in splits.items():
        for label, class_name in enumerate(classes):
            files = _image_files(folder / class_name)
            if not files:
                raise ValueError(f"{name}: no images in {folder.name}/{class_name}")
            paths += files
            labels += [label] * len(files)
            is_test += [split == "val"] * len(files)
    return ImageDataset(paths, np.array(labels, np.int64), classes, name, np.array(is_test))


@dataclass(frozen=True)
class DataSource:
    """A built-in data set: how to load it and which preprocessing kind its pictures need."""

    load: Callable[[Path | None], ImageDataset]
    kind: str  # core.vision.preprocess.InputSpec.kind: "digit", "gray" or "rgb"
    description: str


DATA_SOURCES: dict[str, DataSource] = {
    "digits": DataSource(load_digits_dataset, "digit", "scikit-learn digits, 1,797 8x8 images"),
    "fashion-mnist": DataSource(
        load_fashion_mnist, "gray", "Fashion-MNIST, 70,000 28x28 clothing images, 10 classes"
    ),
    "mnist": DataSource(load_mnist, "digit", "MNIST, 70,000 28x28 handwritten digits"),
    "imagefolder": DataSource(
        load_image_folder, "rgb", "photos in data_root/train/<class>/ and data_root/val/<class>/"
    ),
    "afhq": DataSource(
        lambda root: load_image_folder(root or afhq_dir(), "afhq"),
        "rgb",
        "AFHQ animal faces: cat, dog, wild",
    ),
}


def missing_data(name: str) -> str | None:
    """What to provide before the built-in data set `name` can be loaded here without a
    data_root (None: it can). Cheap: it looks for files, it reads and downloads nothing."""
    if name == "fashion-mnist" and not _has_idx_files(FASHION_MNIST_DIR):
        return (
            "Fashion-MNIST is not on this machine: the host installs the Debian package "
            "dataset-fashion-mnist (apt-get install dataset-fashion-mnist)."
        )
    if name == "mnist" and not (_mnist_on_disk() or on_a_space()):
        return (
            "MNIST is not on this machine and this machine downloads nothing: the host puts "
            "the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each may be .gz) into the "
            "folder mnist of the app's data directory. On a Hugging Face Space it is "
            "downloaded at the first run."
        )
    if name == "afhq" and not all((afhq_dir() / split).is_dir() for split in ("train", "val")):
        return (
            "AFHQ (the animal faces: cat, dog, wild) is not on this machine yet: where the "
            "network is reachable, *Download AFHQ* below fetches it from the Hugging Face hub "
            f"(about 730 MB, once); offline, the host downloads it from {AFHQ_URL} and unpacks "
            "it into the folder datasets/afhq of the app's data directory "
            "(`afhq/train/<class>/` and `afhq/val/<class>/`)."
        )
    return None


def on_a_space() -> bool:
    """Whether the app runs on a Hugging Face Space, where data sets can be downloaded."""
    return bool(os.environ.get("SPACE_ID"))


def _mnist_on_disk() -> bool:
    folder = data_dir() / "mnist"
    return _has_idx_files(folder) or _has_idx_files(folder / "MNIST" / "raw")


def afhq_dir() -> Path:
    """Where a host puts AFHQ: `<data dir>/datasets/afhq` (readable as shipped data)."""
    return data_dir() / "datasets" / "afhq"


def load_image_dataset(name: str, root: str | Path | None = None) -> ImageDataset:
    """A built-in data set by name; `root` is its folder where it needs one."""
    if name not in DATA_SOURCES:
        raise ValueError(f"unknown image data set {name!r}; known: {', '.join(DATA_SOURCES)}")
    return DATA_SOURCES[name].load(Path(root).expanduser() if root else None)


def stratified_splits(
    labels: np.ndarray, seed: int = 0, val: float = 0.15, test: float = 0.15
) -> dict[str, np.ndarray]:
    """Sorted index arrays "train", "val", "test", each with every class in proportion.

    `val` and `test` are fractions of all examples; `test=0` leaves the test split empty.
    """
    if not (0 < val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val and test must be fractions with val + test < 1, got {val}, {test}")
    index = np.arange(len(labels))
    if test:
        index, test_index = train_test_split(
            index, test_size=test, stratify=labels, random_state=seed
        )
    else:
        test_index = np.array([], dtype=index.dtype)
    train_index, val_index = train_test_split(
        index, test_size=val / (1 - test), stratify=labels[index], random_state=seed
    )
    return {"train": np.sort(train_index), "val": np.sort(val_index), "test": np.sort(test_index)}


def dataset_splits(
    dataset: ImageDataset, seed: int = 0, val: float = 0.15, test: float = 0.15
) -> dict[str, np.ndarray]:
    """The splits of a data set: its official test split where it has one (see module doc).

    With an official test split, `val` is the fraction of the official training set held out
    for validation and `test` is not used.
    """
    if dataset.is_test is None:
        return stratified_splits(dataset.labels, seed, val, test)
    pool = np.flatnonzero(~dataset.is_test)
    parts = stratified_splits(dataset.labels[pool], seed, val, test=0)
    return {
        "train": pool[parts["train"]],
        "val": pool[parts["val"]],
        "test": np.flatnonzero(dataset.is_test),
    }


def stratified_subset(index: np.ndarray, labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """`size` of the examples in `index`, every class in proportion (all when size >= len)."""
    if size >= len(index):
        return index
    n_classes = len(np.unique(labels[index]))
    if size < n_classes:
        raise ValueError(
            f"a subset of {size} cannot hold one example of each of {n_classes} classes"
        )
    subset, _ = train_test_split(index, train_size=size, stratify=labels[index], random_state=seed)
    return np.sort(subset)
