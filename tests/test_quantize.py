"""Product quantization: the optimal M = D quantizer against brute force, Lloyd-Max and uniform,
the general PQ and its search against faiss, recall@10 against scikit-learn, and bad input."""

import itertools
import json
import subprocess
import sys

import faiss
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from core.embeddings import load_embedding_set
from core.paths import REPO_ROOT
from core.pq.evaluate import (
    VectorInputError,
    check_settings,
    check_vectors,
    compare_at_equal_bits,
    evaluate,
    exact_neighbours,
    gaussian_mixture,
    mse_curves,
    read_npy,
)
from core.pq.product import ProductQuantizer, fit
from core.pq.scalar import lloyd_levels, optimal_levels, quantize, uniform_levels

ROUNDING = 1e-9  # relative slack for sums of squares computed in different orders


@pytest.fixture(scope="module")
def fashion() -> np.ndarray:
    """The shipped embedding set: 2,000 real 64-D image embeddings."""
    return load_embedding_set("fashion-lite0")[0].astype(np.float64)


def sse(values: np.ndarray, levels: np.ndarray) -> float:
    return float(((values - quantize(values, levels)) ** 2).sum())


def brute_force_sse(values: np.ndarray, k: int) -> float:
    """The least squared error over every assignment of the values to k groups (k^n of them),
    each group reconstructed by its mean: no assumption that the best groups are contiguous."""
    labels = np.array(list(itertools.product(range(k), repeat=len(values))))  # (k^n, n)
    members = labels[:, :, None] == np.arange(k)  # (k^n, n, k)
    counts = members.sum(1)
    sums = (members * values[None, :, None]).sum(1)
    squares = (members * values[None, :, None] ** 2).sum(1)
    within = squares - np.divide(sums**2, counts, out=np.zeros_like(sums), where=counts > 0)
    return float(within.sum(1).min())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_optimal_levels_equal_the_brute_force_optimum(seed, k):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(8) * rng.uniform(0.1, 10)
    if seed == 3:
        values = np.round(values)  # repeated values
    assert sse(values, optimal_levels(values, k)) == pytest.approx(
        brute_force_sse(values, k), rel=ROUNDING, abs=1e-12
    )


def test_divide_and_conquer_equals_the_naive_dynamic_programme():
    rng = np.random.default_rng(0)
    cases = [
        rng.standard_normal(400),
        rng.laplace(size=300) ** 3,  # heavy tails
        np.round(rng.standard_normal(500) * 3),  # few distinct values
        np.concatenate([rng.normal(-5, 0.1, 150), rng.normal(4, 2, 150)]),
    ]
    for values in cases:
        for k in (2, 7, 32):
            fast = sse(values, optimal_levels(values, k))
            naive = sse(values, optimal_levels(values, k, monotone=False))
            assert fast == pytest.approx(naive, rel=ROUNDING, abs=1e-12)


def test_optimal_is_never_worse_than_lloyd_max_or_uniform_on_any_component(fashion):
    for bits in (1, 3, 8):
        for column in fashion.T:
            optimal = sse(column, optimal_levels(column, 2**bits))
            lloyd = sse(column, lloyd_levels(column, 2**bits))
            uniform = sse(column, uniform_levels(column, 2**bits))
            assert optimal <= lloyd * (1 + ROUNDING)
            assert lloyd <= uniform * (1 + ROUNDING)  # Lloyd-Max starts from uniform


def test_lloyd_max_stops_at_a_fixed_point(fashion):
    column = fashion[:, 5]
    levels = lloyd_levels(column, 16)
    cells = np.searchsorted((levels[1:] + levels[:-1]) / 2, column)
    means = np.array([column[cells == c].mean() for c in np.unique(cells)])
    np.testing.assert_allclose(levels[np.unique(cells)], means, rtol=0, atol=1e-8)


def test_few_distinct_values_become_the_levels():
    values = np.array([3.0, 1.0, 3.0, 1.0, 2.0])
    np.testing.assert_array_equal(optimal_levels(values, 4), [1.0, 2.0, 3.0])
    quantizer = fit(values[:, None], 1, 2, "optimal")
    assert quantizer.codebooks.shape == (1, 4, 1)
    np.testing.assert_array_equal(quantizer.decode(quantizer.encode(values[:, None]))[:, 0], values)


def test_uniform_matches_faiss_scalar_quantizer_and_optimal_beats_it(fashion):
    """faiss's 8- and 4-bit ScalarQuantizer is uniform between each dimension's min and max.
    It reconstructs at (code + 0.5) / (2^b - 1) of the range, a grid stretched by 2^b / (2^b - 1)
    against our cell centres, so ours may only be better: we allow 1 % worse for rounding."""
    x = fashion.astype(np.float32)
    for bits, kind in ((8, faiss.ScalarQuantizer.QT_8bit), (4, faiss.ScalarQuantizer.QT_4bit)):
        reference = faiss.ScalarQuantizer(x.shape[1], kind)
        reference.train(x)
        faiss_mse = float(((x - reference.decode(reference.compute_codes(x))) ** 2).mean())
        ours = {m: fit(x, x.shape[1], bits, m) for m in ("uniform", "optimal")}
        mse = {m: float(((x - q.decode(q.encode(x))) ** 2).mean()) for m, q in ours.items()}
        assert mse["uniform"] <= 1.01 * faiss_mse
        assert mse["uniform"] >= 0.8 * faiss_mse  # the same kind of quantizer, not another
        assert mse["optimal"] < mse["uniform"]


def test_optimal_beats_faiss_one_dimensional_kmeans_on_every_component(fashion):
    """faiss ProductQuantizer with M = D runs k-means per component: a local optimum."""
    x = fashion[:, :16].astype(np.float32).copy()
    reference = faiss.ProductQuantizer(16, 16, 4)
    reference.train(x)
    faiss_error = ((x - reference.decode(reference.compute_codes(x))) ** 2).sum(0)
    ours = fit(x, 16, 4, "optimal")
    our_error = ((x - ours.decode(ours.encode(x))) ** 2).sum(0)
    assert np.all(our_error <= faiss_error * (1 + 1e-6))


@pytest.mark.parametrize("m, bits", [(16, 8), (8, 6)])
def test_kmeans_pq_matches_faiss_product_quantizer(fashion, m, bits):
    """k-means finds local optima that depend on the start: faiss's own MSE moved by about
    1.5 % between seeds here, and its random start is a little worse than k-means++. Within
    5 % either way is the same quality; much lower would mean a measuring bug."""
    x = fashion.astype(np.float32)
    reference = faiss.ProductQuantizer(x.shape[1], m, bits)
    reference.train(x)
    faiss_mse = float(((x - reference.decode(reference.compute_codes(x))) ** 2).mean())
    ours = fit(x, m, bits, "kmeans")
    our_mse = float(((x - ours.decode(ours.encode(x))) ** 2).mean())
    assert 0.9 * faiss_mse <= our_mse <= 1.05 * faiss_mse


def test_encoding_and_asymmetric_search_match_faiss_with_the_same_codebooks(fashion):
    x = fashion[:500].astype(np.float32)
    ours = fit(x, 8, 8, "kmeans")  # 8-bit codes: faiss stores them one byte each, unpacked
    index = faiss.IndexPQ(x.shape[1], 8, 8)
    faiss.copy_array_to_vector(ours.codebooks.astype(np.float32).ravel(), index.pq.centroids)
    index.is_trained = True
    index.add(x)
    codes = ours.encode(x)
    np.testing.assert_array_equal(index.pq.compute_codes(x), codes)
    _, faiss_found = index.search(x[:50], 6)
    found = ours.search(x[:50], codes, 6)
    assert (faiss_found == found).mean() > 0.98  # float32 against float64 ties may swap
    # the table sums are the squared distances to the reconstructions
    reconstructions = ours.decode(codes)
    direct = ((x[:50, None, :] - reconstructions[None]) ** 2).sum(-1)
    assert ours.distance_tables(x[:50]).shape == (50, 8, 256)
    exact_order = np.argsort(direct, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(found, exact_order)


def test_exact_neighbours_match_scikit_learn(fashion):
    x = fashion[:300]
    _, expected = NearestNeighbors(n_neighbors=11).fit(x).kneighbors(x)
    np.testing.assert_array_equal(exact_neighbours(x, 10), expected[:, 1:])


def test_evaluation_numbers_on_the_embedding_set(fashion):
    scalar = evaluate(fashion, 64, 8, "optimal")
    assert scalar.bits_per_vector == 512 and scalar.compression_ratio == 4.0
    assert scalar.train_count == 1600 and scalar.count == 2000
    assert scalar.recall_at_10 > 0.95  # 256 levels per component keep neighbours
    assert scalar.mse_held_out > 2 * scalar.mse_in_sample  # ~6 values per level: flattering
    coarse = evaluate(fashion, 64, 1, "uniform")
    assert coarse.recall_at_10 < scalar.recall_at_10
    assert coarse.relative_mse > 10 * scalar.relative_mse


def test_pq_beats_the_optimal_per_component_quantizer_at_equal_bits():
    """The teaching point: a 64-D Gaussian mixture, 128 bits per vector."""
    x = gaussian_mixture()
    pq = evaluate(x, 16, 8, "kmeans")
    per_component = evaluate(x, 64, 2, "optimal")
    assert pq.bits_per_vector == per_component.bits_per_vector == 128
    assert pq.mse_in_sample < 0.5 * per_component.mse_in_sample
    assert pq.mse_held_out < per_component.mse_held_out
    assert pq.recall_at_10 > per_component.recall_at_10


def test_mse_curves_fall_with_bits_and_keep_the_order(fashion):
    rows = mse_curves(fashion[:, :8], bits=range(1, 5))
    by = {(r["method"], r["bits"]): r for r in rows}
    for bits in range(1, 5):
        assert by["optimal", bits]["mse_in_sample"] <= by["lloyd", bits]["mse_in_sample"]
        assert by["lloyd", bits]["mse_in_sample"] <= by["uniform", bits]["mse_in_sample"]
        if bits > 1:
            assert by["optimal", bits]["mse_in_sample"] < by["optimal", bits - 1]["mse_in_sample"]


def test_equal_bits_settings_spend_the_same_bits():
    rows = compare_at_equal_bits(gaussian_mixture(count=400, dim=16), 32)
    assert {(r.m, r.bits, r.method) for r in rows} == {
        (16, 2, "optimal"),
        (16, 2, "lloyd"),
        (16, 2, "uniform"),
        (4, 8, "kmeans"),
        (8, 4, "kmeans"),
    }
    assert {r.bits_per_vector for r in rows} == {32}
    with pytest.raises(VectorInputError, match="multiple of 16"):
        compare_at_equal_bits(gaussian_mixture(count=400, dim=16), 24)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros(20), "must be a 2-D array"),
        (np.zeros((20, 4, 2)), "must be a 2-D array"),
        (np.zeros((20, 4), dtype=np.int64), "floating-point numbers, not int64"),
        (np.array([["a"] * 4] * 20), "floating-point numbers"),
        (np.zeros((5, 4)), "at least 11 vectors"),
        (np.where(np.eye(20, 4) > 0, np.nan, 0.0), "4 NaN or infinite"),
        ([[0.0] * 4] * 20, "must be a NumPy array"),
    ],
)
def test_bad_vectors_are_refused_clearly(array, message):
    with pytest.raises(VectorInputError, match=message):
        check_vectors(array)


@pytest.mark.parametrize(
    "m, bits, method, message",
    [
        (7, 2, "kmeans", "D = 64 is not divisible by M = 7: .*1, 2, 4, 8, 16, 32, 64"),
        (0, 2, "kmeans", "M must be a whole number from 1 to D = 64"),
        (65, 2, "kmeans", "M must be a whole number"),
        (16, 0, "kmeans", "bits per code must be a whole number from 1 to 8"),
        (16, 9, "kmeans", "from 1 to 8, not 9"),
        (16, 4, "optimal", "needs M = D = 64, not M = 16"),
        (64, 4, "median", "unknown method 'median'"),
        (16, 8, "kmeans", "only 100 training vectors for 256 centroids .* at most 6 bits"),
    ],
)
def test_bad_settings_are_refused_clearly(m, bits, method, message):
    with pytest.raises(VectorInputError, match=message):
        check_settings(64, 100, m, bits, method)


def test_bad_files_are_refused_clearly(tmp_path):
    text = tmp_path / "notes.npy"
    text.write_text("not numbers")
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}] * 20, dtype=object), allow_pickle=True)
    archive = tmp_path / "archive.npy"
    with archive.open("wb") as file:
        np.savez(file, x=np.zeros((20, 4)))
    for path in (text, pickled):
        with pytest.raises(VectorInputError, match=f"{path.name} is not a readable NumPy"):
            read_npy(path)
    with pytest.raises(VectorInputError, match=r"is an \.npz archive"):
        read_npy(archive)


def test_the_command_line_contract(tmp_path):
    path = tmp_path / "vectors.npy"
    np.save(path, gaussian_mixture(count=300, dim=8))
    command = [sys.executable, "-m", "core", "quantize", str(path), "--m", "8", "--bits", "3"]
    result = subprocess.run(
        [*command, "--method", "lloyd", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    output = json.loads(result.stdout)
    assert {"mse", "bits_per_vector", "compression_ratio", "recall@10", "encode_seconds"} <= set(
        output
    )
    assert output["bits_per_vector"] == 24 and output["compression_ratio"] == 32 * 8 / 24
    assert output["method"] == "lloyd" and output["mse"] == output["mse_held_out"]
    refused = subprocess.run(
        [*command[:-4], "--m", "3", "--bits", "3"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert refused.returncode == 2
    assert "D = 8 is not divisible by M = 3" in refused.stderr


def test_a_product_quantizer_round_trips_its_own_centroids():
    books = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    quantizer = ProductQuantizer(books, "kmeans")
    codes = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(quantizer.encode(quantizer.decode(codes)), codes)
    assert (quantizer.m, quantizer.k, quantizer.sub_dim, quantizer.dim) == (2, 4, 3, 6)


def test_one_dimensional_codes_are_the_nearest_levels_even_unsorted(fashion):
    x = fashion[:, :4]
    quantizer = fit(x, 4, 3, "kmeans")  # k-means levels come in no particular order
    nearest = np.abs(x.T[:, :, None] - quantizer.codebooks[:, None, :, 0]).argmin(-1).T
    np.testing.assert_array_equal(quantizer.encode(x), nearest)
