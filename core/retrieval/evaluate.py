"""The evaluation protocol: per collection, answers indexed, questions asked, held-out split.

For each collection of a corpus (the shipped one has three, a user's file usually one), every
retriever is prepared on it (fitted on all answers; the hybrid tuned on the tuning split of
questions) and then asked the evaluation split's questions; each question's own answer is its
only relevant document. The rankings are full (every document the retriever scores), so MRR
sees the relevant document however low it ranks.
"""

from core.retrieval.corpus import Corpus, split_queries
from core.retrieval.metrics import metric_table
from core.retrieval.registry import (
    available_retrievers,
    check_retriever,
    prepared_retriever,
)


def evaluate_collection(corpus: Corpus, names: list[str], label: str) -> dict:
    """The metrics table of each named retriever on one collection's evaluation split."""
    tuning, evaluation = split_queries(len(corpus))
    queries = [corpus.questions[i] for i in evaluation]
    report = {
        "collection": label,
        "language": ",".join(sorted(set(corpus.languages) - {""})),
        "documents": len(corpus),
        "tuning_queries": len(tuning),
        "evaluation_queries": len(evaluation),
        "metrics": {},
    }
    for name in names:
        retriever = prepared_retriever(name, corpus)
        ids, _ = retriever.search(queries, k=len(corpus))
        report["metrics"][name] = metric_table(ids, evaluation)
        if hasattr(retriever, "named_weights"):
            report["hybrid_weights"] = retriever.named_weights()
    return report


def evaluate_corpus(
    corpus: Corpus, names: list[str] | None = None, collection: str | None = None
) -> list[dict]:
    """One report per collection (or only the named one)."""
    names = available_retrievers() if names is None else names
    for name in names:
        check_retriever(name)
    chosen = [collection] if collection else corpus.collection_names()
    return [evaluate_collection(corpus.subset(name), names, name) for name in chosen]
