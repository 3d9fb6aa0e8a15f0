"""The image recipes' page: its conclusions follow the numbers, its statistics match scipy, and
its example pictures draw in both the README and the app."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.experiments.images import RECIPE_LABELS
from core.reports.accuracy import accuracy_interval, disagreement_p_value
from core.reports.images import RecipeFacts, comparison_sentence, conclusions, mistakes_sentence
from core.reports.page import Pictures, matplotlib_figure, plotly_figure

LABELS = list(RECIPE_LABELS.values())


def facts(test_accuracy=(0.97, 0.98, 0.975, 0.97), p_values=(0.2, 0.4, 0.5), matrix=None):
    rows = pd.DataFrame(
        {
            "run": [1, 2, 3, 4],
            "label": LABELS,
            "seed": 0,
            "val_accuracy": [0.99, 0.995, 0.99, 0.98],
            "test_accuracy": list(test_accuracy),
            "test_macro_f1": list(test_accuracy),
            "epoch_time_s": [10.0, 7.0, 20.0, 18.0],
            "n_test": 270,
        }
    )
    paired = pd.DataFrame(
        {
            "label": LABELS[1:],
            "points": [100 * (a - test_accuracy[0]) for a in test_accuracy[1:]],
            "p_value": list(p_values),
        }
    )
    matrix = np.diag([27] * 10) if matrix is None else matrix
    return RecipeFacts("digits", rows, paired, rows.iloc[1], matrix, [str(i) for i in range(10)])


def test_the_comparison_names_only_the_significant_differences():
    calm = comparison_sentence(facts().paired, 1, 270)
    assert "none of the differences is significant at the 5% level" in calm
    assert "+1.00 (p = 0.2)" in calm
    loud = comparison_sentence(facts(p_values=(0.01, 0.4, 0.5)).paired, 1, 270)
    assert "(b) + gradual unfreezing, adaptive lr is better than (a)" in loud
    worse = facts(test_accuracy=(0.97, 0.95, 0.975, 0.97), p_values=(0.001, 0.4, 0.5))
    assert "is worse than (a)" in comparison_sentence(worse.paired, 3, 270)
    assert "and 3 seeds" in comparison_sentence(worse.paired, 3, 270)


def test_the_goal_sentence_follows_the_chosen_model():
    assert "falls short of the goal of 99%" in " ".join(conclusions(facts()))
    reached = facts(test_accuracy=(0.97, 0.992, 0.975, 0.97))
    assert "reaches the goal of 99% test accuracy with 99.20%" in " ".join(conclusions(reached))


def test_the_mistakes_sentence_follows_the_confusion_matrix():
    matrix = np.diag([27] * 10)
    assert mistakes_sentence(matrix, list("0123456789")) == (
        "The best model makes no mistake on the test set."
    )
    matrix[4, 9] = 3
    matrix[7, 1] = 1
    sentence = mistakes_sentence(matrix, list("0123456789"))
    assert "makes 4 test mistakes; the most frequent is 4 read as 9 (3 times)" in sentence


def test_one_run_gets_wilsons_interval_and_several_a_t_interval():
    low, high = accuracy_interval([0.9], 200)
    wilson = stats.binomtest(180, 200).proportion_ci(method="wilson")
    assert (low, high) == pytest.approx((wilson.low, wilson.high))
    values = [0.85, 0.93, 0.89]  # seeds far apart: the t-interval is the wider
    low, high = accuracy_interval(values, 270)
    reference = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert (low, high) == pytest.approx(reference)
    assert accuracy_interval([0.99, 1.0, 0.97], 270)[1] == 1.0  # an accuracy ends at 100 %


def test_seeds_that_agree_keep_the_test_pictures_wilson_interval():
    agreeing = accuracy_interval([269 / 270] * 3, 270)  # a t-interval of zero width
    wilson = stats.binomtest(269, 270).proportion_ci(method="wilson")
    assert agreeing == pytest.approx((wilson.low, wilson.high))
    close = [0.960, 0.962, 0.961]  # t: +-0.0025; Wilson over 270 pictures: about +-0.025
    low, high = accuracy_interval(close, 270)
    assert high - low > 0.04
    with pytest.raises(ValueError, match="no accuracies"):
        accuracy_interval([], 10)


def test_the_paired_test_is_mcnemars_exact_test_in_the_direction_observed():
    rng = np.random.default_rng(0)
    a = rng.random(300) < 0.9
    b = a.copy()
    b[:12] = ~b[:12]  # twelve pictures where the two disagree
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(b & ~a))
    exact = stats.binomtest(max(only_a, only_b), only_a + only_b, alternative="greater").pvalue
    assert disagreement_p_value(a, b) == pytest.approx(exact)
    assert disagreement_p_value(b, a) == pytest.approx(exact)
    assert disagreement_p_value(a, a) == 1.0


def test_example_pictures_draw_with_their_captions_in_both_places():
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    colour = np.zeros((6, 6, 3), dtype=np.uint8)
    block = Pictures("examples", "Test pictures", [grey, colour], ["pred 1\ntrue 7", "ok"], [1, 0])
    figure = plotly_figure(block)
    assert [trace.type for trace in figure.data] == ["image", "image"]
    assert np.asarray(figure.data[0].z).shape == (8, 8, 3)
    titles = figure.layout.annotations
    assert [t.text for t in titles] == ["pred 1<br>true 7", "ok"]
    assert [t.font.color for t in titles] == ["red", "black"]
    assert len(matplotlib_figure(block).axes) == 2
