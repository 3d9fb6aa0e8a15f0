"""Image data sets: what each loader returns, the IDX reader, and the stratified splits."""

import gzip

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from core.vision.data import (
    AFHQ_URL,
    FASHION_MNIST_DIR,
    dataset_splits,
    load_image_dataset,
    read_idx,
    stratified_splits,
    stratified_subset,
)


def write_idx(path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes (gzipped when the name ends in .gz)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        size.to_bytes(4, "big") for size in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_mnist_folder(folder, n_train: int = 30, n_test: int = 20, gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (count, 28, 28))
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(count) % 10)


def test_digits_are_8x8_uint8_bright_ink_with_sklearn_labels():
    dataset = load_image_dataset("digits")
    reference = load_digits()
    assert dataset.images.shape == (1797, 8, 8)
    assert dataset.images.dtype == np.uint8
    assert (dataset.images.min(), dataset.images.max()) == (0, 255)
    np.testing.assert_array_equal(dataset.labels, reference.target)
    assert dataset.labels.dtype == np.int64
    assert dataset.classes == [str(digit) for digit in range(10)]
    assert dataset.is_test is None
    # sklearn's 0..16 scale, stretched to 0..255 in the same order
    assert np.corrcoef(dataset.images.ravel(), reference.images.ravel())[0, 1] > 0.9999
    # bright ink on a dark background: most pixels are dark, the left and right columns nearly
    # all of them
    assert np.median(dataset.images) < 20
    assert dataset.images[:, :, [0, -1]].mean() < 5


@pytest.mark.skipif(
    not FASHION_MNIST_DIR.is_dir(),
    reason="the Debian package dataset-fashion-mnist is not installed",
)
def test_fashion_mnist_reads_the_debian_idx_files():
    dataset = load_image_dataset("fashion-mnist")
    assert dataset.images.shape == (70_000, 28, 28)
    assert dataset.images.dtype == np.uint8
    assert len(dataset.classes) == 10 and dataset.classes[9] == "Ankle boot"
    assert dataset.is_test.sum() == 10_000
    assert not dataset.is_test[:60_000].any()
    # the official splits are balanced: 6,000 + 1,000 of every class
    np.testing.assert_array_equal(np.bincount(dataset.labels[~dataset.is_test]), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(dataset.labels[dataset.is_test]), [1000] * 10)


def test_a_missing_fashion_mnist_names_the_debian_package(tmp_path):
    from core.vision.data import load_fashion_mnist

    with pytest.raises(FileNotFoundError, match="install the Debian package dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_read_idx_round_trips_plain_and_gzipped_files(tmp_path, name):
    array = np.random.default_rng(1).integers(0, 256, (5, 3, 4))
    write_idx(tmp_path / name, array)
    np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_read_idx_refuses_a_file_that_is_not_idx_or_is_cut_short(tmp_path):
    (tmp_path / "x").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "x")
    write_idx(tmp_path / "y", np.zeros((4, 2, 2)))
    (tmp_path / "y").write_bytes((tmp_path / "y").read_bytes()[:-3])
    with pytest.raises(ValueError, match="the header says"):
        read_idx(tmp_path / "y")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loads_a_folder_of_idx_files_with_the_official_test_split(tmp_path, gz):
    write_mnist_folder(tmp_path / "mnist", gz=gz)
    dataset = load_image_dataset("mnist", tmp_path / "mnist")
    assert dataset.images.shape == (50, 28, 28)
    assert dataset.is_test.sum() == 20 and dataset.is_test[30:].all()
    assert dataset.classes == [str(digit) for digit in range(10)]


def test_mnist_without_a_root_uses_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path))
    write_mnist_folder(tmp_path / "mnist" / "MNIST" / "raw")  # torchvision's own layout
    assert len(load_image_dataset("mnist")) == 50


def test_a_mnist_folder_without_the_idx_files_says_which_files_it_needs(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_image_dataset("mnist", tmp_path)


def make_photo_folder(root, classes=("cat", "dog"), per_class=(3, 2)) -> None:
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "val"), per_class, strict=True):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.jpg")


def test_an_image_folder_is_read_lazily_with_val_as_the_test_split(tmp_path):
    make_photo_folder(tmp_path)
    dataset = load_image_dataset("afhq", tmp_path)
    assert dataset.classes == ["cat", "dog"]
    assert len(dataset) == 10
    np.testing.assert_array_equal(dataset.labels, [0, 0, 0, 1, 1, 1, 0, 0, 1, 1])
    assert dataset.is_test.sum() == 4 and dataset.is_test[6:].all()
    assert all(path.suffix == ".jpg" for path in dataset.images)  # paths, not pixels
    picture = dataset.image(7)
    assert picture.mode == "RGB" and picture.size == (30, 20)


def test_a_missing_animal_folder_points_to_the_kaggle_download(tmp_path):
    for root in (None, tmp_path / "nowhere"):
        with pytest.raises(FileNotFoundError, match=AFHQ_URL):
            load_image_dataset("afhq", root)


def test_image_folder_splits_must_have_the_same_classes(tmp_path):
    make_photo_folder(tmp_path)
    (tmp_path / "val" / "dog").rename(tmp_path / "val" / "wild")
    with pytest.raises(ValueError, match="same class folders"):
        load_image_dataset("imagefolder", tmp_path)


def test_an_unknown_data_set_lists_the_known_ones():
    with pytest.raises(ValueError, match="digits, fashion-mnist, mnist"):
        load_image_dataset("cifar")


def test_stratified_splits_are_disjoint_complete_and_proportional_per_class():
    labels = np.repeat(np.arange(5), [100, 200, 300, 60, 340])
    splits = stratified_splits(labels, seed=3, val=0.15, test=0.15)
    everything = np.concatenate(list(splits.values()))
    assert len(everything) == len(labels) == len(np.unique(everything))
    for name, fraction in (("train", 0.70), ("val", 0.15), ("test", 0.15)):
        counts = np.bincount(labels[splits[name]], minlength=5)
        np.testing.assert_allclose(counts, np.bincount(labels) * fraction, atol=1)


def test_stratified_splits_depend_on_the_seed_only():
    labels = np.arange(400) % 4
    first, again = stratified_splits(labels, seed=0), stratified_splits(labels, seed=0)
    other = stratified_splits(labels, seed=1)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["test"], other["test"])


@pytest.mark.parametrize(("val", "test"), [(0, 0.2), (0.5, 0.5), (0.2, -0.1)])
def test_stratified_splits_refuse_impossible_fractions(val, test):
    with pytest.raises(ValueError, match="fractions"):
        stratified_splits(np.arange(100) % 2, val=val, test=test)


def test_an_official_test_split_is_kept_and_val_comes_from_the_official_train(tmp_path):
    write_mnist_folder(tmp_path, n_train=200, n_test=50)
    dataset = load_image_dataset("mnist", tmp_path)
    splits = dataset_splits(dataset, seed=0, val=0.15)
    np.testing.assert_array_equal(splits["test"], np.arange(200, 250))
    assert len(splits["val"]) == 30 and len(splits["train"]) == 170
    assert np.intersect1d(splits["train"], splits["val"]).size == 0
    assert splits["val"].max() < 200
    np.testing.assert_array_equal(np.bincount(dataset.labels[splits["val"]]), [3] * 10)


def test_a_stratified_subset_keeps_the_class_proportions():
    labels = np.repeat(np.arange(3), [50, 100, 150])
    index = np.arange(300)
    subset = stratified_subset(index, labels, 60, seed=0)
    assert len(np.unique(subset)) == 60
    np.testing.assert_array_equal(np.bincount(labels[subset]), [10, 20, 30])
    np.testing.assert_array_equal(stratified_subset(index, labels, 500, seed=0), index)
    with pytest.raises(ValueError, match="one example of each of 3 classes"):
        stratified_subset(index, labels, 2, seed=0)
