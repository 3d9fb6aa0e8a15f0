"""The A-vs-B significance tests against scipy's Wilcoxon and permutation tests."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.metrics import significance
from core.metrics.inputs import MetricInputError
from core.metrics.ranking import ndcg_at_k

EVERY_SIGN_PATTERN = stats.PermutationMethod(n_resamples=np.inf)


def scipy_permutation(d: np.ndarray) -> float:
    return stats.permutation_test(
        (d,),
        lambda x, axis: np.sum(x, axis=axis),
        permutation_type="samples",
        alternative="greater",
        n_resamples=np.inf,
        vectorized=True,
    ).pvalue


@pytest.mark.parametrize("n", [1, 3, 6, 9, 12, 15])
def test_wilcoxon_without_ties_equals_scipys_exact_test(n):
    d = np.random.default_rng(n).normal(0.3, 1, n)
    ours = significance.wilcoxon_signed_rank(d)
    reference = stats.wilcoxon(d, alternative="greater", method="exact")
    assert ours.statistic == reference.statistic
    assert ours.p_value == pytest.approx(reference.pvalue, abs=1e-12)
    assert ours.method.startswith("exact")


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt"])
@pytest.mark.parametrize("seed", range(5))
def test_wilcoxon_with_ties_and_zeros_equals_scipys_full_enumeration(zero_method, seed):
    rng = np.random.default_rng(seed)
    d = rng.integers(-3, 4, int(rng.integers(4, 12))).astype(float)  # graded: ties and zeros
    if not d.any():
        d[0] = 1.0
    ours = significance.wilcoxon_signed_rank(d, zero_method)
    reference = stats.wilcoxon(
        d, zero_method=zero_method, alternative="greater", method=EVERY_SIGN_PATTERN
    )
    assert ours.p_value == pytest.approx(reference.pvalue, abs=1e-12)


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt"])
def test_wilcoxon_for_many_units_equals_scipys_normal_approximation(zero_method):
    d = np.random.default_rng(0).integers(-3, 4, 800).astype(float)
    ours = significance.wilcoxon_signed_rank(d, zero_method)
    reference = stats.wilcoxon(
        d, zero_method=zero_method, alternative="greater", method="asymptotic"
    )
    assert ours.method.startswith("normal approximation")
    assert ours.p_value == pytest.approx(reference.pvalue, abs=1e-12)


@pytest.mark.parametrize("n", [2, 4, 7, 10, 13, 16])
def test_permutation_test_equals_scipys_exact_permutation_test(n):
    rng = np.random.default_rng(100 + n)
    d = np.round(rng.normal(0.2, 1, n), 1)  # rounded: ties among the sums
    d[: n // 4] = 0.0
    ours = significance.paired_permutation(d)
    assert ours.p_value == pytest.approx(scipy_permutation(d), abs=1e-12)
    assert ours.method == f"exact: all 2^{n} sign patterns"


def test_permutation_p_value_is_exact_for_a_hand_example():
    """d = (1, 2, 3): of the 8 sign patterns only (+, +, +) reaches the observed sum 6, so
    p = 1/8; d = (1, -1): the sums 0, 2, -2, 0 reach 0 three times in four."""
    assert significance.paired_permutation(np.array([1.0, 2.0, 3.0])).p_value == 1 / 8
    assert significance.paired_permutation(np.array([1.0, -1.0])).p_value == 3 / 4


def test_monte_carlo_permutation_for_many_units_is_close_to_the_exact_law():
    d = np.random.default_rng(5).normal(0.15, 1, 60)
    ours = significance.paired_permutation(d)
    assert ours.method.startswith("Monte Carlo")
    normal = stats.norm.sf(d.sum() / np.sqrt(np.sum(d**2)))  # the sign-flip CLT
    assert ours.p_value == pytest.approx(normal, abs=0.02)


def test_bootstrap_agrees_with_the_permutation_test_for_many_units():
    d = np.random.default_rng(6).normal(0.2, 1, 80)
    bootstrap, (low, high) = significance.bootstrap_difference(d)
    assert bootstrap.p_value == pytest.approx(significance.paired_permutation(d).p_value, abs=0.03)
    assert low < d.sum() < high


def test_no_difference_at_all_gives_p_one():
    zeros = np.zeros(5)
    assert significance.wilcoxon_signed_rank(zeros).p_value == 1.0
    assert significance.paired_permutation(zeros).p_value == 1.0


def test_per_position_differences_add_up_to_the_ndcg_difference():
    comparison = significance.compare_engines(significance.EXAMPLE, alpha=0.05)
    assert comparison.unit == "position"
    row = comparison.ndcg.iloc[0]
    assert comparison.units["d"].sum() == pytest.approx(row["ndcg_a"] - row["ndcg_b"])
    d = comparison.units["d"].to_numpy()
    tests = {t.test: t for t in comparison.tests}
    reference = stats.wilcoxon(d, alternative="greater", method=EVERY_SIGN_PATTERN).pvalue
    assert tests["Wilcoxon signed-rank"].p_value == pytest.approx(reference, abs=1e-12)
    assert tests["paired permutation (sign flip)"].p_value == pytest.approx(scipy_permutation(d))
    decisions = comparison.table()["decision"]
    assert all(
        decision.startswith("reject") == (p < 0.05)
        for decision, p in zip(decisions, comparison.table()["p_value (A > B)"], strict=True)
    )


def test_the_ideal_pool_counts_a_result_shared_by_both_engines_once():
    table = pd.DataFrame(
        {"a_result": ["x", "y"], "a_grade": [3, 0], "b_result": ["z", "x"], "b_grade": [1, 3]}
    )
    comparison = significance.compare_engines(table)
    pool = np.array([3, 0, 1])  # x counted once
    assert comparison.ndcg.iloc[0]["ndcg_a"] == pytest.approx(
        ndcg_at_k(np.array([3, 0]), 10, ideal=pool)
    )
    assert comparison.ndcg.iloc[0]["ndcg_b"] == pytest.approx(
        ndcg_at_k(np.array([1, 3]), 10, ideal=pool)
    )


def test_per_query_units_and_a_note_when_alpha_is_out_of_reach():
    rows = []
    for q, grades in enumerate([(3, 2, 0), (2, 2, 1), (1, 0, 0)]):
        for rank, grade in enumerate(grades, start=1):
            rows.append({"query": f"q{q}", "rank": rank, "a_grade": grade, "b_grade": 0})
    comparison = significance.compare_engines(pd.DataFrame(rows), alpha=0.05)
    assert comparison.unit == "query" and len(comparison.units) == 3
    assert {t.test: t.p_value for t in comparison.tests}["paired permutation (sign flip)"] == 1 / 8
    assert any("cannot go below p = 1/2^3 = 0.125" in note for note in comparison.notes)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"a_grade": [1, 5], "b_grade": [0, 0]}), r"a_grade must be whole grades"),
        (pd.DataFrame({"a_grade": [1, "x"], "b_grade": [0, 0]}), r"'x' is not \(row 2\)"),
        (pd.DataFrame({"a_grade": [1, None], "b_grade": [0, 0]}), r"empty cells \(row 2\)"),
        (pd.DataFrame({"a_grade": [1]}), "needs the columns a_grade, b_grade"),
        (pd.DataFrame({"rank": [1, 1], "a_grade": [1, 2], "b_grade": [0, 0]}), "once each"),
        (pd.DataFrame({"a_grade": [], "b_grade": []}), "no rows"),
    ],
)
def test_bad_judgments_are_explained(table, message):
    with pytest.raises(MetricInputError, match=message):
        significance.compare_engines(table)


def test_a_bad_significance_level_is_refused():
    with pytest.raises(MetricInputError, match=r"significance level must be in \(0, 1\)"):
        significance.compare_engines(significance.EXAMPLE, alpha=5)
