"""Retrieval tab (not built yet)."""

from tabs.pending import pending

TITLE = "Retrieval"


def build() -> None:
    pending(
        "Question search over a real FAQ corpus with TF-IDF, BM25 and dense retrievers, "
        "with their MRR and Recall@K."
    )
