"""Russian questions searched over the whole shipped corpus (English and Russian answers mixed):
MRR and the share of top answers in Russian, per retriever, and for the hybrid with the English-
trained dense component left out of Cyrillic queries (its best mix of the other two, tuned on
the same tuning split), to see whether the English-only model hurts Russian questions.

    .venv/bin/python scripts/retrieval_by_language.py
"""

import numpy as np

from core.retrieval.corpus import split_queries
from core.retrieval.fusion import mix, relevant_ranks, simplex_grid, standardise
from core.retrieval.registry import prepared_retriever
from core.retrieval.search import shipped_corpus
from core.retrieval.text import query_script


def report(label: str, scores: np.ndarray, relevant: list[int], languages: list[str]) -> None:
    ranks = relevant_ranks(scores, np.array(relevant))
    russian_top = np.mean([languages[int(row.argmax())] == "ru" for row in scores])
    print(f"{label:<40} MRR {np.mean(1 / ranks):.4f}   top answer in Russian {russian_top:.1%}")


def main() -> None:
    corpus = shipped_corpus()
    tuning, evaluation = split_queries(len(corpus))
    russian = [i for i in evaluation if corpus.languages[i] == "ru"]
    questions = [corpus.questions[i] for i in russian]
    print(f"{len(russian)} Russian evaluation questions over all {len(corpus)} answers")
    for name in ("bm25", "tfidf-char", "dense", "hybrid"):
        retriever = prepared_retriever(name, corpus)
        report(name, retriever.score(questions), russian, corpus.languages)
    hybrid = prepared_retriever("hybrid", corpus)
    print("hybrid weights:", hybrid.named_weights())
    cyrillic = [i for i in tuning if query_script(corpus.questions[i]) == "cyrillic"]
    tuning_questions = [corpus.questions[i] for i in cyrillic]
    parts = [standardise(s) for s in hybrid.component_scores(tuning_questions)]
    names = [component.name for component in hybrid.components]
    without_dense = [w for w in simplex_grid(len(parts)) if w[names.index("dense")] == 0]

    def tuning_mrr(weights: np.ndarray) -> float:
        return float(np.mean(1 / relevant_ranks(mix(parts, weights[None, :]), np.array(cyrillic))))

    saved = hybrid.weights["cyrillic"]
    hybrid.weights["cyrillic"] = max(without_dense, key=tuning_mrr)
    scores = hybrid.score(questions)
    report("hybrid, no dense for Cyrillic queries", scores, russian, corpus.languages)
    hybrid.weights["cyrillic"] = saved  # the shared retriever goes back as it was


if __name__ == "__main__":
    main()
