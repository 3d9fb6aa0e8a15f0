"""How well product quantization keeps a set of vectors: error, size, search quality, time.

`load_vectors` reads a .npy file of a 2-D float array, a shipped embedding set
(`core.embeddings`: fashion-lite0, digits-smallcnn) or "gaussian-mixture" (`gaussian_mixture()`,
64-D); `read_uploaded_vectors` is the explorer's reader of a visitor's file: confined to the
uploads and the shipped data, bounded, its header checked before its data is read. `evaluate`,
`mse_curves` and `compare_at_equal_bits` measure quantizers on them, for the PQ explorer tab and
for `dlstudio quantize` (`core.pq.cli`).

The quantizer is fitted on a random 80 % (the training part) and the squared error is measured
both there (in-sample) and on the other 20 % (held out): with few vectors per level the
in-sample optimum is flattering. `mse` is the mean squared error per component,
mean((x - x_hat)^2); `relative_mse` divides it by the data's variance per component, so 1 is
as bad as replacing every vector by the mean. recall@10 is measured on all vectors, each
queried against the rest: the share of its 10 exact nearest neighbours (Euclidean, original
vectors) that asymmetric-distance search over the codes also returns in its top 10.

`Evaluation.to_dict` gives `mse` (held out; in-sample with holdout 0), `mse_in_sample`,
`mse_held_out`, `relative_mse`, `bits_per_vector`, `compression_ratio` (32-bit floats against
the codes, codebooks not counted: `codebook_bytes` gives them), `recall@10`, `fit_seconds`,
`encode_seconds` and `search_seconds`.
"""

import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.embeddings import list_embedding_sets, load_embedding_set
from core.paths import PathRefused, confine
from core.pq.product import METHODS, ProductQuantizer, fit, top_k
from core.pq.scalar import SCALAR_METHODS

MAX_BITS = 8
RECALL_K = 10
HOLDOUT = 0.2
GAUSSIAN_MIXTURE = "gaussian-mixture"
FLOAT_BITS = 32  # the vectors' own size per component, for the compression ratio
MAX_UPLOAD_VECTORS, MAX_UPLOAD_DIM = 5000, 1024  # keeps the explorer's recall@10 interactive
MAX_MAGNITUDE = 1e100  # larger values overflow the squared distances
NPZ_MAGIC = b"PK\x03\x04"  # an .npz archive is a zip file
HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class VectorInputError(ValueError):
    """Vectors or settings that cannot be quantized; the message says what to change."""


@dataclass(frozen=True)
class Evaluation:
    """One quantizer's numbers on one set of vectors (see the module docstring)."""

    m: int
    bits: int
    method: str
    dim: int
    count: int
    train_count: int
    mse_in_sample: float
    mse_held_out: float | None
    relative_mse: float
    bits_per_vector: int
    compression_ratio: float
    codebook_bytes: int
    recall_at_10: float
    fit_seconds: float
    encode_seconds: float
    search_seconds: float
    quantizer: ProductQuantizer = field(repr=False, compare=False)

    @property
    def mse(self) -> float:
        """The honest number: held out when there was a held-out part."""
        return self.mse_in_sample if self.mse_held_out is None else self.mse_held_out

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "quantizer"}
        data["recall@10"] = data.pop("recall_at_10")
        return {"mse": self.mse, **data}


def check_vectors(vectors: object, what: str = "the vectors") -> np.ndarray:
    """The vectors as a float64 (N, D) array, or VectorInputError saying what is wrong."""
    if not isinstance(vectors, np.ndarray):
        raise VectorInputError(f"{what} must be a NumPy array, not {type(vectors).__name__}")
    _check_shape(vectors.shape, what)
    _check_dtype(vectors.dtype, what)
    with np.errstate(over="ignore"):  # a longdouble beyond float64 becomes inf, refused below
        x = vectors.astype(np.float64)
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise VectorInputError(
            f"{what} contain {bad} NaN or infinite value(s): remove or replace them first"
        )
    if np.abs(x).max() > MAX_MAGNITUDE:
        raise VectorInputError(
            f"{what} hold values beyond {MAX_MAGNITUDE:.0e} in size, whose squared distances "
            "overflow: rescale them first"
        )
    if not x.var(axis=0).any():
        raise VectorInputError(f"all {len(x)} of {what} are the same: there is nothing to quantize")
    return x


def _check_shape(shape: tuple[int, ...], what: str) -> None:
    """VectorInputError unless `shape` is (N, D) with enough vectors for recall@10."""
    if len(shape) != 2:
        raise VectorInputError(
            f"{what} must be a 2-D array (vectors x dimensions), but its shape is {shape}"
        )
    count, dim = shape
    if count <= RECALL_K or dim < 1:
        raise VectorInputError(
            f"{what} need at least {RECALL_K + 1} vectors of at least 1 dimension for "
            f"recall@{RECALL_K}, not {count} x {dim}"
        )


def _check_dtype(dtype: np.dtype, what: str) -> None:
    if not np.issubdtype(dtype, np.floating):
        raise VectorInputError(
            f"{what} must hold floating-point numbers, not {dtype} "
            "(save them with x.astype(np.float32))"
        )


def check_settings(dim: int, train_count: int, m: int, bits: int, method: str) -> None:
    """VectorInputError unless M sub-spaces of 2^bits centroids by `method` fit the data."""
    if not _whole(m) or not 1 <= m <= dim:
        raise VectorInputError(f"M must be a whole number from 1 to D = {dim}, not {m!r}")
    if dim % m:
        raise VectorInputError(
            f"D = {dim} is not divisible by M = {m}: every sub-space needs the same width; "
            f"choose M among {', '.join(map(str, divisors(dim)))}"
        )
    if (
        isinstance(bits, bool)
        or not isinstance(bits, int | np.integer)
        or not 1 <= bits <= MAX_BITS
    ):
        raise VectorInputError(
            f"bits per code must be a whole number from 1 to {MAX_BITS}, not {bits!r}"
        )
    if method not in METHODS:
        raise VectorInputError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if method in SCALAR_METHODS and m != dim:
        raise VectorInputError(
            f"the {method!r} method quantizes each component on its own, so it needs M = D = "
            f"{dim}, not M = {m} (use kmeans for M < D)"
        )
    if train_count < 2**bits:
        raise VectorInputError(
            f"only {train_count} training vectors for {2**bits} centroids per code "
            f"({bits} bits): use at most {int(np.log2(train_count))} bits or more vectors"
        )


def _whole(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def divisors(dim: int) -> list[int]:
    """The values M can take for D = dim."""
    return [m for m in range(1, dim + 1) if dim % m == 0]


def split_rows(count: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, held-out) row indices; the held-out part is `holdout` of the rows."""
    if not 0 <= holdout < 1:
        raise VectorInputError(f"holdout must be a fraction in [0, 1), not {holdout}")
    order = np.random.default_rng(seed).permutation(count)
    held = round(holdout * count)
    return np.sort(order[held:]), np.sort(order[:held])


def evaluate(
    vectors: np.ndarray,
    m: int,
    bits: int,
    method: str | None = None,
    holdout: float = HOLDOUT,
    seed: int = 0,
) -> Evaluation:
    """Fit an M-sub-space, `bits`-per-code quantizer on the training part and measure it.

    `method` defaults to "optimal" for M = D and "kmeans" otherwise.
    """
    x = check_vectors(vectors)
    count, dim = x.shape
    method = method or ("optimal" if m == dim else "kmeans")
    train, held = split_rows(count, holdout, seed)
    check_settings(dim, len(train), m, bits, method)
    started = time.perf_counter()
    quantizer = fit(x[train], m, bits, method, seed)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    codes = quantizer.encode(x)
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = quantizer.search(x, codes, RECALL_K, exclude=np.arange(count))
    search_seconds = time.perf_counter() - started
    errors = ((x - quantizer.decode(codes)) ** 2).mean(axis=1)
    return Evaluation(
        m=m,
        bits=bits,
        method=method,
        dim=dim,
        count=count,
        train_count=len(train),
        mse_in_sample=float(errors[train].mean()),
        mse_held_out=float(errors[held].mean()) if len(held) else None,
        relative_mse=float(errors[held if len(held) else train].mean() / x.var(axis=0).mean()),
        bits_per_vector=m * bits,
        compression_ratio=FLOAT_BITS * dim / (m * bits),
        codebook_bytes=quantizer.codebooks.size * 4,
        recall_at_10=recall_at_k(x, found),
        fit_seconds=fit_seconds,
        encode_seconds=encode_seconds,
        search_seconds=search_seconds,
        quantizer=quantizer,
    )


def exact_neighbours(vectors: np.ndarray, k: int = RECALL_K, chunk: int = 512) -> np.ndarray:
    """(N, k) indices of each vector's k nearest other vectors (squared Euclidean)."""
    norms = (vectors**2).sum(1)
    found = []
    for start in range(0, len(vectors), chunk):
        block = vectors[start : start + chunk]
        distances = norms[None, :] - 2 * block @ vectors.T + norms[start : start + chunk, None]
        distances[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        found.append(top_k(distances, k))
    return np.concatenate(found)


def recall_at_k(vectors: np.ndarray, found: np.ndarray) -> float:
    """Mean share of each vector's exact k nearest neighbours among the `found` ones."""
    exact = exact_neighbours(vectors, found.shape[1])
    hits = [np.intersect1d(a, b).size for a, b in zip(exact, found, strict=True)]
    return float(np.mean(hits) / found.shape[1])


def mse_curves(
    vectors: np.ndarray,
    bits: range = range(1, MAX_BITS + 1),
    holdout: float = HOLDOUT,
    seed: int = 0,
) -> list[dict]:
    """MSE against bits per component for every one-dimensional method (M = D).

    One row per (method, bits): `mse_in_sample`, `mse_held_out` (None without a held-out
    part) and `fit_seconds`. Bits needing more centroids than training vectors are skipped.
    """
    x = check_vectors(vectors)
    train, held = split_rows(len(x), holdout, seed)
    rows = []
    for method in SCALAR_METHODS:
        for b in bits:
            if 2**b > len(train):
                continue
            started = time.perf_counter()
            quantizer = fit(x[train], x.shape[1], b, method)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "method": method,
                    "bits": b,
                    "mse_in_sample": squared_error(quantizer, x[train]),
                    "mse_held_out": squared_error(quantizer, x[held]) if len(held) else None,
                    "fit_seconds": seconds,
                }
            )
    return rows


def squared_error(quantizer: ProductQuantizer, vectors: np.ndarray) -> float:
    """Mean squared error per component of the vectors' reconstructions."""
    return float(((vectors - quantizer.decode(quantizer.encode(vectors))) ** 2).mean())


def equal_bits_settings(dim: int, bits_per_vector: int) -> list[tuple[int, int, str]]:
    """(M, bits, method) triples that all spend `bits_per_vector` bits on a vector.

    M = D with bits_per_vector / D bits per component for each one-dimensional method, then
    k-means PQ with 8-bit and 4-bit codes (M = bits_per_vector / 8 and / 4) where M < D
    divides D.
    """
    if bits_per_vector % dim or not 1 <= bits_per_vector // dim <= MAX_BITS:
        raise VectorInputError(
            f"with D = {dim}, M = D spends a multiple of {dim} bits per vector, at most "
            f"{MAX_BITS * dim}: choose {', '.join(str(dim * b) for b in range(1, 5))}, ... "
            f"not {bits_per_vector}"
        )
    settings = [(dim, bits_per_vector // dim, method) for method in SCALAR_METHODS]
    for code_bits in (8, 4):
        m = bits_per_vector // code_bits
        if bits_per_vector % code_bits == 0 and m < dim and dim % m == 0:
            settings.append((m, code_bits, "kmeans"))
    return settings


def compare_at_equal_bits(
    vectors: np.ndarray, bits_per_vector: int, holdout: float = HOLDOUT, seed: int = 0
) -> list[Evaluation]:
    """Every `equal_bits_settings` quantizer evaluated on the same vectors and split."""
    x = check_vectors(vectors)
    return [
        evaluate(x, m, bits, method, holdout, seed)
        for m, bits, method in equal_bits_settings(x.shape[1], bits_per_vector)
    ]


def gaussian_mixture(
    count: int = 2000, dim: int = 64, clusters: int = 16, spread: float = 3.0, seed: int = 0
) -> np.ndarray:
    """Vectors from `clusters` equally likely Gaussians of unit variance whose means are drawn
    N(0, spread^2) per component: the synthetic set of the PQ against M = D comparison."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, spread, (clusters, dim))
    return (means[rng.integers(clusters, size=count)] + rng.standard_normal((count, dim))).astype(
        np.float32
    )


def named_vectors(name: str) -> np.ndarray:
    """A shipped embedding set or "gaussian-mixture" by name; a name only, never a file."""
    if name == GAUSSIAN_MIXTURE:
        return gaussian_mixture()
    if name in list_embedding_sets():
        return load_embedding_set(name)[0]
    raise VectorInputError(
        f"unknown vector set: choose {', '.join(list_embedding_sets())} or {GAUSSIAN_MIXTURE}"
    )


def load_vectors(source: str | Path) -> np.ndarray:
    """Vectors from a .npy file, a shipped embedding set's name or "gaussian-mixture" (for the
    terminal user: the file is not confined)."""
    text = str(source)
    if text == GAUSSIAN_MIXTURE or text in list_embedding_sets():
        return named_vectors(text)
    path = Path(text)
    if not path.is_file():
        raise VectorInputError(
            f"{text} is neither a .npy file nor a vector set: give a file, "
            f"{', '.join(list_embedding_sets())} or {GAUSSIAN_MIXTURE}"
        )
    return read_npy(path)


def read_uploaded_vectors(path: str | Path | None) -> np.ndarray:
    """A visitor's .npy as checked vectors, for the explorer: the path must be an upload or
    shipped data (`core.paths.confine`), and the array at most MAX_UPLOAD_VECTORS x
    MAX_UPLOAD_DIM, checked on its header before any data is read."""
    if path is None or not str(path).strip():
        raise VectorInputError("Upload a .npy file first (a 2-D float array, vectors x dims).")
    try:
        confined = confine(path, "vector file", uploaded=True)
    except PathRefused as error:
        raise VectorInputError(str(error)) from None
    return read_npy(confined, MAX_UPLOAD_VECTORS, MAX_UPLOAD_DIM)


def read_npy(path: Path, max_vectors: int | None = None, max_dim: int | None = None) -> np.ndarray:
    """A checked (N, D) float64 array from a .npy file.

    Its header is checked before any data is read: one 2-D float array (never objects, so
    nothing is unpickled), within `max_vectors` x `max_dim` when given, and no larger than the
    file really is. So a hostile header that claims 10^5 x 10^5 values allocates nothing.
    """
    name = path.name
    try:
        with path.open("rb") as file:
            _check_header(file, name, max_vectors, max_dim)
            array = _read_data(file, name)
    except OSError:
        raise VectorInputError(f"{name} is not a readable file: upload a .npy file") from None
    return check_vectors(array, name)


def _read_data(file: BinaryIO, name: str) -> np.ndarray:
    """The array of a file whose header `_check_header` accepted (never unpickling)."""
    file.seek(0)
    try:
        return np.lib.format.read_array(file, allow_pickle=False)
    except ValueError:
        raise VectorInputError(_unreadable(name)) from None


def _unreadable(name: str, why: str = "") -> str:
    return f"{name} is not a readable NumPy .npy file of numbers{why}: save one array with np.save"


def _check_header(file: BinaryIO, name: str, max_vectors: int | None, max_dim: int | None) -> None:
    """VectorInputError unless the .npy header at the file's start describes vectors within
    the bounds that the file's size really holds."""
    shape, dtype = _read_header(file, name)
    if dtype.hasobject:
        raise VectorInputError(_unreadable(name, ": it holds Python objects"))
    _check_shape(shape, name)
    _check_dtype(dtype, name)
    count, dim = shape
    if (max_vectors is not None and count > max_vectors) or (max_dim is not None and dim > max_dim):
        raise VectorInputError(
            f"{name} holds {count} x {dim}: the explorer takes at most {max_vectors} vectors of "
            f"at most {max_dim} dims (the command line has no limit: dlstudio quantize FILE.npy)"
        )
    data_bytes = os.fstat(file.fileno()).st_size - file.tell()
    if data_bytes < count * dim * dtype.itemsize:
        raise VectorInputError(
            f"{name} is cut short: its header promises {count} x {dim} values, but the file "
            "holds fewer"
        )


def _read_header(file: BinaryIO, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """The (shape, dtype) a .npy header declares, the file left at the start of the data."""
    if file.read(len(NPZ_MAGIC)) == NPZ_MAGIC:
        raise VectorInputError(f"{name} is an .npz archive: save one array with np.save")
    file.seek(0)
    try:
        version = np.lib.format.read_magic(file)
        reader = HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _fortran_order, dtype = reader(file)
    except (ValueError, SyntaxError, TypeError):
        raise VectorInputError(_unreadable(name)) from None
    return shape, dtype
