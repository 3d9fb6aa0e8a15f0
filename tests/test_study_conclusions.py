"""The self-supervised and pseudo-label conclusions follow their numbers: computed from the
shipped reference runs, then from the same numbers altered, the sentences change with them."""

import dataclasses

import pytest

from core.reports import pseudo_labels, ssl
from core.runs.reference import fresh_reference_store, reference_runs


@pytest.fixture(scope="module")
def shipped():
    with fresh_reference_store() as store:
        yield store


@pytest.fixture(scope="module")
def pseudo(shipped):
    runs = [shipped.get(i) for i in reference_runs(shipped, pseudo_labels.STUDY).values()]
    students = [run for run in runs if run.experiment.endswith("_pseudo")]
    references = [run for run in runs if run not in students]
    return pseudo_labels.comparison_rows(shipped, students, references), students


def test_the_pseudo_label_verdict_follows_the_paired_test(pseudo):
    rows, runs = pseudo
    said = pseudo_labels.conclusions(rows, runs)
    assert [("significantly" in line) for line in said if "the teacher reaches" in line] == [
        p < 0.05 for p in rows["p_value"]
    ]
    altered = rows.copy()
    altered.loc[0, "p_value"] = 0.001
    first = pseudo_labels.conclusions(altered, runs)[0]
    towards = "better" if rows.loc[0, "student"] >= rows.loc[0, "teacher"] else "worse"
    assert f"significantly {towards} at 5 %" in first
    assert first != said[0]


def test_the_share_of_the_gap_closed_follows_the_students_accuracy(pseudo):
    rows, runs = pseudo
    altered = rows.copy()
    altered.loc[0, "student"] = altered.loc[0, "reference"]  # the student catches up
    assert "the student closes 100%" in pseudo_labels.conclusions(altered, runs)[0]
    altered.loc[0, "student"] = altered.loc[0, "teacher"] - 0.01
    assert "closes none of the teacher's gap" in pseudo_labels.conclusions(altered, runs)[0]


def test_the_class_balance_sentence_follows_the_accepted_counts(pseudo):
    rows, runs = pseudo
    run = runs[0]
    rounds = [dict(r) for r in run.details["rounds"]]
    for counts, words in (([100] * 10, "about balanced"), ([10] + [100] * 9, "not balanced")):
        rounds[-1]["accepted_per_class"] = counts
        changed = dataclasses.replace(run, details={**run.details, "rounds": rounds})
        said = pseudo_labels.conclusions(rows.iloc[:1], [changed])
        assert words in said[1], said[1]


@pytest.fixture(scope="module")
def pretraining(shipped):
    ids = list(reference_runs(shipped, ssl.study_name("digits")).values())
    classifiers = [i for i in ids if not shipped.get(i).experiment.endswith("_context")]
    return ssl.classifier_rows(shipped, classifiers)


def test_the_pretrained_gain_trend_follows_the_test_accuracies(pretraining):
    rows = pretraining.copy()
    random = rows["init"] == "random"
    context = rows["init"] == "context"
    scarce_first = rows["fraction"].rank(ascending=True)  # 10 % first
    rows.loc[random, "test_accuracy"] = 0.9
    rows.loc[context, "test_accuracy"] = 0.9 + 0.01 * (4 - scarce_first[context])
    assert "it grows as labels get scarcer" in " ".join(ssl.conclusions(rows, [0.6]))
    rows.loc[context, "test_accuracy"] = 0.9 + 0.01 * scarce_first[context]
    assert "it does not grow steadily" in " ".join(ssl.conclusions(rows, [0.6]))


def test_the_pretext_sentence_follows_its_accuracy(pretraining):
    assert "61.1% relative-position accuracy" in ssl.conclusions(pretraining, [0.611])[0]
    assert "30.0% relative-position accuracy" in ssl.conclusions(pretraining, [0.3])[0]
