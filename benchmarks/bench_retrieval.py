"""Queries per second of each retriever on a corpus scaled to 10,000+ documents.

    python -m benchmarks.bench_retrieval [--documents 10000] [--queries 1000]

The documents are real FAQ text at scale: every paragraph of the shipped corpus's answers,
then pairs of paragraphs drawn at random (seed 0) until there are --documents of them. The
queries are the corpus's questions, drawn with replacement. Every retriever answers the same
batch with k = 10; times are wall clock on this machine, fitting excluded.

Printed ratios: TF-IDF's batched sparse search against a plain Python loop over documents
(measured on a slice of the queries, same vectors) and against BM25 from `bm25s` (when
installed) and ours. Goal: 1,000 queries on 10,000 documents in well under a second with TF-IDF.
Dense retrieval is measured as its two parts: MiniLM encoding of the queries (CPU or GPU) and
faiss's exact search over 10,000 unit vectors of MiniLM's size (embedding 10,000 synthetic
documents would take the model an hour on two cores and says nothing about search).
"""

import argparse
import time
from collections.abc import Callable

import faiss
import numpy as np

from core.retrieval.base import top_k
from core.retrieval.corpus import load_corpus
from core.retrieval.dense import encode
from core.retrieval.fusion import mix, standardise
from core.retrieval.registry import build_retriever
from core.retrieval.text import tokenize

K = 10
LOOP_QUERIES = 20  # the plain loop is slow: it is timed on this many queries and scaled


def scaled_documents(n: int, seed: int = 0) -> list[str]:
    paragraphs = [p for answer in load_corpus().answers for p in answer.split("\n\n") if p.strip()]
    rng = np.random.default_rng(seed)
    documents = list(paragraphs)
    while len(documents) < n:
        first, second = rng.choice(len(paragraphs), size=2, replace=False)
        documents.append(paragraphs[first] + "\n\n" + paragraphs[second])
    return documents[:n]


def seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def plain_loop_search(retriever, queries: list[str]) -> list[list[int]]:
    """The same TF-IDF cosine, one query and one document at a time, in pure Python."""
    columns = retriever.matrix.tocsc()  # documents as columns of (term -> weight)
    documents = [
        dict(zip(columns.indices[a:b], columns.data[a:b], strict=True))
        for a, b in zip(columns.indptr[:-1], columns.indptr[1:], strict=True)
    ]
    results = []
    for row in retriever.vectorizer.transform(queries):
        query = dict(zip(row.indices, row.data, strict=True))
        scores = [sum(w * doc.get(t, 0.0) for t, w in query.items()) for doc in documents]
        results.append(sorted(range(len(scores)), key=lambda i: -scores[i])[:K])
    return results


def dense_parts(queries: list[str], n_documents: int) -> tuple[float, float]:
    """Seconds to encode the queries with MiniLM (timed on up to 200 distinct ones, scaled) and
    to search n_documents unit vectors exactly with faiss."""
    unique = list(dict.fromkeys(queries))[:200]
    encode(unique[:8])  # loads the model: not part of the timing
    encoding = seconds(lambda: encode(unique)) * len(queries) / len(unique)
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((n_documents, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(384)
    index.add(vectors)
    return encoding, seconds(lambda: index.search(vectors[: len(queries)], K))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    corpus = load_corpus()
    documents = scaled_documents(args.documents)
    rng = np.random.default_rng(1)
    queries = [corpus.questions[i] for i in rng.integers(0, len(corpus), args.queries)]
    print(f"{len(documents):,} documents, {len(queries):,} queries, k = {K}")
    print(f"{'retriever':<22} {'fit s':>7} {'search s':>9} {'queries/s':>10}")

    timings = {}
    fitted = {}
    for name in ("tfidf", "tfidf-char", "bm25"):
        retriever = build_retriever(name)
        fit = seconds(lambda r=retriever: r.fit(documents))
        retriever.search(queries[:10], K)  # warm-up
        timings[name] = seconds(lambda r=retriever: r.search(queries, K))
        fitted[name] = retriever
        print(f"{name:<22} {fit:7.2f} {timings[name]:9.3f} {len(queries) / timings[name]:10.0f}")

    tfidf = fitted["tfidf"]
    sample = queries[:LOOP_QUERIES]
    loop = seconds(lambda: plain_loop_search(tfidf, sample)) * len(queries) / len(sample)
    same = plain_loop_search(tfidf, sample[:3])
    assert [row[:1] for row in same] == tfidf.search(sample[:3], K)[0][:, :1].tolist()
    print(f"{'tfidf, plain loop':<22} {'':>7} {loop:9.1f} {len(queries) / loop:10.1f}  (scaled)")

    try:
        import bm25s
    except ImportError:
        bm25s = None
        print("bm25s is not installed: pip install bm25s for that comparison")
    if bm25s is not None:
        reference = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        tokens = [tokenize(doc) for doc in documents]
        fit = seconds(lambda: reference.index(tokens, show_progress=False))
        query_tokens = [
            [t for t in tokenize(q) if t in reference.vocab_dict] or [""] for q in queries
        ]
        timings["bm25s"] = seconds(
            lambda: reference.retrieve(query_tokens, k=K, show_progress=False, n_threads=1)
        )
        print(
            f"{'bm25s (lucene)':<22} {fit:7.2f} {timings['bm25s']:9.3f} "
            f"{len(queries) / timings['bm25s']:10.0f}"
        )

    encoding, search = dense_parts(queries, len(documents))
    print(f"{'dense: MiniLM encode':<22} {'':>7} {encoding:9.2f} {len(queries) / encoding:10.0f}")
    print(f"{'dense: faiss search':<22} {'':>7} {search:9.3f} {len(queries) / search:10.0f}")
    scores = [rng.standard_normal((len(queries), len(documents)), np.float32) for _ in range(3)]
    fuse = seconds(lambda: top_k(mix([standardise(s) for s in scores], np.full((1, 3), 1 / 3)), K))
    hybrid = timings["bm25"] + timings["tfidf-char"] + encoding + search + fuse
    print(f"{'hybrid (parts summed)':<22} {'':>7} {hybrid:9.2f} {len(queries) / hybrid:10.0f}")

    print("\nratios (batch of queries, same documents)")
    print(f"  TF-IDF batched vs plain Python loop: {loop / timings['tfidf']:8.0f}x faster")
    print(f"  TF-IDF vs our BM25:                  {timings['bm25'] / timings['tfidf']:8.2f}x")
    if "bm25s" in timings:
        print(f"  TF-IDF vs bm25s:                     {timings['bm25s'] / timings['tfidf']:8.2f}x")
        print(f"  our BM25 vs bm25s:                   {timings['bm25s'] / timings['bm25']:8.2f}x")
    goal = "met" if timings["tfidf"] < 1.0 else "NOT met"
    print(f"  goal (TF-IDF, 1,000 queries x 10,000 documents < 1 s): {goal}")


if __name__ == "__main__":
    main()
