"""Every vector file and setting the PQ explorer can be given gets an answer or a plain refusal:
hostile .npy headers are refused before any data is read, objects are never unpickled, and a
visitor's file must be an upload or shipped data."""

import numpy as np
import pytest

from core.paths import REPO_ROOT, uploads_dir
from core.pq import evaluate as pq_evaluate
from core.pq.evaluate import (
    MAX_UPLOAD_VECTORS,
    VectorInputError,
    check_vectors,
    evaluate,
    gaussian_mixture,
    named_vectors,
    read_npy,
    read_uploaded_vectors,
)

HUGE = (100_000, 100_000)  # 10^10 float64 values: 74.5 GiB if anything tried to hold them


def write_header(path, shape, descr="<f8", data=b"\0" * 64, version=(1, 0)) -> None:
    """A .npy file whose header claims `shape` and `descr`, followed by `data` only."""
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    with path.open("wb") as file:
        writer = {
            (1, 0): np.lib.format.write_array_header_1_0,
            (2, 0): np.lib.format.write_array_header_2_0,
        }[version]
        writer(file, header)
        file.write(data)


@pytest.fixture
def no_data_reads(monkeypatch):
    """Fail the test if a refused file's data is read at all."""

    def refuse(*args, **kwargs):
        raise AssertionError("the array's data was read before its header was checked")

    monkeypatch.setattr(np.lib.format, "read_array", refuse)


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    """An empty data directory whose uploads folder the explorer may read."""
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DLSTUDIO_ALLOW_PATHS", raising=False)
    monkeypatch.delenv("DLSTUDIO_DB", raising=False)
    folder = uploads_dir()
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
def test_a_header_claiming_a_huge_array_is_refused_before_reading(tmp_path, no_data_reads, version):
    path = tmp_path / "huge.npy"
    write_header(path, HUGE, version=version)
    with pytest.raises(VectorInputError, match=r"huge\.npy is cut short: .* 100000 x 100000"):
        read_npy(path)
    with pytest.raises(VectorInputError, match=r"holds 100000 x 100000: .* at most 5000 vectors"):
        read_npy(path, MAX_UPLOAD_VECTORS, 1024)


def test_a_truncated_file_is_refused(tmp_path, no_data_reads):
    path = tmp_path / "short.npy"
    write_header(path, (20, 4), data=b"\0" * (20 * 4 * 8 - 1))
    with pytest.raises(VectorInputError, match=r"short\.npy is cut short"):
        read_npy(path)


@pytest.mark.parametrize(
    "shape, descr, message",
    [
        ((20, 4), "|O", "not a readable NumPy .npy file of numbers: it holds Python objects"),
        ((20,), "<f8", r"must be a 2-D array .* shape is \(20,\)"),
        ((20, 4, 2), "<f8", "must be a 2-D array"),
        ((), "<f8", r"must be a 2-D array .* shape is \(\)"),
        ((0, 4), "<f8", "at least 11 vectors .* not 0 x 4"),
        ((5, 4), "<f8", "at least 11 vectors .* not 5 x 4"),
        ((20, 0), "<f8", "at least 1 dimension"),
        ((20, 4), "<i8", "floating-point numbers, not int64"),
        ((20, 4), "<c16", "floating-point numbers, not complex128"),
        ((20, 4), "<U3", "floating-point numbers"),
        ((20, 4), [("a", "<f4"), ("b", "<f4")], "floating-point numbers"),
    ],
)
def test_a_header_of_anything_but_vectors_is_refused_before_reading(
    tmp_path, no_data_reads, shape, descr, message
):
    path = tmp_path / "bad.npy"
    write_header(path, shape, descr)
    with pytest.raises(VectorInputError, match=message):
        read_npy(path)


def test_an_object_array_is_never_unpickled(tmp_path, monkeypatch):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([[{"a": 1}] * 4] * 20, dtype=object), allow_pickle=True)
    monkeypatch.setattr("pickle.load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(VectorInputError, match=r"objects\.npy .* holds Python objects"):
        read_npy(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x93NUMPY",  # the magic string cut short
        b"\x93NUMPY\x03\x00" + b"\0" * 60,  # a format version this reader does not take
        b"\x93NUMPY\x01\x00\x10\x00{'descr': ???}  \n",  # a header that is no dict
        b"\x93NUMPY\x01\x00\x20\x00{'descr': 'nonsense', 'x': 1}\n",  # a dict with wrong keys
    ],
)
def test_broken_files_are_refused_plainly(tmp_path, content):
    path = tmp_path / "broken.npy"
    path.write_bytes(content)
    with pytest.raises(VectorInputError, match=r"broken\.npy is not a readable NumPy \.npy file"):
        read_npy(path)


def test_a_folder_is_refused_without_naming_where_it_is(tmp_path):
    folder = tmp_path / "folder.npy"
    folder.mkdir()
    with pytest.raises(VectorInputError, match=r"folder\.npy is not a readable file") as refused:
        read_npy(folder)
    assert str(tmp_path) not in str(refused.value)


def test_big_endian_and_fortran_order_float16_files_are_read(tmp_path):
    vectors = gaussian_mixture(count=30, dim=6)
    path = tmp_path / "odd.npy"
    np.save(path, np.asfortranarray(vectors.astype(">f2")))
    np.testing.assert_allclose(read_npy(path), vectors.astype(np.float16), rtol=1e-3)


@pytest.mark.parametrize(
    "vectors, message",
    [
        (np.full((20, 4), np.inf), "80 NaN or infinite"),
        (np.full((20, 4), 3.0), "all 20 of the vectors are the same"),
        (np.eye(20, 4) * 1e200, "beyond 1e[+]100 in size"),
        (np.full((20, 4), np.longdouble("1e400")), "NaN or infinite"),  # beyond float64
    ],
)
def test_values_no_quantizer_can_measure_are_refused(vectors, message):
    with pytest.raises(VectorInputError, match=message):
        check_vectors(vectors)


def test_an_uploaded_file_is_read_and_a_file_elsewhere_is_refused(uploads, tmp_path):
    vectors = gaussian_mixture(count=40, dim=8)
    np.save(uploads / "mine.npy", vectors)
    np.testing.assert_array_equal(read_uploaded_vectors(str(uploads / "mine.npy")), vectors)
    outside = tmp_path / "secret.npy"
    np.save(outside, vectors)
    (uploads / "link.npy").symlink_to(outside)
    for path in (outside, uploads / "link.npy", uploads / ".." / ".." / "secret.npy"):
        with pytest.raises(VectorInputError, match="vector file: refused") as refused:
            read_uploaded_vectors(str(path))
        assert str(tmp_path) not in str(refused.value)


def test_the_repository_and_the_run_store_are_no_vector_files(uploads):
    for path in (
        REPO_ROOT / "pyproject.toml",
        uploads.parent / "runs.sqlite",
        "/proc/self/environ",
    ):
        with pytest.raises(VectorInputError, match="vector file: "):
            read_uploaded_vectors(str(path))


def test_an_upload_beyond_the_explorer_bounds_is_refused_before_reading(uploads, monkeypatch):
    write_header(uploads / "tall.npy", (MAX_UPLOAD_VECTORS + 1, 2))
    write_header(uploads / "wide.npy", (20, 1025))
    monkeypatch.setattr(pq_evaluate.np.lib.format, "read_array", lambda *a, **k: pytest.fail())
    for name in ("tall.npy", "wide.npy"):
        with pytest.raises(VectorInputError, match="the explorer takes at most 5000 vectors"):
            read_uploaded_vectors(str(uploads / name))


@pytest.mark.parametrize("path", [None, "", "  "])
def test_no_upload_asks_for_one(path):
    with pytest.raises(VectorInputError, match=r"Upload a \.npy file first"):
        read_uploaded_vectors(path)


@pytest.mark.parametrize("name", ["pyproject.toml", "/etc/passwd", "../assets", ""])
def test_a_vector_set_is_chosen_by_name_only(name):
    with pytest.raises(VectorInputError, match=r"unknown vector set: choose .*gaussian-mixture"):
        named_vectors(name)


@pytest.mark.parametrize(
    "m, bits, method, dim",
    [
        (1, 2, "kmeans", 8),  # one sub-space spanning every dimension
        (1, 3, None, 1),  # one-dimensional vectors: M = D = 1, optimal levels
        (1, 1, "uniform", 1),
        (8, 1, "lloyd", 8),
    ],
)
def test_extreme_settings_are_answered(m, bits, method, dim):
    evaluation = evaluate(gaussian_mixture(count=40, dim=dim), m, bits, method)
    assert (evaluation.m, evaluation.bits, evaluation.dim) == (m, bits, dim)
    assert 0 <= evaluation.recall_at_10 <= 1 and np.isfinite(evaluation.mse)


@pytest.mark.parametrize(
    "m, bits, message",
    [
        (3, 2, "D = 8 is not divisible by M = 3"),
        (8, 6, "only 32 training vectors for 64 centroids per code .* at most 5 bits"),
        (1.5, 2, "M must be a whole number"),
        (True, 2, "M must be a whole number"),
        (8, 2.0, "bits per code must be a whole number"),
    ],
)
def test_settings_the_data_cannot_take_are_refused(m, bits, message):
    with pytest.raises(VectorInputError, match=message):
        evaluate(gaussian_mixture(count=40, dim=8), m, bits, "kmeans")
