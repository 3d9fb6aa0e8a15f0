"""Ranking metrics against ir-measures (trec_eval), their edge cases, and the top-k tie rule."""

import ir_measures
import numpy as np
import pytest
from ir_measures import RR, Qrel, R, ScoredDoc, Success, nDCG

from core.retrieval.base import top_k
from core.retrieval.metrics import PADDING, first_relevant_ranks, mrr, ndcg_at_k, recall_at_k


def reference(rankings, relevant) -> dict:
    """ir-measures on the same runs. trec_eval orders by score (ties by doc id, descending), so
    each ranking gets strictly decreasing scores: its order is exactly ours."""
    qrels = [
        Qrel(str(q), str(doc), 1)
        for q, ids in enumerate(relevant)
        for doc in (ids if isinstance(ids, set) else {ids})
    ]
    run = [
        ScoredDoc(str(q), str(doc), float(len(ranking) - rank))
        for q, ranking in enumerate(rankings)
        for rank, doc in enumerate(ranking)
        if doc != PADDING
    ]
    measures = [RR, Success @ 1, Success @ 3, Success @ 10, R @ 10, nDCG @ 10]
    return {str(m): v for m, v in ir_measures.calc_aggregate(measures, qrels, run).items()}


def ours(rankings, relevant) -> dict:
    return {
        "RR": mrr(rankings, relevant),
        "Success@1": recall_at_k(rankings, relevant, 1),
        "Success@3": recall_at_k(rankings, relevant, 3),
        "Success@10": recall_at_k(rankings, relevant, 10),
        "nDCG@10": ndcg_at_k(rankings, relevant, 10),
    }


def random_runs(seed: int, n_queries: int = 60, n_docs: int = 40, many_relevant: bool = False):
    """Random rankings of varied length (some miss the relevant documents entirely)."""
    rng = np.random.default_rng(seed)
    rankings, relevant = [], []
    for _ in range(n_queries):
        length = int(rng.integers(1, 25))
        rankings.append(rng.permutation(n_docs)[:length].tolist())
        size = int(rng.integers(1, 4)) if many_relevant else 1
        chosen = set(rng.choice(n_docs, size=size, replace=False).tolist())
        relevant.append(chosen if many_relevant else chosen.pop())
    return rankings, relevant


@pytest.mark.parametrize("many_relevant", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_agree_with_ir_measures_on_random_runs(seed, many_relevant):
    rankings, relevant = random_runs(seed, many_relevant=many_relevant)
    expected = reference(rankings, relevant)
    for name, value in ours(rankings, relevant).items():
        assert value == pytest.approx(expected[name], abs=1e-9), name
    if not many_relevant:  # with one relevant document, recall@K is the share of hits
        assert recall_at_k(rankings, relevant, 10) == pytest.approx(expected["R@10"], abs=1e-9)
    assert 0 < expected["RR"] < 1  # the runs mix hits and misses: the check is not vacuous


def test_metrics_agree_with_ir_measures_on_a_real_tfidf_run():
    from core.retrieval.corpus import load_corpus, split_queries
    from core.retrieval.registry import build_retriever

    corpus = load_corpus().subset("python-faq")
    _, evaluation = split_queries(len(corpus))
    ids, _ = (
        build_retriever("tfidf")
        .fit(corpus.answers)
        .search([corpus.questions[i] for i in evaluation], k=len(corpus))
    )
    rankings = [[doc for doc in row if doc != PADDING] for row in ids]
    expected = reference(rankings, list(evaluation))
    for name, value in ours(ids, list(evaluation)).items():
        assert value == pytest.approx(expected[name], abs=1e-9), name


def test_a_query_whose_relevant_document_is_missing_scores_zero():
    rankings = [[3, 1, 2], [5, 4], [PADDING, PADDING]]
    relevant = [1, 9, 0]
    assert first_relevant_ranks(rankings, relevant).tolist() == [2, 0, 0]
    assert mrr(rankings, relevant) == pytest.approx(0.5 / 3)
    assert recall_at_k(rankings, relevant, 1) == 0.0
    assert recall_at_k(rankings, relevant, 2) == pytest.approx(1 / 3)
    assert ndcg_at_k(rankings, relevant, 10) == pytest.approx((1 / np.log2(3)) / 3)


def test_k_larger_than_the_ranking_uses_what_was_retrieved():
    rankings = [[7, 8], [2]]
    relevant = [8, 2]
    assert recall_at_k(rankings, relevant, 1000) == 1.0
    assert ndcg_at_k(rankings, relevant, 1000) == pytest.approx((1 / np.log2(3) + 1) / 2)
    assert mrr(rankings, relevant, k=1) == 0.5  # MRR@1 cuts the first ranking's hit away


def test_ids_can_be_strings_and_relevance_can_be_several_documents():
    rankings = [["b", "a", "c"]]
    assert mrr(rankings, [{"c", "a"}]) == 0.5
    ideal = 1 + 1 / np.log2(3)
    assert ndcg_at_k(rankings, [{"c", "a"}], 3) == pytest.approx((1 / np.log2(3) + 0.5) / ideal)


@pytest.mark.parametrize(
    ("rankings", "relevant", "k", "message"),
    [
        ([[1, 2]], [1, 2], 3, "1 rankings but 2"),
        ([], [], 3, "no queries"),
        ([[1, 2]], [set()], 3, "at least one relevant"),
        ([[1, 1]], [1], 3, "same document twice"),
        ([[1, 2]], [1], 0, "positive integer"),
    ],
)
def test_bad_metric_input_is_refused_clearly(rankings, relevant, k, message):
    with pytest.raises(ValueError, match=message):
        recall_at_k(rankings, relevant, k)


def test_top_k_orders_ties_by_document_position_and_matches_a_full_stable_sort():
    scores = np.array([[0.5, 0.9, 0.5, 0.9, 0.1, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    ids, values = top_k(scores, 4)
    assert ids.tolist() == [[1, 3, 0, 2], [0, 1, 2, 3]]
    assert values[0].tolist() == [0.9, 0.9, 0.5, 0.5]
    rng = np.random.default_rng(0)
    tied = rng.integers(0, 5, size=(200, 50)).astype(np.float32)  # ties at every k-th place
    distinct = rng.standard_normal((200, 50)).astype(np.float32)  # no ties: the fast path
    for scores in (tied, distinct):
        full = np.argsort(-scores, axis=1, kind="stable")
        for k in (1, 7, 49, 50, 80):
            assert np.array_equal(top_k(scores, k)[0], full[:, :k])
