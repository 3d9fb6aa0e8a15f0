"""Which rule should choose the hybrid's weights? Leave-one-out over the tuning questions only.

    .venv/bin/python scripts/hybrid_tuning_rules.py

For each collection, on both protocols (the FAQ's own questions against answers; the questions
users type against whole entries), the hybrid's three components score the tuning questions;
every rule then chooses weights on all tuning questions but one and is scored by the reciprocal
rank of the one left out. No held-out question is read. Rules: the single best grid point (the
first in grid order), the centre of the points within 0.02 or 0.05 MRR of the best, the best
after a penalty on the squared distance from equal weights, and equal weights. The result chose
`core.retrieval.fusion.NEAR_BEST` (docs/retrieval.md).
"""

from collections.abc import Callable
from functools import partial

import numpy as np

from core.retrieval.corpus import Corpus, as_entries, load_corpus, split_queries
from core.retrieval.fusion import mix, near_best_index, relevant_ranks, simplex_grid, standardise
from core.retrieval.paraphrases import SHIPPED_QUERIES, read_questions, split_of
from core.retrieval.registry import build_retriever

GRID = simplex_grid(3)
EQUAL = np.full(3, 1 / 3)
Rule = Callable[[np.ndarray], int]  # mean reciprocal rank per grid point -> chosen point


def best(mrr: np.ndarray) -> int:
    return int(np.argmax(mrr))


def shrunk(mrr: np.ndarray, penalty: float) -> int:
    return int(np.argmax(mrr - penalty * ((GRID - EQUAL) ** 2).sum(axis=1)))


def equal(mrr: np.ndarray) -> int:
    return int(np.argmin(((GRID - EQUAL) ** 2).sum(axis=1)))


RULES: dict[str, Rule] = {
    "best point": best,
    "centre 0.02": partial(near_best_index, GRID, tolerance=0.02),
    "centre 0.05": partial(near_best_index, GRID, tolerance=0.05),
    "shrink 0.02": partial(shrunk, penalty=0.02),
    "shrink 0.1": partial(shrunk, penalty=0.1),
    "equal": equal,
}


def leave_one_out(reciprocal_ranks: np.ndarray) -> dict[str, float]:
    """Per rule: the mean reciprocal rank of each question under the weights the rule chose
    on the other questions (`reciprocal_ranks`: grid points x questions)."""
    n = reciprocal_ranks.shape[1]
    scores = {}
    for name, rule in RULES.items():
        left_out = []
        for question in range(n):
            others = reciprocal_ranks[:, np.arange(n) != question]
            left_out.append(reciprocal_ranks[rule(others.mean(axis=1)), question])
        scores[name] = float(np.mean(left_out))
    return scores


def tuning_set(corpus: Corpus, collection: str, typed: bool) -> tuple[list[str], list, np.ndarray]:
    """(documents, tuning questions, their relevant documents) of one collection."""
    part = corpus.subset(collection)
    if not typed:
        tuning, _ = split_queries(len(part))
        return list(part.answers), [part.questions[i] for i in tuning], tuning
    position = {doc_id: i for i, doc_id in enumerate(part.ids)}
    mine = [q for q in read_questions(SHIPPED_QUERIES, corpus) if q.relevant[0] in position]
    tuning, _ = split_of(mine)
    targets = np.array([position[mine[i].relevant[0]] for i in tuning])
    return list(as_entries(part).answers), [mine[i].text for i in tuning], targets


def main() -> None:
    corpus = load_corpus()
    print(f"{'protocol':<9} {'collection':<14} {'n':>3} " + " ".join(f"{r:>11}" for r in RULES))
    for typed in (False, True):
        for collection in corpus.collection_names():
            documents, questions, targets = tuning_set(corpus, collection, typed)
            components = [
                build_retriever(n).fit(documents) for n in ("bm25", "tfidf-char", "dense")
            ]
            parts = [standardise(component.score(questions)) for component in components]
            reciprocal = np.array(
                [1.0 / relevant_ranks(mix(parts, weights[None, :]), targets) for weights in GRID]
            )
            scores = leave_one_out(reciprocal)
            name = "typed" if typed else "own"
            print(
                f"{name:<9} {collection:<14} {len(questions):>3} "
                + " ".join(f"{scores[r]:>11.3f}" for r in RULES),
                flush=True,
            )


if __name__ == "__main__":
    main()
