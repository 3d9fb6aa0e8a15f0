"""Self-supervised pretraining: context prediction, then classifiers on few labels.

    DATA_context    pretrain the SmallCNN trunk by context prediction, labels unused
    DATA_finetune   the SmallCNN classifier on `label_fraction` of the labels, from random init
                    or, with init_from = a DATA_context run id (or its folder / extractor.pt),
                    from the pretrained trunk; its default sweep runs 100 %, 50 % and 10 %

Both classifier variants share every hyper-parameter (plain recipe: constant lr, no
augmentation, so the curves show the initialisation and nothing else). The ImageNet reference is
the same experiment with backbone=efficientnet_lite0 pretrained=true input_size=32.
core.reports.ssl runs them all and writes the comparison.
"""

from dataclasses import replace
from functools import partial

from core.experiments.images import check_image_data
from core.experiments.registry import Experiment, register
from core.vision.data import missing_data
from core.vision.pretext import ContextConfig, train_context_prediction
from core.vision.train import ImageTrainConfig, train_image_classifier

LABEL_FRACTIONS = (1.0, 0.5, 0.1)

# prefix -> (data set, pretext defaults, classifier defaults)
SSL_DATA: dict[str, tuple[str, dict, dict]] = {
    "digits": (
        "scikit-learn digits (1,797 8x8 images, shown at 28x28)",
        {"data": "digits", "epochs": 30, "pairs_per_image": 8, "batch_size": 128},
        {"data": "digits", "epochs": 30, "batch_size": 32, "lr": 1e-3},
    ),
    "fashion": (
        "Fashion-MNIST (60,000 + 10,000 28x28 pictures)",
        {"data": "fashion-mnist", "epochs": 12, "pairs_per_image": 1, "batch_size": 128},
        {
            "data": "fashion-mnist",
            "epochs": 10,
            "batch_size": 64,
            "lr": 1e-3,
            "limit_train": 10000,
        },
    ),
}
_CLASSIFIER = {"backbone": "small_cnn", "pretrained": False, "input_size": 28, "recipe": "plain"}


def resolve_init_from(config: ImageTrainConfig, logger) -> ImageTrainConfig:
    """A run id in `init_from` -> that run's extractor in the logger's run store.

    A run id is a name, not a path, so building the config left it alone; the artifact lies in
    the run store's folder, which `core.paths.confine` always refuses, so the config is changed
    with `replace`, never built again."""
    if not config.init_from.isdigit():
        return config
    run = logger.store.get(int(config.init_from))  # KeyError names a missing run
    if run.status != "done" or "extractor" not in run.artifacts:
        raise ValueError(
            f"init_from: run {run.id} ({run.experiment}, {run.status}) has no finished "
            "extractor: give a done context-prediction run"
        )
    logger.details(init_from_run=run.id, init_from_data=run.config.get("data"))
    return replace(config, init_from=run.artifacts["extractor"])


def train_finetune(config: ImageTrainConfig, logger) -> None:
    """`train_image_classifier`, with `init_from` allowed to name a run of the store."""
    train_image_classifier(resolve_init_from(config, logger), logger)


def check_context_data(config: ContextConfig) -> None:
    check_image_data(config.image_config(), limit_name="limit_images")


for _prefix, (_description, _pretext, _classifier) in SSL_DATA.items():
    register(
        Experiment(
            f"{_prefix}_context",
            f"{_description}: self-supervised context prediction (8 relative positions of "
            "patch pairs), SmallCNN trunk, labels unused",
            ContextConfig,
            train_context_prediction,
            defaults=_pretext,
            metric="accuracy",
            selection_metric="val_accuracy",
            grid={"patch_size": (4, 5, 6)},
            check_data=check_context_data,
            family="self-supervised",
            data_missing=partial(missing_data, _pretext["data"]),
        )
    )
    register(
        Experiment(
            f"{_prefix}_finetune",
            f"{_description}: SmallCNN classifier on a fraction of the labels, from random init "
            f"or from a {_prefix}_context run (init_from = its run id)",
            ImageTrainConfig,
            train_finetune,
            defaults={**_CLASSIFIER, **_classifier},
            metric="accuracy",
            selection_metric="val_accuracy",
            grid={"label_fraction": LABEL_FRACTIONS},
            check_data=check_image_data,
            family="self-supervised",
            data_missing=partial(missing_data, _classifier["data"]),
        )
    )
