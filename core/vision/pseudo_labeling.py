"""Pseudo-labeling: a teacher trained on few labels labels a pool of unlabeled pictures, and a
student learns from both.

    dlstudio train digits_pseudo --label_fraction 0.1 --threshold 0.95
    dlstudio train fashion_pseudo --label_fraction 0.5 --top_k 3000 --rounds 2

The training split of the usual train/val/test split is cut in two, stratified: a labeled part
(`label_fraction` of each class: the pictures the supervised experiments keep with that
`label_fraction`) and an unlabeled pool. The pool's labels are hidden: they never reach
training and only score the pseudo-labels afterwards. The val and test splits are the
supervised experiments' own (same `split_seed`), so the numbers compare on the same test
pictures.

1. Teacher: the image training loop (`train_image_classifier`) on the labeled part alone, i.e. the
   supervised baseline with few labels.
2. The teacher's best checkpoint labels the pool. A pseudo-label is accepted when the teacher's
   probability for it is at least `threshold`; with `top_k`, at most the k most confident of
   each predicted class are (classes stay balanced even where the teacher is surer of some).
3. Student: a freshly initialised network (same seed, same recipe) trained by the same loop on
   the labeled part plus the accepted pseudo-labels. A fresh start keeps the teacher's mistakes
   from being its starting point, as in Lee (2013) and Noisy Student.
4. With `rounds` > 1 the student becomes the next teacher: it relabels the whole pool and a
   new student trains on the new selection.

One run holds every stage. Epochs are numbered on across the stages (the teacher's, then the
first student's, ...) with a `stage` column (0: teacher, r: the student of round r), so the
Training tab draws the run as one set of curves; the student epochs also carry
`pseudo_accepted` and `pseudo_accuracy`. Each stage keeps its files (best.pt, last.pt,
test_predictions.npz) in a sub-folder of the run's folder and its facts under its name in the
run's details; the final student's are also the run's own, so the Classifier tab serves it.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.config import check_range
from core.device import pick_device
from core.vision.checkpoints import BEST_CHECKPOINT, LAST_CHECKPOINT, load_trained_model
from core.vision.evaluation import evaluate
from core.vision.prepared import PreparedData, fraction_subset
from core.vision.train import (
    MAX_PICTURES,
    ImageTrainConfig,
    prepare_data,
    train_image_classifier,
)


@dataclass
class PseudoLabelConfig(ImageTrainConfig):
    """An image-classifier config plus the pseudo-label selection. `label_fraction` (checked
    by ImageTrainConfig) keeps its meaning, the fraction of the training labels used, but the
    rest of the training split becomes the unlabeled pool instead of being left out."""

    label_fraction: float = field(
        default=0.1,
        metadata={
            "help": "stratified fraction of the training split that keeps its labels; the "
            "rest is the unlabeled pool"
        },
    )
    threshold: float = field(
        default=0.95,
        metadata={"help": "accept a pseudo-label when the teacher's probability is >= this"},
    )
    top_k: int = field(
        default=0,
        metadata={"help": "accept at most this many per predicted class, most confident (0: all)"},
    )
    rounds: int = field(
        default=1, metadata={"help": "teacher -> student rounds; each student relabels the pool"}
    )
    equal_budget: bool = field(
        default=True,
        metadata={
            "help": "repeat a stage's pictures so each epoch draws about the training split's "
            "size (the teacher on few labels takes as many steps as the student)"
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("threshold", self.threshold, low=0, high=1)
        check_range("top_k", self.top_k, low=0, high=MAX_PICTURES)
        check_range("rounds", self.rounds, low=1, high=20)
        if self.resume:
            raise ValueError("resume: a pseudo-labeling run has several stages; start it anew")


# -- the split: a labeled part and an unlabeled pool ------------------------------------------


@dataclass
class UnlabeledPool:
    """The training pictures whose labels are hidden from training."""

    x: torch.Tensor  # [0, 1] pictures, as PreparedData keeps them
    index: np.ndarray  # positions in the data set
    hidden_labels: np.ndarray  # the true labels: only ever used to score pseudo-labels


def split_labeled(
    data: PreparedData, fraction: float, seed: int
) -> tuple[PreparedData, UnlabeledPool]:
    """The labeled part (`fraction` of each class of the training split) as the training split
    of `data`, and the rest as an unlabeled pool; val and test stay as they are.

    The labeled part is what `prepare_data` keeps with `label_fraction` = `fraction` and the
    same seed: the supervised experiments on few labels train on the same pictures.
    """
    check_range("label_fraction", fraction, low=0, low_inclusive=False, high=1)
    labels = data.y["train"].numpy()
    labeled = fraction_subset(np.arange(len(labels)), labels, fraction, seed)
    pool = np.setdiff1d(np.arange(len(labels)), labeled)
    return (
        with_training_set(
            data, data.x["train"][labeled], data.y["train"][labeled], data.index["train"][labeled]
        ),
        UnlabeledPool(
            x=data.x["train"][pool], index=data.index["train"][pool], hidden_labels=labels[pool]
        ),
    )


def prepare_labeled_and_pool(config: PseudoLabelConfig) -> tuple[PreparedData, UnlabeledPool]:
    """`prepare_data` of the whole training split, then `split_labeled` by `label_fraction`."""
    everything = prepare_data(replace(config, label_fraction=1.0))
    return split_labeled(everything, config.label_fraction, config.split_seed)


def with_training_set(
    data: PreparedData, x: torch.Tensor, y: torch.Tensor, index: np.ndarray
) -> PreparedData:
    """`data` with another training split (pictures, labels, data set positions)."""
    return replace(
        data,
        x={**data.x, "train": x},
        y={**data.y, "train": y},
        index={**data.index, "train": index},
    )


def with_pseudo_labels(
    labeled: PreparedData, pool: UnlabeledPool, accepted: np.ndarray, pseudo_labels: np.ndarray
) -> PreparedData:
    """The student's data: the labeled part plus the accepted pool pictures with their
    pseudo-labels (`pseudo_labels[i]` is the label of pool picture `accepted[i]`)."""
    return with_training_set(
        labeled,
        torch.cat([labeled.x["train"], pool.x[accepted]]),
        torch.cat([labeled.y["train"], torch.as_tensor(pseudo_labels, dtype=torch.int64)]),
        np.concatenate([labeled.index["train"], pool.index[accepted]]),
    )


# -- selecting pseudo-labels ------------------------------------------------------------------


def select_pseudo_labels(
    probabilities: np.ndarray, threshold: float, top_k: int | None = None
) -> np.ndarray:
    """Sorted row positions whose pseudo-label (the most probable class) is accepted.

    A row is accepted when its top probability is at least `threshold`; with `top_k`, at most
    the `top_k` most confident accepted rows of each predicted class are kept. Equal confidences
    are ordered by position (the earlier row first), so the selection depends on the table alone.
    """
    check_range("threshold", threshold, low=0, high=1)
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 (None: no cap), got {top_k}")
    confidence = probabilities.max(1)
    predicted = probabilities.argmax(1)
    passing = np.flatnonzero(confidence >= threshold)
    if top_k is None:
        return passing
    ranked = passing[np.lexsort((passing, -confidence[passing]))]  # surest first, then position
    kept = [ranked[predicted[ranked] == label][:top_k] for label in range(probabilities.shape[1])]
    return np.sort(np.concatenate(kept))


@dataclass
class PseudoLabels:
    """One round's labeling of the pool and what it accepted, scored against the hidden labels."""

    predicted: np.ndarray  # the labeler's class for every pool picture
    confidence: np.ndarray  # its probability
    accepted: np.ndarray  # sorted pool positions whose pseudo-label joins training
    labeler_pool_accuracy: float  # the labeler on the whole pool

    def score(self, hidden_labels: np.ndarray, n_classes: int) -> dict[str, Any]:
        """How many were accepted (in all and per class) and how many of those are right."""
        labels, truth = self.predicted[self.accepted], hidden_labels[self.accepted]
        per_class = np.bincount(labels, minlength=n_classes)
        right = np.bincount(labels[labels == truth], minlength=n_classes)
        return {
            "accepted": len(self.accepted),
            "accuracy": float(np.mean(labels == truth)) if len(labels) else None,
            "accepted_per_class": per_class.tolist(),
            "accuracy_per_class": [
                float(r / n) if n else None for r, n in zip(right, per_class, strict=True)
            ],
            "labeler_pool_accuracy": self.labeler_pool_accuracy,
        }


def label_pool(
    checkpoint: Path,
    data: PreparedData,
    pool: UnlabeledPool,
    config: PseudoLabelConfig,
    device: torch.device,
) -> PseudoLabels:
    """The checkpoint's predictions on the pool and the selection `config` asks for."""
    model, _, _ = load_trained_model(checkpoint)
    # The hidden labels only score the labeler here; the probabilities never see them.
    result = evaluate(
        model.to(device), pool.x, torch.from_numpy(pool.hidden_labels), data.normalize, device
    )
    return PseudoLabels(
        predicted=result.predictions,
        confidence=result.probabilities.max(1),
        accepted=select_pseudo_labels(result.probabilities, config.threshold, config.top_k or None),
        labeler_pool_accuracy=result.accuracy,
    )


# -- the run ----------------------------------------------------------------------------------


class StageLogger:
    """The run's logger as one stage sees it: the stage's epochs numbered on from `first_epoch`
    with `extra` metrics added, its details kept under its name, its artifacts prefixed with it,
    its files in a sub-folder and its progress a slice of the run's."""

    def __init__(
        self,
        logger,
        name: str,
        stage: int,
        n_stages: int,
        first_epoch: int,
        extra: dict[str, float],
    ):
        self.logger = logger
        self.name = name
        self.stage = stage
        self.n_stages = n_stages
        self.first_epoch = first_epoch
        self.extra = extra
        self.facts: dict[str, Any] = {}

    @property
    def run_dir(self) -> Path:
        path = self.logger.run_dir / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def progress(self, fraction: float, message: str = "") -> None:
        self.logger.progress((self.stage + fraction) / self.n_stages, f"{self.name}: {message}")

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.logger.log_epoch(
            self.first_epoch + epoch - 1, {**metrics, "stage": self.stage, **self.extra}
        )

    def details(self, **facts: object) -> None:
        self.facts.update(facts)
        self.logger.details(**{self.name: self.facts})

    def artifact(self, name: str, path: str | Path) -> None:
        self.logger.artifact(f"{self.name}_{name}", path)

    @property
    def next_epoch(self) -> int:
        """The run's epoch number after this stage's last."""
        return self.first_epoch + self.facts["epochs_run"]


def stage_repeats(config: PseudoLabelConfig, n_train: int, n_stage: int) -> int:
    """How many times a stage that trains on `n_stage` pictures repeats them in an epoch.

    With `equal_budget`, about enough for an epoch to draw `n_train` pictures, as the supervised
    run on the whole training split does: every stage then takes as many optimiser steps, and
    is evaluated as often. Without it, a teacher on 10 % of the labels would take a tenth of the
    steps (on digits, 20 epochs of 126 pictures: 85 % test; 60 epochs: 94 %), and the
    student's gain would be partly its longer training.
    """
    return max(1, round(n_train / n_stage)) if config.equal_budget else 1


def repeat_training_set(data: PreparedData, times: int) -> PreparedData:
    """`data` with its training pictures `times` over (shuffling mixes the copies)."""
    x, y, index = data.x["train"], data.y["train"], data.index["train"]
    return with_training_set(data, x.repeat(times, 1, 1, 1), y.repeat(times), np.tile(index, times))


def train_stage(
    config: PseudoLabelConfig, stage: StageLogger, data: PreparedData, n_train: int
) -> None:
    """Train one stage with the image training loop on `data`'s training split, repeated as
    `stage_repeats` says."""
    n_stage = len(data.y["train"])
    repeats = stage_repeats(config, n_train, n_stage)
    stage.details(n_distinct_train=n_stage, repeats=repeats)
    train_image_classifier(config, stage, repeat_training_set(data, repeats))


def train_with_pseudo_labels(config: PseudoLabelConfig, logger) -> None:
    """Teacher on the labeled part, then `rounds` of pool labeling and a fresh student.

    The run's details gain `n_labeled`, `n_pool`, `rounds` (per round: the labeler's accuracy
    on the pool, how many pseudo-labels were accepted in all and per class, their accuracy
    against the hidden labels, the student's val and test accuracy), and the summary
    `teacher_test_accuracy`, `student_test_accuracy`, `pseudo_accepted` and `pseudo_accuracy`
    (the last round's).
    """
    device = pick_device(config.device)
    labeled, pool = prepare_labeled_and_pool(config)
    n_classes, n_labeled = len(labeled.classes), len(labeled.y["train"])
    n_train = n_labeled + len(pool.index)
    logger.details(n_labeled=n_labeled, n_pool=len(pool.index))
    n_stages = 1 + config.rounds if len(pool.index) else 1
    stage = StageLogger(logger, "teacher", 0, n_stages, 1, {"pseudo_accepted": 0})
    train_stage(config, stage, labeled, n_train)
    teacher = stage
    rounds: list[dict[str, Any]] = []
    for round_number in range(1, n_stages):
        pseudo = label_pool(stage.run_dir / BEST_CHECKPOINT, labeled, pool, config, device)
        scored = pseudo.score(pool.hidden_labels, n_classes)
        path = logger.run_dir / f"pseudo_labels_round{round_number}.npz"
        np.savez(
            path,
            index=pool.index,
            predicted=pseudo.predicted,
            confidence=pseudo.confidence,
            accepted=pseudo.accepted,
            hidden_labels=pool.hidden_labels,
        )
        logger.artifact(f"pseudo_labels_round{round_number}", path)
        extra = {"pseudo_accepted": scored["accepted"]}
        if scored["accuracy"] is not None:
            extra["pseudo_accuracy"] = scored["accuracy"]
        stage = StageLogger(
            logger, f"student{round_number}", round_number, n_stages, stage.next_epoch, extra
        )
        student_data = with_pseudo_labels(
            labeled, pool, pseudo.accepted, pseudo.predicted[pseudo.accepted]
        )
        train_stage(config, stage, student_data, n_train)
        rounds.append(
            {
                "round": round_number,
                **scored,
                "student_val_accuracy": stage.facts["best_val_accuracy"],
                "student_test_accuracy": stage.facts["best_test_accuracy"],
            }
        )
        logger.details(rounds=rounds)

    final = {**stage.facts, "best_epoch": stage.first_epoch + stage.facts["best_epoch"] - 1}
    for name, file in (
        ("best_checkpoint", BEST_CHECKPOINT),
        ("last_checkpoint", LAST_CHECKPOINT),
        ("test_predictions", "test_predictions.npz"),
    ):
        logger.artifact(name, stage.run_dir / file)
    logger.details(
        **final,
        teacher_test_accuracy=teacher.facts["best_test_accuracy"],
        student_test_accuracy=stage.facts["best_test_accuracy"],
        pseudo_accepted=rounds[-1]["accepted"] if rounds else 0,
        pseudo_accuracy=rounds[-1]["accuracy"] if rounds else None,
    )
