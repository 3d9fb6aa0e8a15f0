"""Product quantization: split D dimensions into M sub-vectors, one codebook of K = 2^bits each.

A vector's code is M small integers, one per sub-space: the index of the nearest centroid of
that sub-space's codebook. Decoding concatenates the chosen centroids. Search is asymmetric
(ADC): the query stays exact, and its squared distance to a coded vector is the sum over
sub-spaces of a look-up table entry ||q_m - c_m,code_m||^2, built once per query.

`fit` learns the codebooks. "kmeans" runs k-means (k-means++ start, Lloyd steps) in every
sub-space, the general PQ of Jégou et al. With M = D each sub-space is one component, and the
one-dimensional methods of `core.pq.scalar` ("optimal", "lloyd", "uniform") choose each
component's levels instead.
"""

from dataclasses import dataclass

import numba
import numpy as np

from core.pq.scalar import SCALAR_METHODS, thresholds

KMEANS_ITERATIONS = 25  # as faiss's default niter
METHODS = ("kmeans", *SCALAR_METHODS)
QUERY_CHUNK = 256  # queries per look-up-table block in `search`


@dataclass(frozen=True)
class ProductQuantizer:
    """Codebooks of shape (M, K, D / M): centroid k of sub-space m is codebooks[m, k]."""

    codebooks: np.ndarray
    method: str

    @property
    def m(self) -> int:
        return self.codebooks.shape[0]

    @property
    def k(self) -> int:
        return self.codebooks.shape[1]

    @property
    def sub_dim(self) -> int:
        return self.codebooks.shape[2]

    @property
    def dim(self) -> int:
        return self.m * self.sub_dim

    def split(self, vectors: np.ndarray) -> np.ndarray:
        """(N, D) vectors as (M, N, D / M) sub-vectors."""
        return np.asarray(vectors, np.float64).reshape(len(vectors), self.m, -1).transpose(1, 0, 2)

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """(N, M) codes: in each sub-space, the index of the nearest centroid."""
        dtype = np.uint8 if self.k <= 256 else np.uint16
        nearest = _nearest_level if self.sub_dim == 1 else _nearest
        parts = zip(self.split(vectors), self.codebooks, strict=True)
        return np.stack([nearest(part, book) for part, book in parts], axis=1).astype(dtype)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(N, D) reconstructions: the chosen centroids side by side."""
        parts = [book[column] for book, column in zip(self.codebooks, codes.T, strict=True)]
        return np.concatenate(parts, axis=1)

    def distance_tables(self, queries: np.ndarray) -> np.ndarray:
        """(Q, M, K) squared distances from each query's sub-vectors to every centroid."""
        parts = self.split(queries)  # (M, Q, D / M)
        cross = np.einsum("mqd,mkd->qmk", parts, self.codebooks)
        query_norms = (parts**2).sum(-1).T[:, :, None]
        return query_norms - 2 * cross + (self.codebooks**2).sum(-1)[None]

    def search(
        self, queries: np.ndarray, codes: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> np.ndarray:
        """(Q, k) indices of the coded vectors nearest to each query by asymmetric distance.

        exclude[q] (optional) is a row index left out for query q (itself, when the queries
        are the coded vectors). Ties keep the lower index first.
        """
        if not 1 <= k < len(codes) + (exclude is None):
            raise ValueError(f"k must be between 1 and the number of other vectors, not {k}")
        found = []
        for start in range(0, len(queries), QUERY_CHUNK):
            tables = self.distance_tables(queries[start : start + QUERY_CHUNK])
            distances = _table_sums(tables, codes)
            if exclude is not None:
                distances[np.arange(len(tables)), exclude[start : start + QUERY_CHUNK]] = np.inf
            found.append(top_k(distances, k))
        return np.concatenate(found)


def fit(vectors: np.ndarray, m: int, bits: int, method: str = "kmeans", seed: int = 0):
    """A `ProductQuantizer` with M sub-spaces and 2^bits centroids each, learnt on `vectors`.

    Arguments are checked by the caller (`core.pq.evaluate.check_settings`); the scalar methods
    need M = D.
    """
    x = np.asarray(vectors, np.float64)
    k = 2**bits
    if method == "kmeans":
        rng = np.random.default_rng(seed)
        parts = x.reshape(len(x), m, -1).transpose(1, 0, 2)
        books = np.stack([kmeans(part, k, rng) for part in parts])
    else:
        level_sets = [SCALAR_METHODS[method](column, k) for column in x.T]
        books = np.stack([_pad(levels, k) for levels in level_sets])[:, :, None]
    return ProductQuantizer(books, method)


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(k, d) centroids: k-means++ seeding, then Lloyd steps until no point changes cell.

    A centroid left with no points keeps its place.
    """
    centroids = _kmeans_plus_plus(points, k, rng)
    labels = None
    for _ in range(KMEANS_ITERATIONS):
        new_labels = _nearest(points, centroids)
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, points)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def top_k(distances: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the k smallest distances, nearest first."""
    candidates = np.argpartition(distances, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(distances, candidates, axis=1), axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)


@numba.njit(cache=True)
def _table_sums(tables: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(Q, N) asymmetric distances: for each query, the sum of M table entries per code."""
    distances = np.zeros((tables.shape[0], codes.shape[0]))
    for query in range(tables.shape[0]):
        for row in range(codes.shape[0]):
            total = 0.0
            for sub_space in range(codes.shape[1]):
                total += tables[query, sub_space, codes[row, sub_space]]
            distances[query, row] = total
    return distances


def _nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for each point."""
    distances = (
        (centroids**2).sum(1)[None, :] - 2 * points @ centroids.T + (points**2).sum(1)[:, None]
    )
    return distances.argmin(axis=1)


def _nearest_level(points: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """`_nearest` in one dimension: compare with the thresholds between the sorted levels."""
    order = np.argsort(levels[:, 0], kind="stable")
    cells = np.searchsorted(thresholds(levels[order, 0]), points[:, 0])
    return order[cells]


def _kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k starting centroids, each drawn with probability proportional to the squared distance
    to the nearest one already chosen (uniformly once every point coincides with one)."""
    chosen = [rng.integers(len(points))]
    closest = ((points - points[chosen[0]]) ** 2).sum(1)
    for _ in range(k - 1):
        total = closest.sum()
        probabilities = closest / total if total > 0 else None
        chosen.append(rng.choice(len(points), p=probabilities))
        closest = np.minimum(closest, ((points - points[chosen[-1]]) ** 2).sum(1))
    return points[chosen].copy()


def _pad(levels: np.ndarray, k: int) -> np.ndarray:
    """K levels from fewer (a component with fewer distinct values): repeat the last one."""
    return np.concatenate([levels, np.full(k - levels.size, levels[-1])])
