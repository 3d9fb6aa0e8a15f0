"""The image training engine: each method on its own, then short real runs on digits."""

import itertools
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    LinearLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
)
from torchvision.transforms import v2

from core.config import build_config
from core.runs.execution import RunCancelled, RunLogger
from core.runs.store import RunStore
from core.vision.augment import AugmentationSchedule, RandomStrokeWidth, augment_batch
from core.vision.backbones import IMAGENET_MEAN, backbone_stages, create_backbone
from core.vision.checkpoints import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    check_resumable,
    find_checkpoint,
    load_trained_model,
)
from core.vision.data import load_image_dataset
from core.vision.prepared import PreparedData, input_spec, prepare_pictures
from core.vision.preprocess import prepare_batch
from core.vision.schedules import PLATEAU_FACTOR, PLATEAU_PATIENCE, LrSchedule
from core.vision.train import ImageTrainConfig, TrainingState, train_image_classifier
from core.vision.unfreeze import UnfreezeSchedule, set_trainable, stage_param_groups

METRICS = {
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "val_macro_f1",
    "test_loss",
    "test_accuracy",
    "test_macro_f1",
    "lr",
    "trainable_stages",
    "epoch_time_s",
}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipe", "augment", "unfreeze", "schedule"),
    [
        ("plain", False, False, "constant"),
        ("unfreeze+lr", False, True, "cosine"),
        ("augment", True, False, "constant"),
        ("all", True, True, "cosine"),
    ],
)
def test_a_recipe_sets_the_three_switches(recipe, augment, unfreeze, schedule):
    config = build_config(
        ImageTrainConfig,
        {"recipe": recipe, "augment_schedule": "true", "lr_schedule": "onecycle"},
    )
    assert (config.augment_schedule, config.gradual_unfreeze) == (augment, unfreeze)
    # an adaptive recipe keeps the adaptive schedule asked for; the others train at constant lr
    assert config.lr_schedule == ("onecycle" if schedule == "cosine" else "constant")
    assert ImageTrainConfig(recipe=recipe).lr_schedule == schedule


def test_a_custom_recipe_keeps_the_switches_as_given():
    config = ImageTrainConfig(recipe="custom", augment_schedule=True, lr_schedule="plateau")
    assert (config.augment_schedule, config.gradual_unfreeze, config.lr_schedule) == (
        True,
        False,
        "plateau",
    )


def test_gradual_unfreezing_of_a_random_network_is_refused():
    with pytest.raises(ValueError, match="gradual_unfreeze needs pretrained"):
        ImageTrainConfig(backbone="small_cnn", pretrained=False, recipe="all")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": "0"}, "epochs must be in"),
        ({"lr": "0"}, "lr must be in"),
        ({"optimizer": "adam"}, "not one of sgd, adamw"),
        ({"recipe": "everything"}, "not one of plain"),
        ({"stage_lr_decay": "1.5"}, "stage_lr_decay must be in"),
    ],
)
def test_bad_config_values_are_refused_with_the_field_name(values, message):
    with pytest.raises(ValueError, match=message):
        build_config(ImageTrainConfig, values)


# -- iterative augmentation -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["digit", "gray", "rgb"])
def test_augmentation_starts_off_and_only_grows_with_the_epoch(kind):
    schedule = AugmentationSchedule(kind, epochs=7)
    settings = [asdict(schedule.settings(epoch)) for epoch in range(1, 8)]
    assert schedule.settings(1).transform(28) is None
    for earlier, later in itertools.pairwise(settings):
        assert all(later[name] >= earlier[name] for name in earlier)
    assert settings[3]["degrees"] > 0 and (settings[3]["elastic"] + settings[3]["erase"]) == 0
    assert settings[-1]["degrees"] > settings[1]["degrees"]
    assert settings[-1]["elastic"] + settings[-1]["erase"] > 0  # the strong phase has begun


def transforms_of(kind: str, epoch: int = 7) -> set[type]:
    transform = AugmentationSchedule(kind, epochs=7).settings(epoch).transform(28)
    return {type(step) for step in transform.transforms}


def test_digits_are_never_flipped_photos_are_flipped_and_colour_jittered():
    for epoch in range(2, 8):
        assert v2.RandomHorizontalFlip not in transforms_of("digit", epoch)
    assert transforms_of("digit") >= {v2.RandomAffine, v2.ElasticTransform, RandomStrokeWidth}
    assert transforms_of("rgb") >= {v2.RandomHorizontalFlip, v2.ColorJitter, v2.RandomErasing}
    assert v2.ColorJitter not in transforms_of("gray")


@pytest.mark.parametrize("size", [8, 16, 28, 64])
def test_each_picture_of_a_batch_gets_its_own_random_transform(size):
    torch.manual_seed(0)
    image = torch.zeros(1, size, size)
    image[:, size // 4 : -size // 4, size // 2 - 2 : size // 2 + 2] = 1.0  # a bar, like a "1"
    transform = AugmentationSchedule("digit", epochs=3).settings(3).transform(size)
    batch = augment_batch(image.expand(8, 1, size, size), transform)
    assert batch.shape == (8, 1, size, size)
    assert len({tuple(picture.flatten().tolist()) for picture in batch}) == 8
    assert batch.min() >= 0 and batch.max() <= 1 + 1e-6


def test_stroke_width_thins_or_thickens_a_bar_by_one_pixel_each_side():
    bar = torch.zeros(1, 9, 9)
    bar[:, 2:7, 3:6] = 1.0  # three pixels wide
    widths = set()
    torch.manual_seed(0)
    for _ in range(40):
        widths.add(int(RandomStrokeWidth(p=0.4)(bar)[0, 4].sum()))
    assert widths == {1, 3, 5}


# -- gradual unfreezing -----------------------------------------------------------------------


def test_unfreezing_adds_one_stage_every_k_epochs_until_all_train():
    schedule = UnfreezeSchedule(n_stages=4, every=2)
    assert [schedule.trainable(epoch) for epoch in range(1, 10)] == [1, 1, 2, 2, 3, 3, 4, 4, 4]


def batchnorms(module: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    return [layer for layer in module.modules() if isinstance(layer, torch.nn.BatchNorm2d)]


@pytest.mark.parametrize("trainable", [1, 2, 3, 4])
def test_frozen_stages_lie_towards_the_stem_without_gradients_and_with_bn_in_eval(trainable):
    model = create_backbone("small_cnn", pretrained=False, num_classes=10, in_chans=1)
    stages = backbone_stages(model)
    set_trainable(model, stages, trainable)
    for position, stage in enumerate(stages):
        learning = position >= len(stages) - trainable  # the last `trainable` stages, head first
        assert all(parameter.requires_grad == learning for parameter in stage.parameters())
        assert all(layer.training == learning for layer in batchnorms(stage))


BN_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def changes_per_stage(
    trainable: int, keep_bn_statistics: bool
) -> tuple[list[set[str]], torch.nn.Module]:
    """What one AdamW step on a small_cnn changed in each stage: "weights", "statistics"."""
    model = create_backbone("small_cnn", pretrained=False, num_classes=10, in_chans=1)
    stages = backbone_stages(model)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(stage_param_groups(stages, 0.01, 0.5))
    set_trainable(model, stages, trainable, keep_bn_statistics)
    before = [{k: v.clone() for k, v in stage.state_dict().items()} for stage in stages]
    loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 1, 28, 28)), torch.arange(8))
    loss.backward()
    optimizer.step()
    changes = []
    for old, stage in zip(before, stages, strict=True):
        changed = [k for k, value in stage.state_dict().items() if not torch.equal(old[k], value)]
        changes.append({"statistics" if k.endswith(BN_STATISTICS) else "weights" for k in changed})
    return changes, model


def test_a_training_step_leaves_frozen_stages_and_their_bn_statistics_untouched():
    changes, _ = changes_per_stage(trainable=2, keep_bn_statistics=False)
    both = {"weights", "statistics"}
    assert changes == [set(), set(), both, {"weights"}]  # the head has no BatchNorm


def test_kept_bn_statistics_stay_while_the_unfrozen_weights_learn():
    changes, model = changes_per_stage(trainable=3, keep_bn_statistics=True)
    assert changes == [set(), {"weights"}, {"weights"}, {"weights"}]
    assert not any(layer.training for layer in batchnorms(model))


def test_discriminative_learning_rates_decay_from_the_head_and_cover_every_parameter():
    model = create_backbone("efficientnet_lite0", pretrained=False, num_classes=10, in_chans=1)
    stages = backbone_stages(model)
    groups = stage_param_groups(stages, lr=0.01, decay=0.5)
    assert len(groups) == len(stages)
    expected = [0.01 * 0.5 ** (len(stages) - 1 - depth) for depth in range(len(stages))]
    np.testing.assert_allclose([group["lr"] for group in groups], expected)
    grouped = [id(parameter) for group in groups for parameter in group["params"]]
    assert sorted(grouped) == sorted(id(parameter) for parameter in model.parameters())


# -- learning-rate schedules ------------------------------------------------------------------


def make_optimizer(lrs=(0.1, 0.05)) -> torch.optim.Optimizer:
    params = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(params, momentum=0.9)


def per_step_lrs(step, optimizer, steps: int) -> list[list[float]]:
    """The lr of every group before each of `steps` optimiser steps."""
    lrs = []
    for _ in range(steps):
        lrs.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        step()
    return lrs


@pytest.mark.parametrize("warmup_epochs", [0, 1, 2])
def test_warmup_cosine_matches_torchs_linear_then_cosine_schedulers(warmup_epochs):
    epochs, steps = 5, 4
    mine = make_optimizer()
    schedule = LrSchedule(mine, "cosine", epochs, steps, warmup_epochs)
    reference = make_optimizer()
    warmup, total = warmup_epochs * steps, epochs * steps
    cosine = CosineAnnealingLR(reference, T_max=total - warmup)
    if warmup:
        linear = LinearLR(reference, 1 / warmup, 1.0, total_iters=warmup - 1)
        scheduler = SequentialLR(reference, [linear, cosine], milestones=[warmup])
    else:
        scheduler = cosine
    expected = per_step_lrs(scheduler.step, reference, total)
    np.testing.assert_allclose(per_step_lrs(schedule.after_step, mine, total), expected, atol=1e-9)


def test_one_cycle_matches_torchs_one_cycle_for_every_param_group():
    mine, reference = make_optimizer(), make_optimizer()
    schedule = LrSchedule(mine, "onecycle", epochs=4, steps_per_epoch=5, warmup_epochs=1)
    scheduler = OneCycleLR(reference, max_lr=[0.1, 0.05], total_steps=20, pct_start=5 / 20)
    expected = per_step_lrs(scheduler.step, reference, 20)
    np.testing.assert_allclose(per_step_lrs(schedule.after_step, mine, 20), expected)
    assert max(lr[0] for lr in expected) == pytest.approx(0.1)  # it does reach the peak


def test_plateau_halves_the_lr_like_torchs_reduce_on_plateau_and_ignores_steps():
    val_losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8]
    mine, reference = make_optimizer(), make_optimizer()
    schedule = LrSchedule(mine, "plateau", epochs=9, steps_per_epoch=3, warmup_epochs=1)
    scheduler = ReduceLROnPlateau(
        reference, "min", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE
    )
    for loss in val_losses:
        for _ in range(3):
            schedule.after_step()
        schedule.after_epoch(loss)
        scheduler.step(loss)
        assert [g["lr"] for g in mine.param_groups] == [g["lr"] for g in reference.param_groups]
    assert mine.param_groups[0]["lr"] < 0.1 / 2  # it did reduce, twice


def test_constant_keeps_the_lr():
    optimizer = make_optimizer()
    schedule = LrSchedule(optimizer, "constant", epochs=3, steps_per_epoch=2, warmup_epochs=1)
    assert per_step_lrs(schedule.after_step, optimizer, 6)[-1] == [0.1, 0.05]
    schedule.after_epoch(1.0)
    assert [group["lr"] for group in optimizer.param_groups] == [0.1, 0.05]


# -- data and checkpoints ---------------------------------------------------------------------


def test_input_spec_uses_imagenet_statistics_for_pretrained_weights_only():
    assert input_spec("rgb", 64, pretrained=True).mean == IMAGENET_MEAN
    assert input_spec("digit", 64, pretrained=True).mean == pytest.approx((np.mean(IMAGENET_MEAN),))
    assert input_spec("gray", 28, pretrained=False).std == (0.5,)


def test_prepared_pictures_normalised_per_batch_equal_what_serving_prepares():
    dataset = load_image_dataset("digits")
    spec = input_spec("digit", 28, pretrained=True)
    unit = replace(spec, mean=(0.0,), std=(1.0,))
    data = PreparedData({}, {}, {}, dataset.classes, spec)
    pictures = prepare_pictures(dataset, np.arange(0, 40, 3), unit, chunk=4)
    served = prepare_batch([dataset.images[i] for i in range(0, 40, 3)], spec)
    np.testing.assert_allclose(data.normalize(pictures).numpy(), served, atol=1e-5)


def test_the_best_epoch_is_chosen_on_val_accuracy_then_val_loss():
    state = TrainingState()
    assert state.record({"val_accuracy": 0.8, "val_loss": 0.5})
    assert state.record({"val_accuracy": 0.9, "val_loss": 0.6})
    assert not state.record({"val_accuracy": 0.9, "val_loss": 0.7})
    assert state.record({"val_accuracy": 0.9, "val_loss": 0.4})
    assert not state.record({"val_accuracy": 0.85, "val_loss": 0.1})
    assert (state.best_epoch, state.epochs_since_best, state.epoch) == (4, 1, 5)
    assert not state.should_stop(patience=2) and not state.should_stop(patience=0)
    state.record({"val_accuracy": 0.5, "val_loss": 1.0})
    assert state.should_stop(patience=2)


def test_resuming_needs_a_checkpoint_and_the_same_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        find_checkpoint(str(tmp_path))
    config = ImageTrainConfig(resume=str(tmp_path))
    check_resumable(asdict(replace(config, resume="", device="cpu")), config)  # these may differ
    with pytest.raises(ValueError, match=r"lr=0\.1 there, 0\.001 here"):
        check_resumable(asdict(replace(config, lr=0.1)), config)


# -- real runs --------------------------------------------------------------------------------

# Small enough for seconds, big enough to learn by a wide margin: 600 pictures, 19 steps an
# epoch. With 300 the final val accuracy was 0.48-0.50 by the CPU's kernels (AVX-512, AVX2,
# plain), at the bound below; with 600 it is 0.83-0.92 over five seeds and those kernels.
QUICK = {
    "data": "digits",
    "backbone": "small_cnn",
    "pretrained": False,
    "input_size": 16,
    "epochs": 3,
    "batch_size": 32,
    "lr": 0.005,
    "limit_train": 600,
    "recipe": "custom",
    "augment_schedule": True,
    "lr_schedule": "cosine",
}


def start_run(
    store: RunStore, cancel_in_epoch: int | None = None, **values
) -> tuple[int, Exception | None]:
    """Train a QUICK config in a new run, asking the run store to cancel it as soon as
    `cancel_in_epoch` starts; returns the run id and what the training raised, if anything."""
    config = ImageTrainConfig(**{**QUICK, **values})
    run_id = store.create("engine-test", asdict(config))

    def on_progress(fraction: float, message: str) -> None:
        if message.startswith(f"epoch {cancel_in_epoch}/"):
            store.request_cancel(run_id)

    try:
        train_image_classifier(config, RunLogger(store, run_id, on_progress, min_interval_s=0))
    except RunCancelled as error:
        return run_id, error
    return run_id, None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run of 3 epochs; a run cancelled in its third epoch; that run resumed."""
    store = RunStore(tmp_path_factory.mktemp("engine") / "runs.sqlite")
    full, _ = start_run(store)
    cancelled, error = start_run(store, cancel_in_epoch=3)
    resumed, _ = start_run(store, resume=str(store.run_dir(cancelled)))
    return store, full, cancelled, error, resumed


def test_a_short_run_learns_and_logs_every_metric_every_epoch(runs):
    store, full, *_ = runs
    history = store.metrics(full)
    assert history["epoch"].tolist() == [1, 2, 3]
    assert set(history.columns) >= METRICS
    assert history[sorted(METRICS)].notna().all().all()
    assert history["val_accuracy"].iloc[-1] > 0.5  # chance is 0.1; it reaches 0.83 or more
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert history["lr"].iloc[-1] < QUICK["lr"] / 2  # cosine decays


def test_the_best_checkpoint_is_kept_and_evaluated_on_test(runs):
    store, full, *_ = runs
    run, history = store.get(full), store.metrics(full)
    best = history.sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    assert run.details["best_epoch"] == best["epoch"]
    assert run.artifacts["best_checkpoint"].endswith(BEST_CHECKPOINT)
    saved = torch.load(run.artifacts["best_checkpoint"], weights_only=True)
    assert saved["epoch"] == best["epoch"]
    predictions = np.load(run.artifacts["test_predictions"])
    accuracy = np.mean(predictions["y_true"] == predictions["y_pred"])
    assert accuracy == pytest.approx(run.details["best_test_accuracy"])
    assert accuracy == pytest.approx(best["test_accuracy"])  # the same weights as that epoch
    assert predictions["probabilities"].shape == (run.details["n_test"], 10)
    np.testing.assert_allclose(predictions["probabilities"].sum(1), 1, rtol=1e-5)


def test_the_checkpoint_predicts_the_same_on_pictures_prepared_for_serving(runs):
    store, full, *_ = runs
    run = store.get(full)
    model, spec, classes = load_trained_model(run.artifacts["best_checkpoint"])
    assert classes == [str(digit) for digit in range(10)]
    assert spec.to_dict() == run.details["input_spec"]
    predictions = np.load(run.artifacts["test_predictions"])
    dataset = load_image_dataset("digits")
    batch = prepare_batch([dataset.images[i] for i in predictions["index"]], spec)
    with torch.inference_mode():
        served = model(torch.from_numpy(batch)).argmax(1).numpy()
    np.testing.assert_array_equal(served, predictions["y_pred"])
    np.testing.assert_array_equal(dataset.labels[predictions["index"]], predictions["y_true"])


def test_a_cancel_through_the_logger_stops_the_run_within_the_epoch(runs):
    store, _, cancelled, error, _ = runs
    assert isinstance(error, RunCancelled)
    assert store.metrics(cancelled)["epoch"].tolist() == [1, 2]
    saved = torch.load(store.run_dir(cancelled) / LAST_CHECKPOINT, weights_only=True)
    assert saved["state"]["epoch"] == 2


def test_a_resumed_run_continues_at_the_next_epoch_exactly_as_if_never_stopped(runs):
    store, full, _, _, resumed = runs
    history, reference = store.metrics(resumed), store.metrics(full)
    assert history["epoch"].tolist() == [1, 2, 3]
    columns = sorted(METRICS - {"epoch_time_s"})
    np.testing.assert_allclose(
        history[columns].to_numpy(), reference[columns].to_numpy(), rtol=1e-6
    )
    assert store.get(resumed).details["epochs_run"] == 3
    assert (store.run_dir(resumed) / BEST_CHECKPOINT).is_file()
