"""Pseudo-labeling: the split and its hidden labels, the selection rules, and tiny real runs."""

from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

import core.vision.pseudo_labeling as pseudo_labeling
from core.experiments import get_experiment
from core.reports.pseudo_labels import main as report_main
from core.runs.execution import RunLogger, execute_run
from core.runs.store import RunStore
from core.vision.checkpoints import load_trained_model
from core.vision.data import load_image_dataset
from core.vision.evaluation import evaluate
from core.vision.pseudo_labeling import (
    PseudoLabels,
    select_pseudo_labels,
    split_labeled,
    with_pseudo_labels,
)
from core.vision.train import prepare_data

# A tiny but real run: 400 training digits, half of them labeled, 3 epochs.
TINY = {"epochs": 3, "limit_train": 400, "label_fraction": 0.5, "threshold": 0.5}

# rows: probabilities of 3 classes; top class and confidence in the comments
TABLE = np.array(
    [
        [0.90, 0.05, 0.05],  # 0: class 0, 0.90
        [0.20, 0.70, 0.10],  # 1: class 1, 0.70
        [0.95, 0.03, 0.02],  # 2: class 0, 0.95
        [0.10, 0.10, 0.80],  # 3: class 2, 0.80
        [0.90, 0.10, 0.00],  # 4: class 0, 0.90 (ties with row 0)
        [0.40, 0.35, 0.25],  # 5: class 0, 0.40
        [0.05, 0.90, 0.05],  # 6: class 1, 0.90
    ]
)


def test_threshold_keeps_exactly_the_rows_at_or_above_it():
    assert select_pseudo_labels(TABLE, 0.9).tolist() == [0, 2, 4, 6]
    assert select_pseudo_labels(TABLE, 0.8).tolist() == [0, 2, 3, 4, 6]  # 0.80 itself is kept
    assert select_pseudo_labels(TABLE, 0.0).tolist() == list(range(7))
    assert select_pseudo_labels(TABLE, 1.0).tolist() == []


def test_top_k_keeps_the_surest_of_each_class_and_breaks_ties_by_position():
    # class 0 by confidence: row 2 (0.95), rows 0 and 4 (0.90 each), row 5 (0.40)
    assert select_pseudo_labels(TABLE, 0.0, top_k=1).tolist() == [2, 3, 6]
    assert select_pseudo_labels(TABLE, 0.0, top_k=2).tolist() == [0, 1, 2, 3, 6]  # 0 before 4
    assert select_pseudo_labels(TABLE, 0.0, top_k=10).tolist() == list(range(7))
    # with a threshold too: class 1 keeps row 6 only (row 1's 0.70 is below 0.75)
    assert select_pseudo_labels(TABLE, 0.75, top_k=2).tolist() == [0, 2, 3, 6]


def test_score_counts_per_class_and_checks_against_the_hidden_labels():
    labels = PseudoLabels(
        predicted=TABLE.argmax(1),
        confidence=TABLE.max(1),
        accepted=np.array([0, 2, 3, 4, 6]),
        labeler_pool_accuracy=0.5,
    )
    hidden = np.array([0, 1, 1, 2, 2, 0, 1])  # rows 2 and 4 are wrong
    scored = labels.score(hidden, n_classes=4)
    assert scored["accepted"] == 5
    assert scored["accuracy"] == pytest.approx(3 / 5)
    assert scored["accepted_per_class"] == [3, 1, 1, 0]
    assert scored["accuracy_per_class"] == [pytest.approx(1 / 3), 1.0, 1.0, None]


@pytest.mark.parametrize(
    ("threshold", "top_k", "message"),
    [(-0.1, None, "threshold"), (1.5, None, "threshold"), (0.5, 0, "top_k"), (0.5, -2, "top_k")],
)
def test_selection_rejects_bad_arguments(threshold, top_k, message):
    with pytest.raises(ValueError, match=message):
        select_pseudo_labels(TABLE, threshold, top_k)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"label_fraction": 0}, "label_fraction must be in \\(0, 1\\]"),
        ({"label_fraction": 1.2}, "label_fraction"),
        ({"threshold": 1.01}, "threshold must be in \\[0, 1\\]"),
        ({"threshold": -0.5}, "threshold"),
        ({"top_k": -1}, "top_k"),
        ({"rounds": 0}, "rounds"),
        ({"resume": "data/runs/3"}, "start it anew"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(values, message):
    with pytest.raises(ValueError, match=message):
        get_experiment("digits_pseudo").make_config(values)


def test_the_experiments_keep_the_supervised_recipes():
    digits = asdict(get_experiment("digits_pseudo").make_config())
    supervised = asdict(get_experiment("digits_cnn").make_config())
    changed = {key for key in supervised if digits[key] != supervised[key]}
    assert changed == {"label_fraction"}  # the supervised recipe, on a tenth of the labels
    assert digits["label_fraction"] == 0.1
    fashion = get_experiment("fashion_pseudo").make_config()
    assert (fashion.backbone, fashion.epochs, fashion.augment_schedule) == ("small_cnn", 15, False)


@pytest.fixture(scope="module")
def digits_data():
    config = get_experiment("digits_pseudo").make_config()
    return config, prepare_data(replace(config, label_fraction=1.0))


def test_split_sizes_stratification_and_a_disjoint_pool(digits_data):
    _, data = digits_data
    labeled, pool = split_labeled(data, 0.1, seed=0)
    train = data.index["train"]
    # stratified: every class keeps a tenth of its training pictures, rounded
    per_class = np.bincount(labeled.y["train"].numpy(), minlength=10)
    counts = np.bincount(data.y["train"].numpy(), minlength=10)
    assert per_class.tolist() == [round(0.1 * count) for count in counts]
    assert len(labeled.y["train"]) == 126 and len(pool.index) == len(train) - 126
    assert np.intersect1d(labeled.index["train"], pool.index).size == 0
    assert np.array_equal(np.sort(np.concatenate([labeled.index["train"], pool.index])), train)
    # the labeled part is the data it names, the pool's hidden labels are the data set's
    labels = load_image_dataset("digits").labels
    assert np.array_equal(labeled.y["train"].numpy(), labels[labeled.index["train"]])
    assert np.array_equal(pool.hidden_labels, labels[pool.index])
    for split in ("val", "test"):
        assert np.array_equal(labeled.index[split], data.index[split])


def test_same_split_seed_same_test_split_as_the_supervised_experiment(digits_data):
    config, data = digits_data
    labeled, _ = split_labeled(data, 0.1, seed=config.split_seed)
    supervised = prepare_data(get_experiment("digits_cnn").make_config({"label_fraction": 0.1}))
    assert np.array_equal(labeled.index["test"], supervised.index["test"])
    assert np.array_equal(labeled.x["test"], supervised.x["test"])
    # the teacher is the supervised experiment on the same fraction of the labels
    assert np.array_equal(labeled.index["train"], supervised.index["train"])
    assert torch.equal(labeled.y["train"], supervised.y["train"])
    other = prepare_data(replace(config, split_seed=1))
    assert not np.array_equal(other.index["test"], data.index["test"])


def test_the_student_trains_on_pseudo_labels_not_on_the_hidden_ones(digits_data):
    _, data = digits_data
    labeled, pool = split_labeled(data, 0.1, seed=0)
    accepted = np.array([0, 5, 7, 100])
    wrong = (pool.hidden_labels[accepted] + 1) % 10  # pseudo-labels that are all wrong
    student = with_pseudo_labels(labeled, pool, accepted, wrong)
    n = len(labeled.y["train"])
    assert torch.equal(student.y["train"][:n], labeled.y["train"])
    assert student.y["train"][n:].tolist() == wrong.tolist()
    assert torch.equal(student.x["train"][n:], pool.x[accepted])
    assert np.array_equal(student.index["train"][n:], pool.index[accepted])


def _train(store, monkeypatch, scramble: bool):
    """A tiny run trained in this process; with `scramble`, the pool's hidden labels are
    shuffled before training starts (a run that never trains on them cannot notice)."""
    real_split = pseudo_labeling.split_labeled

    def split(data, fraction, seed):
        labeled, pool = real_split(data, fraction, seed)
        if scramble:
            pool.hidden_labels = np.random.default_rng(1).permutation(pool.hidden_labels)
        return labeled, pool

    monkeypatch.setattr(pseudo_labeling, "split_labeled", split)
    config = get_experiment("digits_pseudo").make_config(TINY)
    run_id = store.create("digits_pseudo", asdict(config))
    pseudo_labeling.train_with_pseudo_labels(config, RunLogger(store, run_id))
    return store.get(run_id)


def test_hidden_labels_never_reach_training(store, monkeypatch):
    plain, scrambled = _train(store, monkeypatch, False), _train(store, monkeypatch, True)
    first, second = (np.load(run.artifacts["pseudo_labels_round1"]) for run in (plain, scrambled))
    assert np.array_equal(first["accepted"], second["accepted"])
    assert np.array_equal(first["predicted"], second["predicted"])
    assert not np.array_equal(first["hidden_labels"], second["hidden_labels"])
    tests = [np.load(run.artifacts["test_predictions"]) for run in (plain, scrambled)]
    assert np.array_equal(tests[0]["probabilities"], tests[1]["probabilities"])
    # only the score of the pseudo-labels sees the hidden labels
    assert plain.details["pseudo_accepted"] == scrambled.details["pseudo_accepted"]
    assert plain.details["pseudo_accuracy"] != scrambled.details["pseudo_accuracy"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """A tiny pseudo-labeling run and a tiny supervised run, through the run store."""
    store = RunStore(tmp_path_factory.mktemp("pseudo") / "runs.sqlite")
    configs = {
        "digits_pseudo": TINY,
        "digits_cnn": {"epochs": 1, "limit_train": 400},
    }
    run_ids = {}
    for name, values in configs.items():
        run_ids[name] = store.create(name, asdict(get_experiment(name).make_config(values)))
        run = execute_run(store, run_ids[name])
        assert run.status == "done", run.error
    return store, run_ids


def test_a_tiny_run_logs_what_a_recomputation_finds(tiny_runs):
    store, run_ids = tiny_runs
    run_id = run_ids["digits_pseudo"]
    run = store.get(run_id)
    config = get_experiment("digits_pseudo").make_config(run.config)
    data = prepare_data(replace(config, label_fraction=1.0))
    labeled, pool = split_labeled(data, 0.5, config.split_seed)
    n_labeled = len(labeled.y["train"])
    model, _, _ = load_trained_model(run.artifacts["teacher_best_checkpoint"])
    labels = load_image_dataset("digits").labels[pool.index]  # from the data set itself
    probabilities = evaluate(
        model, pool.x, torch.from_numpy(labels), data.normalize, torch.device("cpu")
    ).probabilities
    accepted = np.flatnonzero(probabilities.max(1) >= config.threshold)
    assert 0 < len(accepted) < len(pool.index)
    accuracy = np.mean(probabilities[accepted].argmax(1) == labels[accepted])
    details = run.details
    assert details["n_labeled"] == n_labeled and details["n_pool"] == 400 - n_labeled
    assert details["pseudo_accepted"] == len(accepted)
    assert details["pseudo_accuracy"] == pytest.approx(accuracy)
    # equal budget: the teacher's half of the 400 pictures twice an epoch
    n_student = n_labeled + len(accepted)
    repeats = round(400 / n_student)
    assert (details["teacher"]["repeats"], details["teacher"]["n_train"]) == (2, 2 * n_labeled)
    student = details["student1"]
    assert (student["n_distinct_train"], student["repeats"]) == (n_student, repeats)
    assert student["n_train"] == repeats * n_student
    history = store.metrics(run_id)
    assert history["epoch"].tolist() == list(range(1, 7))  # teacher 1-3, student 4-6
    assert history["stage"].tolist() == [0, 0, 0, 1, 1, 1]
    assert history["pseudo_accepted"].tolist() == [0, 0, 0, *[len(accepted)] * 3]
    assert history["pseudo_accuracy"].iloc[-1] == pytest.approx(accuracy)
    # the summary: the teacher's and the final student's best checkpoints on test
    predictions = np.load(run.artifacts["test_predictions"])
    assert details["student_test_accuracy"] == pytest.approx(
        np.mean(predictions["y_pred"] == predictions["y_true"])
    )
    teacher = np.load(run.artifacts["teacher_test_predictions"])
    assert details["teacher_test_accuracy"] == pytest.approx(
        np.mean(teacher["y_pred"] == teacher["y_true"])
    )


def test_equal_budget_repeats_few_pictures_to_an_epoch_of_the_whole_split(digits_data):
    _, data = digits_data
    config = get_experiment("digits_pseudo").make_config()
    assert pseudo_labeling.stage_repeats(config, n_train=1257, n_stage=126) == 10
    assert pseudo_labeling.stage_repeats(config, n_train=1257, n_stage=1000) == 1
    fixed = get_experiment("digits_pseudo").make_config({"equal_budget": False})
    assert pseudo_labeling.stage_repeats(fixed, n_train=1257, n_stage=126) == 1
    labeled, _ = split_labeled(data, 0.1, seed=0)
    tripled = pseudo_labeling.repeat_training_set(labeled, 3)
    assert torch.equal(tripled.x["train"], torch.cat([labeled.x["train"]] * 3))
    assert torch.equal(tripled.y["train"], torch.cat([labeled.y["train"]] * 3))
    assert np.array_equal(tripled.index["train"], np.tile(labeled.index["train"], 3))
    assert torch.equal(tripled.x["test"], labeled.x["test"])


def test_the_report_compares_on_the_same_test_pictures(tiny_runs, tmp_path):
    store, run_ids = tiny_runs
    run, reference = store.get(run_ids["digits_pseudo"]), store.get(run_ids["digits_cnn"])
    out = tmp_path / "report"
    runs = ["--runs", str(run.id), "--db", str(store.path), "--out", str(out)]
    assert report_main([*runs, "--reference", str(reference.id)]) == 0
    text = (out / "README.md").read_text()
    details = run.details
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| data (run)"))
    row = next(line for line in lines if line.startswith("| digits (1)"))
    names, values = ([cell.strip() for cell in line.split("|")[1:-1]] for line in (header, row))
    cells = dict(zip(names, values, strict=True))
    assert cells["labeled"] == f"50% of 400 = {details['n_labeled']}"
    assert cells["epochs / stage"] == "3"
    assert cells["teacher test acc"] == f"{details['teacher_test_accuracy']:.2%}"
    accepted = f"{details['pseudo_accepted']:,} of {details['n_pool']}"
    assert cells["accepted pseudo-labels"].startswith(accepted)
    assert cells["their accuracy"] == f"{details['pseudo_accuracy']:.2%}"
    assert cells["student test acc"] == f"{details['student_test_accuracy']:.2%}"
    best = reference.details["best_test_accuracy"]
    assert cells["all labels (run: training pictures)"] == f"{best:.2%} ({reference.id}: 400)"
    for figure in ("threshold.png", "loss_digits.png", "accuracy_digits.png"):
        assert (out / figure).stat().st_size > 10_000
    # a reference with another split cannot be compared: the report says so and stops
    other = store.create(
        "digits_cnn", {**reference.config, "split_seed": 1}, details=reference.details
    )
    store.add_artifact(other, "test_predictions", reference.artifacts["test_predictions"])
    store.finish(other, "done")
    with pytest.raises(SystemExit):
        report_main([*runs, "--reference", str(other)])
