"""Searching a question-answer corpus, and evaluating every retriever on it.

`search` and `evaluate` are what the Retrieval tab and `dlstudio search` call. The corpus is the
shipped FAQ corpus unless a CSV / JSONL file (or a `Corpus`) is given; a loaded file is kept for
the next call. Both return plain JSON-able dicts:
  search:   {"query", "retriever", "corpus", "collection", "hits": [{"rank", "id", "score",
             "question", "answer", "collection"}], "note"}; "note" says why there are no hits
  evaluate: {"corpus", "protocol", "collections": [{"collection", "language", "documents",
             "tuning_queries", "evaluation_queries", "metrics": {NAME: {"mrr", "recall@1",
             "recall@3", "recall@10", "ndcg@10"}}, "hybrid_weights"?}]}
"""

import functools
from pathlib import Path

from core.retrieval.corpus import TUNE_FRACTION, Corpus, load_corpus
from core.retrieval.evaluate import evaluate_corpus
from core.retrieval.expiring import ExpiringLRU
from core.retrieval.paraphrases import PROTOCOL as PARAPHRASE_PROTOCOL
from core.retrieval.paraphrases import evaluate_paraphrases
from core.retrieval.registry import (
    available_retrievers,
    check_retriever,
    prepared_retriever,
)
from core.retrieval.text import check_query

DEFAULT_RETRIEVER = "hybrid"
MAX_K = 100
KEPT_FILES = 4  # corpus files kept loaded
PROTOCOL = (
    f"answers are the documents, questions the queries, a question's own answer its only "
    f"relevant document; {TUNE_FRACTION:.0%} of each collection's questions (seed 0) tune the "
    f"hybrid, the other {1 - TUNE_FRACTION:.0%} give every number; full rankings; ties: the "
    f"earlier document first; lexical retrievers rank only documents sharing a term"
)
NO_MATCH = (
    "No answer shares a word with the query: it has only stop words, or words this corpus "
    "never uses. Try other words, or the dense or hybrid retriever."
)


@functools.cache
def shipped_corpus() -> Corpus:
    return load_corpus()


loaded_files: ExpiringLRU[Corpus] = ExpiringLRU(KEPT_FILES)


def cached_corpus(path: str | None) -> Corpus:
    """The corpus at `path` (None: the shipped one, kept for good), loaded once while used."""
    if path is None:
        return shipped_corpus()
    corpus = loaded_files.get(path)
    if corpus is None:
        corpus = load_corpus(path)
        loaded_files.put(path, corpus)
    return corpus


def prepare(corpus: Corpus) -> None:
    """Fit (and tune) every retriever on a visitor's corpus now, in the event that loads it:
    its answers are embedded in the heavy worker, and its searches then embed only the query."""
    for name in available_retrievers():
        prepared_retriever(name, corpus)


def search(
    query: str,
    retriever: str = DEFAULT_RETRIEVER,
    k: int = 5,
    corpus: Corpus | str | Path | None = None,
    collection: str | None = None,
) -> dict:
    """The top-k answers for one question (see the module docstring for the result's shape)."""
    query = check_query(query)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
    check_retriever(retriever)
    if not isinstance(corpus, Corpus):
        corpus = cached_corpus(None if corpus is None else str(corpus))
    corpus = corpus.subset(collection)
    ids, scores = prepared_retriever(retriever, corpus).search([query], k)
    hits = [
        {
            "rank": rank,
            "id": corpus.ids[doc],
            "score": round(float(score), 6),
            "question": corpus.questions[doc],
            "answer": corpus.answers[doc],
            "collection": corpus.collections[doc],
        }
        for rank, (doc, score) in enumerate(zip(ids[0], scores[0], strict=True), start=1)
        if doc >= 0
    ]
    return {
        "query": query,
        "retriever": retriever,
        "corpus": corpus.name,
        "collection": collection,
        "hits": hits,
        "note": None if hits else NO_MATCH,
    }


def evaluate(
    retriever: str | None = None,
    corpus: Corpus | str | Path | None = None,
    collection: str | None = None,
    queries: str | Path | None = None,
) -> dict:
    """Every retriever's (or the named one's) metrics on each collection's evaluation split:
    of the corpus's own questions, or, with a `queries` file, of user-style questions asked
    against whole entries (`core.retrieval.paraphrases`)."""
    if not isinstance(corpus, Corpus):
        corpus = cached_corpus(None if corpus is None else str(corpus))
    names = None if retriever is None else [retriever]
    if queries is not None:
        reports = evaluate_paraphrases(corpus, queries, names, collection)
        return {"corpus": corpus.name, "protocol": PARAPHRASE_PROTOCOL, "collections": reports}
    reports = evaluate_corpus(corpus, names, collection)
    return {"corpus": corpus.name, "protocol": PROTOCOL, "collections": reports}
