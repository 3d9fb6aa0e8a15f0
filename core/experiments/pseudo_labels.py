"""Pseudo-labeling experiments: few labels, a teacher, pseudo-labels, a student.

`digits_pseudo` and `fashion_pseudo` train the from-scratch SmallCNN with the recipe of the
supervised experiment they are compared with (`digits_cnn`, and `fashion_cnn` as it reached
93.10 % test: 15 epochs, no augmentation), on the same split: only the labels differ. The
default sweep tries four confidence thresholds, chosen on val like every sweep.
"""

from functools import partial

from core.experiments.images import SCRATCH_CNNS, SCRATCH_RECIPE, check_image_data
from core.experiments.registry import Experiment, register
from core.vision.data import missing_data
from core.vision.pseudo_labeling import PseudoLabelConfig, train_with_pseudo_labels

PSEUDO_EXPERIMENTS: dict[str, tuple[str, str, dict]] = {
    "digits_pseudo": (
        "digits_cnn",
        "scikit-learn digits, 10 % of the training labels: a SmallCNN teacher labels the rest, "
        "a fresh student learns from the labels and the confident pseudo-labels",
        {},
    ),
    "fashion_pseudo": (
        "fashion_cnn",
        "Fashion-MNIST, 10 % of the training labels: a SmallCNN teacher labels the rest, a "
        "fresh student learns from the labels and the confident pseudo-labels",
        {"epochs": 15, "augment_schedule": False},
    ),
}

for _name, (_supervised, _description, _changes) in PSEUDO_EXPERIMENTS.items():
    register(
        Experiment(
            _name,
            _description,
            PseudoLabelConfig,
            train_with_pseudo_labels,
            defaults={**SCRATCH_CNNS[_supervised][1], **SCRATCH_RECIPE, **_changes},
            metric="accuracy",
            selection_metric="val_accuracy",
            grid={"threshold": (0.8, 0.9, 0.95, 0.99)},
            check_data=check_image_data,
            family="pseudo-labels",
            data_missing=partial(missing_data, SCRATCH_CNNS[_supervised][1]["data"]),
        )
    )
