"""Query latency per retriever, one question at a time, as a visitor's search runs.

    python -m benchmarks.bench_retrieval_latency [--rounds 3]

The questions are the user-style benchmark's (assets/retrieval_paraphrases.jsonl, 165), each
searched alone (k = 5) in its own collection of the shipped corpus through `core.retrieval.search`,
the function the Retrieval tab calls. Fitting is excluded (the first search of each collection
fits, untimed). A dense query's vector is kept after its first search, as the app keeps it, so
the first round of a retriever that embeds pays for the model and later rounds do not: the first
round is reported apart ("new query") from the rest ("seen query"). Printed: p50 and p95 in
milliseconds per retriever, and each one's p50 as a ratio to BM25's, measured in this one run.
"""

import argparse
import time

import numpy as np

from core.retrieval.adapted import adapted_cache, is_built
from core.retrieval.corpus import load_corpus
from core.retrieval.dense import default_cache
from core.retrieval.paraphrases import SHIPPED_QUERIES, read_questions
from core.retrieval.registry import available_retrievers
from core.retrieval.search import search

EMBEDS = {"dense", "dense-adapted", "rrf", "hybrid"}


def timed_searches(questions: list[tuple[str, str]], retriever: str) -> list[float]:
    """Milliseconds of each search, in order."""
    times = []
    for text, collection in questions:
        started = time.perf_counter()
        search(text, retriever, k=5, collection=collection)
        times.append(1000 * (time.perf_counter() - started))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    args = parser.parse_args()
    corpus = load_corpus()
    collection_of = dict(zip(corpus.ids, corpus.collections, strict=True))
    questions = [
        (question.text, collection_of[question.relevant[0]])
        for question in read_questions(SHIPPED_QUERIES, corpus)
    ]
    names = available_retrievers()
    for collection in dict.fromkeys(c for _, c in questions):  # fit every retriever, untimed
        for name in names:
            search("warm up", name, k=5, collection=collection)
    print(f"{len(questions)} questions x {args.rounds} rounds, one at a time, k = 5")
    print(f"{'retriever':<13} {'p50 ms':>8} {'p95 ms':>8} {'new query p50':>14} {'vs bm25':>8}")
    p50 = {}
    for name in ["bm25", *(name for name in names if name != "bm25")]:
        for cache in [default_cache(), *([adapted_cache()] if is_built() else [])]:
            cache.queries.clear()  # every retriever embeds its questions anew
        rounds = [timed_searches(questions, name) for _ in range(args.rounds)]
        seen = np.concatenate(rounds[1:]) if name in EMBEDS else np.concatenate(rounds)
        p50[name] = float(np.percentile(seen, 50))
        new = f"{np.percentile(rounds[0], 50):14.1f}" if name in EMBEDS else f"{'':>14}"
        print(f"{name:<13} {p50[name]:8.1f} {np.percentile(seen, 95):8.1f} {new}", end="")
        print(f" {p50[name] / p50['bm25']:8.2f}")


if __name__ == "__main__":
    main()
