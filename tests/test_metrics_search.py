"""Ranking metrics, whole-page metrics and labeling quality, against references and simulations."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import dcg_score, ndcg_score

from core.metrics import aggregation, agreement, labeling, page, ranking
from core.metrics.crowd import simulate_crowd
from core.metrics.inputs import MetricInputError


def as_scores(n: int) -> np.ndarray:
    return np.arange(n, 0, -1)[None, :]  # strictly decreasing: the list's own order


@pytest.mark.parametrize("seed", range(30))
def test_dcg_and_ndcg_match_sklearn_for_both_gains(seed):
    rng = np.random.default_rng(seed)
    grades = rng.integers(0, 4, int(rng.integers(2, 15)))  # scikit-learn wants 2 or more
    k = int(rng.integers(1, 12))
    scores = as_scores(len(grades))
    linear = dcg_score(grades[None, :], scores, k=k)
    assert ranking.dcg_at_k(grades, k, "linear") == pytest.approx(linear, abs=1e-12)
    exponential = dcg_score((2.0**grades - 1)[None, :], scores, k=k)
    assert ranking.dcg_at_k(grades, k) == pytest.approx(exponential, abs=1e-12)
    reference = ndcg_score((2.0**grades - 1)[None, :], scores, k=k)
    assert ranking.ndcg_at_k(grades, k) == pytest.approx(reference, abs=1e-12)


def test_precision_reciprocal_rank_and_mrr_by_hand():
    grades = np.array([0, 0, 2, 1, 0])
    assert ranking.precision_at_k(grades, 3) == pytest.approx(1 / 3)
    assert ranking.precision_at_k(grades, 10) == pytest.approx(2 / 10)  # missing = irrelevant
    assert ranking.precision_at_k(grades, 5, relevant_from=2) == pytest.approx(1 / 5)
    assert ranking.reciprocal_rank(grades) == pytest.approx(1 / 3)
    assert ranking.mean_reciprocal_rank([grades, np.array([1]), np.array([0])]) == pytest.approx(
        (1 / 3 + 1 + 0) / 3
    )


@pytest.mark.parametrize("seed", range(10))
def test_err_equals_the_cascade_enumerated_outcome_by_outcome(seed):
    grades = np.random.default_rng(seed).integers(0, 4, 7)
    satisfy = (2.0**grades - 1) / 8
    expected = 0.0
    for outcome in itertools.product([0, 1], repeat=len(grades)):  # who would satisfy the user
        probability = np.prod([p if o else 1 - p for p, o in zip(satisfy, outcome, strict=True)])
        if any(outcome):
            expected += probability / (outcome.index(1) + 1)
    assert ranking.err(grades) == pytest.approx(expected, abs=1e-12)


def test_ndcg_against_a_pool_and_with_nothing_relevant():
    assert ranking.ndcg_at_k(np.array([0, 0]), 2) == 0.0  # scikit-learn's convention
    pooled = ranking.ndcg_at_k(np.array([1, 0]), 2, ideal=np.array([3, 1, 0, 0]))
    assert pooled == pytest.approx(1 / (7 + 1 / np.log2(3)))  # ideal: grades 3 then 1
    assert pooled < ranking.ndcg_at_k(np.array([1, 0]), 2)


def test_grades_outside_the_scale_are_explained():
    with pytest.raises(MetricInputError, match=r"whole grades from 0 to 3: found 4 \(row 2\)"):
        ranking.parse_grades([1, 4, 0])


def simulate_page_users(table: pd.DataFrame, model: page.UserModel, users: int, seed: int = 0):
    """The user model played out user by user, independently of the closed forms."""
    parsed = page.parse_page(table, model.max_grade)
    tops = np.r_[0.0, np.cumsum(parsed.heights)[:-1]]
    patience = model.persistence ** (tops / model.screen_px)
    keep_going = patience / np.r_[1.0, patience[:-1]]  # P(go on to i | came to i - 1)
    satisfy = (2.0**parsed.grades - 1) / 2.0**model.max_grade
    costs = page.element_costs(parsed, model)
    on_page = np.array([page.ELEMENT_TYPES[t].answers_on_page for t in parsed.types])
    rng = np.random.default_rng(seed)
    success = good = 0
    success_time, session_time = [], []
    for _ in range(users):
        spent, done = 0.0, False
        for i in range(len(satisfy)):
            if rng.random() >= keep_going[i]:
                break
            spent += costs[i]
            if rng.random() < satisfy[i]:
                done = True
                success += 1
                good += on_page[i]
                success_time.append(spent)
                break
        session_time.append(spent + (0.0 if done else model.reformulate_s))
    return success / users, good / users, np.mean(success_time), np.mean(session_time)


def test_page_metrics_equal_a_simulation_of_the_user_model():
    table = page.EXAMPLE_PAGE.copy()
    table.loc[0, "grade"] = 1  # a weaker answer, so users go further down
    model = page.UserModel(persistence=0.6)
    closed = page.page_metrics(table, model)
    users = 40_000
    success, good, to_success, session = simulate_page_users(table, model, users)
    se = np.sqrt(success * (1 - success) / users)
    assert closed["success"] == pytest.approx(success, abs=4 * se)
    assert closed["good_abandonment"] == pytest.approx(good, abs=4 * se)
    assert closed["bad_abandonment"] == pytest.approx(1 - closed["success"])
    assert closed["time_to_success_s"] == pytest.approx(to_success, rel=0.03)
    assert closed["session_time_s"] == pytest.approx(session, rel=0.03)


def test_alpha_ndcg_by_hand_and_reducing_to_ndcg():
    intents = [{"a"}, {"a"}, {"b"}]
    dcg = 1 + 0.5 / np.log2(3) + 1 / 2
    ideal = 1 + 1 / np.log2(3) + 0.5 / 2  # greedy: a, b, then the second a
    assert page.alpha_ndcg(intents, alpha=0.5, k=3) == pytest.approx(dcg / ideal)
    relevant = np.array([0, 1, 1, 0, 1])
    single = [{"x"} if r else set() for r in relevant]
    reference = ndcg_score(relevant[None, :], as_scores(5), k=5)
    assert page.alpha_ndcg(single, alpha=0.0, k=5) == pytest.approx(reference)


def test_bad_pages_are_explained():
    bad_type = page.EXAMPLE_PAGE.assign(type=["banner", *page.EXAMPLE_PAGE["type"][1:]])
    with pytest.raises(MetricInputError, match="type 'banner' \\(row 1\\) is not one of"):
        page.page_metrics(bad_type)
    with pytest.raises(MetricInputError, match="needs the columns type, grade, height_px"):
        page.page_metrics(page.EXAMPLE_PAGE.drop(columns="height_px"))
    with pytest.raises(MetricInputError, match="persistence"):
        page.UserModel(persistence=0)


KRIPPENDORFF_EXAMPLE = np.array(  # Krippendorff (2011), "Computing Krippendorff's alpha"
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
        [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
    ]
)


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_reproduces_krippendorffs_worked_example(level, published):
    assert agreement.krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level) == pytest.approx(
        published, abs=5e-4
    )


def test_alpha_matches_the_krippendorff_package_on_random_data():
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(0)
    for _ in range(20):
        matrix = rng.integers(0, 4, (5, 30)).astype(float)
        matrix[rng.random(matrix.shape) < 0.3] = np.nan
        for level in ("nominal", "ordinal", "interval", "ratio"):
            expected = krippendorff.alpha(matrix, level_of_measurement=level)
            assert agreement.krippendorff_alpha(matrix, level) == pytest.approx(expected, abs=1e-12)


def test_alpha_needs_overlap_and_variation():
    with pytest.raises(MetricInputError, match="needs overlap"):
        agreement.krippendorff_alpha(np.array([[1, np.nan], [np.nan, 2]]))
    with pytest.raises(MetricInputError, match="no variation"):
        agreement.krippendorff_alpha(np.array([[1, 1], [1, 1.0]]))


@pytest.fixture(scope="module")
def crowd():
    return simulate_crowd(n_items=400, spammer_share=0.25, biased_share=0.25, honeypot_share=0.3)


def test_dawid_skene_beats_majority_vote_and_recovers_the_workers(crowd):
    result = aggregation.dawid_skene(crowd.labels)
    assert np.all(np.diff(result.objective) >= -1e-9)  # EM never goes down
    truth = crowd.truth
    ds = (result.labels[truth.index] == truth).mean()
    mv = (aggregation.majority_vote(crowd.labels)[truth.index] == truth).mean()
    assert ds > mv + 0.05
    accuracy = result.worker_accuracy()
    careful = crowd.kinds[crowd.kinds == "careful"].index
    spammers = crowd.kinds[crowd.kinds == "spammer"].index
    assert accuracy[careful].min() > accuracy[spammers].max()
    assert accuracy[careful].mean() == pytest.approx(0.8, abs=0.08)


def test_honeypots_remove_the_workers_who_miss_them(crowd):
    screen = labeling.honeypot_screen(labeling.parse_labels(crowd.labels))
    removed = set(screen.loc[screen["verdict"].str.startswith("removed"), "worker"])
    assert removed == set(crowd.kinds[crowd.kinds != "careful"].index)
    row = screen.iloc[0]
    z = norm.ppf(0.975)
    n, p = row["honeypots"], row["accuracy"]
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert (row["wilson_low"], row["wilson_high"]) == pytest.approx((centre - half, centre + half))


def test_labeling_report_measures_every_method_against_the_truth(crowd):
    report = labeling.labeling_report(crowd.labels, crowd.truth)
    alpha = report.alpha.set_index("level")
    assert (alpha["after honeypots"] > alpha["all workers"]).all()
    assert set(report.accuracy) == {
        "majority vote",
        "majority vote after honeypots",
        "Dawid-Skene",
        "Dawid-Skene after honeypots",
    }
    assert report.accuracy["majority vote after honeypots"] > report.accuracy["majority vote"]
    text = "\n".join(report.conclusions())
    assert f"{alpha.loc['ordinal', 'all workers']:.3f}" in text


def test_labeling_without_truth_is_scored_on_the_honeypots(crowd):
    report = labeling.labeling_report(crowd.labels)
    assert report.evaluated_on.startswith("the gold answers of")


def test_bad_label_tables_are_explained():
    with pytest.raises(MetricInputError, match="needs the columns item, worker, label"):
        labeling.labeling_report(pd.DataFrame({"item": [1], "label": [1]}))
    table = pd.DataFrame({"item": ["a", "a"], "worker": ["x", "x"], "label": [1, 2]})
    with pytest.raises(MetricInputError, match="labels item 'a' more than once"):
        labeling.labeling_report(table)
