"""Context prediction (core.vision.pretext) and the classifier hooks it feeds: the relative
position labels on a picture whose grid cells are known, the geometry's bounds, a short real
pretraining on the digits, and label fractions / init_from in core.vision.train."""

from dataclasses import asdict

import numpy as np
import pytest
import torch

from core.experiments import get_experiment
from core.reports.page import to_markdown
from core.reports.ssl import ssl_page
from core.runs.execution import execute_run
from core.runs.store import RunStore
from core.runs.view import config_form
from core.vision.backbones import SmallCNN
from core.vision.checkpoints import EXTRACTOR_CHECKPOINT, load_extractor
from core.vision.prepared import fraction_subset
from core.vision.pretext import (
    NEIGHBOURS,
    PatchGeometry,
    jitter_intensity,
    sample_pairs,
)
from core.vision.train import ImageTrainConfig, prepare_data

# Where each label's neighbour lies, written out by hand (row, column of the 3x3 grid).
EXPECTED_CELL = {
    0: (0, 0),  # top left
    1: (0, 1),  # above
    2: (0, 2),  # top right
    3: (1, 0),  # left
    4: (1, 2),  # right
    5: (2, 0),  # bottom left
    6: (2, 1),  # below
    7: (2, 2),  # bottom right
}


def cell_picture(geometry: PatchGeometry) -> torch.Tensor:
    """A picture exactly as wide as the jittered grid, each cell (grown by the jitter on every
    side) filled with the constant 10 * row + column + 1, the gaps left 0."""
    size = geometry.extent
    picture = torch.zeros(1, 1, size, size)
    for row in range(3):
        for column in range(3):
            top, left = geometry.step * row, geometry.step * column  # the grid's origin: jitter
            side = geometry.patch + 2 * geometry.jitter
            picture[..., top : top + side, left : left + side] = 10 * row + column + 1
    return picture


@pytest.mark.parametrize("geometry", [PatchGeometry(6, 3, 1), PatchGeometry(4, 2, 0)])
def test_every_label_names_the_neighbours_true_position(geometry):
    picture = cell_picture(geometry)
    generator = torch.Generator().manual_seed(0)
    pairs, labels, _ = sample_pairs(picture.expand(400, -1, -1, -1), geometry, generator)
    assert set(labels.tolist()) == set(range(8))
    for pair, label in zip(pairs, labels.tolist(), strict=True):
        centre, neighbour = pair
        row, column = EXPECTED_CELL[label]
        assert torch.all(centre == 10 * 1 + 1 + 1)  # the middle cell, whole and alone
        assert torch.all(neighbour == 10 * row + column + 1)
    assert tuple((r - 1, c - 1) for r, c in EXPECTED_CELL.values()) == NEIGHBOURS


def test_patches_lie_inside_the_picture_with_the_gap_and_jitter_respected():
    geometry = PatchGeometry(6, 3, 1)
    images = torch.rand(2000, 1, 28, 28)
    pairs, labels, corners = sample_pairs(images, geometry, torch.Generator().manual_seed(1))
    assert pairs.shape == (2000, 2, 6, 6)
    assert corners.min() >= 0 and corners.max() <= 28 - geometry.patch
    steps = torch.tensor(NEIGHBOURS)[labels]
    relative = corners[:, 1] - corners[:, 0] - geometry.step * steps  # what the jitter did
    assert relative.abs().max() == 2 * geometry.jitter  # both patches moved, at most 1 px each
    apart = (corners[:, 1] - corners[:, 0]).abs()
    moved_axis = steps != 0
    gaps = apart[moved_axis] - geometry.patch
    assert gaps.min() == geometry.min_gap == 1 and gaps.max() == geometry.gap + 2 * geometry.jitter
    for index in range(0, 2000, 97):  # the pairs are the pictures' pixels at those corners
        for which in range(2):
            top, left = corners[index, which].tolist()
            crop = images[index, 0, top : top + 6, left : left + 6]
            assert torch.equal(pairs[index, which], crop)


def test_the_same_seed_gives_the_same_pairs():
    images = torch.rand(50, 1, 28, 28)

    def draw(seed: int):
        generator = torch.Generator().manual_seed(seed)
        pairs, labels, _ = sample_pairs(images, PatchGeometry(), generator)
        return jitter_intensity(pairs, 0.3, 0.03, generator), labels

    (pairs, labels), (again, labels_again), (other, _) = draw(3), draw(3), draw(4)
    assert torch.equal(pairs, again) and torch.equal(labels, labels_again)
    assert not torch.equal(pairs, other)


def test_intensity_jitter_changes_each_patch_on_its_own():
    pairs = torch.full((500, 2, 6, 6), 0.5) + torch.linspace(-0.2, 0.2, 6)
    changed = jitter_intensity(pairs, 0.3, 0.0, torch.Generator().manual_seed(0))
    means = changed.mean(dim=(2, 3))
    spread = changed.std(dim=(2, 3)) / pairs.std(dim=(2, 3))
    assert (means - 0.5).abs().max() <= 0.15 + 1e-6 and (means - 0.5).abs().max() > 0.1
    assert spread.min() >= 0.7 - 1e-5 and spread.max() <= 1.3 + 1e-5
    assert not torch.allclose(means[:, 0], means[:, 1])  # centre and neighbour differ


@pytest.mark.parametrize(
    "values, message",
    [
        ({"patch_size": 8}, "need 32 px"),
        ({"gap": -1}, "gap must be"),
        ({"data": "afhq"}, "afhq"),
        ({"pairs_per_image": 0}, "pairs_per_image"),
    ],
)
def test_bad_pretext_settings_are_refused_clearly(values, message):
    with pytest.raises(ValueError, match=message):
        get_experiment("fashion_context").make_config(values)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"label_fraction": 0}, "label_fraction must be in"),
        ({"label_fraction": 1.5}, "label_fraction must be in"),
        ({"init_from": "5", "backbone": "efficientnet_lite0", "pretrained": True}, "init_from"),
    ],
)
def test_bad_classifier_settings_are_refused_clearly(values, message):
    with pytest.raises(ValueError, match=message):
        get_experiment("fashion_finetune").make_config(values)


def test_label_fractions_are_stratified_nested_and_fixed_by_the_seed():
    labels = np.repeat(np.arange(10), [100, 90, 80, 70, 60, 50, 40, 30, 20, 10])
    index = np.arange(len(labels))
    subsets = {f: fraction_subset(index, labels, f, seed=0) for f in (1.0, 0.5, 0.1)}
    assert np.array_equal(subsets[1.0], index)
    for fraction, subset in subsets.items():
        counts = np.bincount(labels[subset], minlength=10)
        expected = np.maximum(1, np.round(fraction * np.bincount(labels)))
        assert np.array_equal(counts, expected)
    assert set(subsets[0.1]) <= set(subsets[0.5])
    assert np.array_equal(subsets[0.1], fraction_subset(index, labels, 0.1, seed=0))
    assert not np.array_equal(subsets[0.1], fraction_subset(index, labels, 0.1, seed=1))


def test_prepare_data_trains_on_the_label_fraction_only():
    config = ImageTrainConfig(data="digits", backbone="small_cnn", pretrained=False, input_size=16)
    full, tenth = (
        prepare_data(config),
        prepare_data(ImageTrainConfig(**{**asdict(config), "label_fraction": 0.1})),
    )
    assert len(tenth.y["train"]) == pytest.approx(0.1 * len(full.y["train"]), abs=5)
    assert set(tenth.index["train"]) <= set(full.index["train"])
    assert np.array_equal(tenth.index["val"], full.index["val"])  # val and test stay whole
    assert np.array_equal(tenth.index["test"], full.index["test"])


@pytest.fixture(scope="module")
def pretext_run(tmp_path_factory):
    """A real, short context-prediction run on the digits (about 15 s on one core)."""
    store = RunStore(tmp_path_factory.mktemp("pretext") / "runs.sqlite")
    config = get_experiment("digits_context").make_config({"epochs": 3, "device": "cpu"})
    run_id = store.create("digits_context", asdict(config))
    execute_run(store, run_id)
    return store, run_id


def test_the_pretext_learns_well_above_chance(pretext_run):
    store, run_id = pretext_run
    run = store.get(run_id)
    assert run.status == "done", run.error
    history = store.metrics(run_id)
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history["val_accuracy"].iloc[-1] > 0.4  # chance: 1/8 = 0.125
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert run.details["best_val_accuracy"] == history["val_accuracy"].max()


def test_init_from_loads_the_pretrained_trunk_and_leaves_the_head_random(pretext_run):
    store, run_id = pretext_run
    saved = torch.load(store.run_dir(run_id) / EXTRACTOR_CHECKPOINT, weights_only=True)
    torch.manual_seed(0)
    model = SmallCNN(num_classes=10, in_chans=1)
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    loaded = load_extractor(model, "small_cnn", str(store.run_dir(run_id)))
    state = model.state_dict()
    assert sorted(loaded) == sorted(k for k in state if k.startswith("features."))
    for name in loaded:
        assert torch.equal(state[name], saved["extractor"][name])
    for name, value in model.head.state_dict().items():
        assert torch.equal(value, head_before[name])
    with pytest.raises(ValueError, match="holds a small_cnn extractor"):
        load_extractor(model, "efficientnet_lite0", str(store.run_dir(run_id)))


def test_a_classifier_run_starts_from_a_context_run_named_by_its_id(pretext_run):
    store, pretext = pretext_run
    values = {"epochs": 1, "label_fraction": 0.2, "init_from": str(pretext), "device": "cpu"}
    config = get_experiment("digits_finetune").make_config(values)
    run_id = store.create("digits_finetune", asdict(config))
    run = execute_run(store, run_id)
    assert run.status == "done", run.error
    assert run.details["init_from_run"] == pretext
    assert run.details["n_train"] == pytest.approx(0.2 * 1257, abs=5)
    missing = store.create("digits_finetune", {**asdict(config), "init_from": "999"})
    assert "999" in execute_run(store, missing).error


def test_the_report_compares_pretrained_and_random_runs(pretext_run, tmp_path):
    store, pretext = pretext_run
    run_ids = [pretext]
    for init_from in ("", str(pretext)):
        values = {"epochs": 2, "label_fraction": 0.2, "init_from": init_from, "device": "cpu"}
        config = get_experiment("digits_finetune").make_config(values)
        run_ids.append(store.create("digits_finetune", asdict(config)))
        assert execute_run(store, run_ids[-1]).status == "done"
    readme = to_markdown(ssl_page(store, "digits", run_ids), tmp_path)
    text = readme.read_text()
    table = text.split("## Classifiers")[1]
    assert "random init" in table and "context-prediction pretrained" in table
    assert f"--init_from {pretext}" in text  # the context run's reproduce command
    assert (tmp_path / "curves_20.png").stat().st_size > 0  # 20 % of the labels
    assert (tmp_path / "pretext.png").stat().st_size > 0
    with pytest.raises(ValueError, match="one digits_context run per seed"):
        ssl_page(store, "digits", run_ids[1:])
    with pytest.raises(ValueError, match="one run per label fraction, init and seed"):
        ssl_page(store, "digits", [*run_ids, run_ids[1]])


def test_the_training_tab_shows_the_pretext_settings():
    values = config_form("fashion_context").set_index("key")["value"]
    assert values["patch_size"] == "6" and values["gap"] == "3" and values["jitter"] == "1"
    finetune = config_form("fashion_finetune").set_index("key")["value"]
    assert finetune["label_fraction"] == "1.0" and finetune["init_from"] == ""
