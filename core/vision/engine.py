"""One training loop for every image experiment, and the three methods it can switch on.

    train_image_classifier(config, logger)

Read it top to bottom: the config, the three methods (each a small piece with its own test),
the data, then the loop.

- `AugmentationSchedule`: iterative augmentation, none at first and stronger as training goes.
- `UnfreezeSchedule` + `stage_param_groups`: gradual unfreezing from the head towards the stem,
  with a smaller learning rate for each earlier stage (discriminative learning rates).
- `LrSchedule`: constant, ReduceLROnPlateau on the val loss, warm-up + cosine, or one-cycle.

A `recipe` switches them on together, so the assignment's four variants (plain, + unfreezing
and adaptive lr, + augmentation, all) are one sweep over `recipe`.

Data: the pictures are prepared once per run by `core.vision.preprocess.prepare_batch`, the code
serving runs on a user's picture, into [0, 1] tensors kept in memory (mean 0, std 1 in the
spec). Augmentation works on those, and each batch is then normalised with the spec's mean and
std, which makes it what `prepare(image, spec)` gives at serving time.
"""

import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.transforms import v2

from core.config import check_range
from core.device import autocast, pick_device
from core.vision.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    backbone_stages,
    create_backbone,
    list_backbones,
)
from core.vision.data import (
    DATA_SOURCES,
    ImageDataset,
    dataset_splits,
    load_image_dataset,
    stratified_subset,
)
from core.vision.preprocess import InputSpec, prepare_batch

# recipe: (augment_schedule, gradual_unfreeze, adaptive learning rate)
RECIPES: dict[str, tuple[bool, bool, bool]] = {
    "plain": (False, False, False),
    "unfreeze+lr": (False, True, True),
    "augment": (True, False, False),
    "all": (True, True, True),
}
LR_SCHEDULES = ("constant", "plateau", "onecycle", "cosine")
PLATEAU_FACTOR = 0.5  # ReduceLROnPlateau: halve the learning rate ...
PLATEAU_PATIENCE = 1  # ... after one epoch without a lower val loss
SPLITS = ("train", "val", "test")
LAST_CHECKPOINT = "last.pt"
EXTRACTOR_CHECKPOINT = "extractor.pt"  # a self-supervised feature extractor (init_from)
BEST_CHECKPOINT = "best.pt"


@dataclass
class ImageTrainConfig:
    """Data, network, optimiser and recipe of one image-classifier run."""

    data: str = field(
        default="digits",
        metadata={"help": "built-in image data set", "choices": tuple(DATA_SOURCES)},
    )
    data_root: str = field(
        default="", metadata={"help": "folder of the data set (MNIST IDX files, AFHQ photos)"}
    )
    backbone: str = field(
        default="efficientnet_lite0",
        metadata={"help": "network (core.vision.backbones)", "choices": tuple(list_backbones())},
    )
    pretrained: bool = field(
        default=True, metadata={"help": "start from ImageNet weights (else random init)"}
    )
    input_size: int = field(default=64, metadata={"help": "side of the square input, pixels"})
    epochs: int = field(default=10, metadata={"help": "passes over the training split (1-1000)"})
    batch_size: int = field(default=64, metadata={"help": "pictures per optimiser step"})
    lr: float = field(default=1e-3, metadata={"help": "learning rate (of the head)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "decoupled weight decay"})
    optimizer: str = field(
        default="adamw",
        metadata={"help": "sgd: Nesterov momentum 0.9", "choices": ("sgd", "adamw")},
    )
    recipe: str = field(
        default="plain",
        metadata={
            "help": "plain | unfreeze+lr | augment | all set the three switches below; "
            "custom: use them as given",
            "choices": (*RECIPES, "custom"),
        },
    )
    augment_schedule: bool = field(
        default=False, metadata={"help": "iterative augmentation, stronger every epoch"}
    )
    gradual_unfreeze: bool = field(
        default=False,
        metadata={"help": "train the head first, then unfreeze one stage at a time"},
    )
    unfreeze_every: int = field(
        default=1, metadata={"help": "gradual unfreezing: epochs between two unfrozen stages"}
    )
    stage_lr_decay: float = field(
        default=0.7,
        metadata={"help": "gradual unfreezing: each earlier stage's lr is this times the next's"},
    )
    lr_schedule: str = field(
        default="constant",
        metadata={
            "help": "constant or adaptive; a recipe with adaptive lr turns constant into cosine",
            "choices": LR_SCHEDULES,
        },
    )
    warmup_epochs: int = field(
        default=1, metadata={"help": "cosine / onecycle: linear warm-up (at most half the run)"}
    )
    early_stopping_patience: int = field(
        default=0, metadata={"help": "stop after this many epochs without a better val (0: off)"}
    )
    seed: int = field(
        default=0, metadata={"help": "seed of the initialisation, the batches and augmentation"}
    )
    split_seed: int = field(
        default=0,
        metadata={"help": "seed of the train/val/test split: keep it fixed to compare seeds"},
    )
    device: str = field(
        default="auto",
        metadata={
            "help": "auto: CUDA with mixed precision when present",
            "choices": ("auto", "cpu", "cuda"),
        },
    )
    limit_train: int = field(
        default=0, metadata={"help": "train on this many pictures only, stratified (0: all)"}
    )
    resume: str = field(
        default="", metadata={"help": "continue from a run folder or its last.pt checkpoint"}
    )
    label_fraction: float = field(
        default=1.0,
        metadata={"help": "train on this fraction of the training labels, stratified (1: all)"},
    )
    init_from: str = field(
        default="",
        metadata={
            "help": "start the feature extractor from a self-supervised one: a context "
            "prediction run folder or its extractor.pt (core.vision.pretext)"
        },
    )

    def __post_init__(self) -> None:
        check_range("input_size", self.input_size, low=8, high=1024)
        check_range("epochs", self.epochs, low=1, high=1000)
        check_range("batch_size", self.batch_size, low=2, high=65536)
        check_range("lr", self.lr, low=0, low_inclusive=False, high=10)
        check_range("weight_decay", self.weight_decay, low=0, high=10)
        check_range("unfreeze_every", self.unfreeze_every, low=1, high=1000)
        check_range("stage_lr_decay", self.stage_lr_decay, low=0, low_inclusive=False, high=1)
        check_range("warmup_epochs", self.warmup_epochs, low=0, high=1000)
        check_range("early_stopping_patience", self.early_stopping_patience, low=0, high=1000)
        check_range("limit_train", self.limit_train, low=0)
        check_range("label_fraction", self.label_fraction, low=0, low_inclusive=False, high=1)
        if self.init_from and self.pretrained:
            raise ValueError(
                "init_from replaces the initial weights: use pretrained=false with init_from"
            )
        if self.recipe in RECIPES:
            self.augment_schedule, self.gradual_unfreeze, adaptive = RECIPES[self.recipe]
            if not adaptive:
                self.lr_schedule = "constant"
            elif self.lr_schedule == "constant":
                self.lr_schedule = "cosine"
        if self.gradual_unfreeze and not self.pretrained:
            raise ValueError(
                "gradual_unfreeze needs pretrained=true: unfreezing a randomly initialised "
                "network stage by stage would train the head on random features"
            )


# -- iterative augmentation -------------------------------------------------------------------


class RandomStrokeWidth(v2.Transform):
    """Thinner or thicker strokes: a 3x3 grey-level erosion or dilation, each with probability
    `p`, for light ink on a dark background. People draw with thin and thick pens, while
    scikit-learn's 8x8 digits all have thick strokes once enlarged: in a first trial on
    tests/drawn_digits, thinner and thicker strokes lifted a small CNN from 64 % to 71 %."""

    def __init__(self, p: float):
        super().__init__()
        check_range("stroke width probability", p, low=0, high=0.5)
        self.p = p

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        draw = float(torch.rand(()))
        return {"sign": -1.0 if draw < self.p else 1.0 if draw > 1 - self.p else 0.0}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        sign = params["sign"]
        if sign == 0 or not isinstance(inpt, torch.Tensor):
            return inpt
        return sign * F.max_pool2d(sign * inpt, 3, stride=1, padding=1)  # -max(-x) is min(x)


@dataclass(frozen=True)
class AugmentSettings:
    """How strongly one epoch augments: each number 0 means that transform is off."""

    degrees: float = 0.0  # random rotation, +- degrees
    translate: float = 0.0  # random shift, fraction of the side
    scale: float = 0.0  # random zoom, +- fraction
    elastic: float = 0.0  # elastic distortion: ElasticTransform's alpha for a 28-px picture
    stroke: float = 0.0  # probability of thinner strokes, and again of thicker ones
    erase: float = 0.0  # probability of erasing a random rectangle
    flip: float = 0.0  # probability of a horizontal flip
    jitter: float = 0.0  # colour jitter of brightness, contrast and saturation

    @property
    def active(self) -> bool:
        return any(value > 0 for value in asdict(self).values())

    def transform(self, size: int) -> v2.Transform | None:
        """The torchvision v2 pipeline for one [0, 1] picture (C, size, size); None when off.

        The elastic distortion's smoothness (sigma 5 at 28 px) and displacement scale with
        `size`, so a distortion looks the same at every input size.
        """
        if not self.active:
            return None
        steps: list[v2.Transform] = []
        if self.flip:
            steps.append(v2.RandomHorizontalFlip(self.flip))
        if self.jitter:
            steps.append(v2.ColorJitter(self.jitter, self.jitter, self.jitter))
        if self.degrees or self.translate or self.scale:
            steps.append(
                v2.RandomAffine(
                    self.degrees,
                    translate=(self.translate, self.translate),
                    scale=(1 - self.scale, 1 + self.scale),
                    interpolation=v2.InterpolationMode.BILINEAR,
                )
            )
        if self.stroke:
            steps.append(RandomStrokeWidth(self.stroke))
        if self.elastic:
            scale = size / 28
            steps.append(v2.ElasticTransform(alpha=self.elastic * scale**2, sigma=5.0 * scale))
        if self.erase:
            steps.append(v2.RandomErasing(self.erase, scale=(0.02, 0.15)))
        return v2.Compose(steps)


@dataclass(frozen=True)
class AugmentationSchedule:
    """Iterative augmentation: a pure function of (epoch, total epochs) -> `AugmentSettings`.

    The first epoch sees the pictures as they are. Shifts, rotations and zoom then grow to full
    strength by the middle of the run; in the second half a stronger transform grows in on top:
    elastic distortion for handwritten digits, random erasing for the others. Digits get thinner
    and thicker strokes with the shifts; photos and Fashion-MNIST get horizontal flips (photos
    colour jitter too). Digits are never flipped: a mirrored digit is not the same digit.
    """

    kind: str  # the InputSpec kind: "digit", "gray" or "rgb"
    epochs: int

    def strength(self, epoch: int) -> tuple[float, float]:
        """(geometric, strong) strengths in [0, 1] for `epoch` (1-based), never decreasing."""
        progress = (epoch - 1) / (self.epochs - 1) if self.epochs > 1 else 0.0
        return min(1.0, 2 * progress), max(0.0, 2 * progress - 1)

    def settings(self, epoch: int) -> AugmentSettings:
        geometric, strong = self.strength(epoch)
        digit = self.kind == "digit"
        return AugmentSettings(
            degrees=12 * geometric,
            translate=0.1 * geometric,
            scale=0.1 * geometric,
            elastic=30 * strong if digit else 0.0,
            stroke=0.35 * geometric if digit else 0.0,
            erase=0.0 if digit else 0.5 * strong,
            flip=0.0 if digit else 0.5 * geometric,
            jitter=0.3 * geometric if self.kind == "rgb" else 0.0,
        )


def augment_batch(images: torch.Tensor, transform: v2.Transform) -> torch.Tensor:
    """Apply `transform` to each picture on its own (a batched call would share one draw)."""
    return torch.stack([transform(image) for image in images])


# -- gradual unfreezing and discriminative learning rates -------------------------------------


@dataclass(frozen=True)
class UnfreezeSchedule:
    """Gradual unfreezing: the head trains alone first, then every `every` epochs the next
    stage towards the stem joins, until the whole network trains."""

    n_stages: int
    every: int = 1

    def trainable(self, epoch: int) -> int:
        """How many stages, counted from the head, train in `epoch` (1-based)."""
        return min(self.n_stages, 1 + (epoch - 1) // self.every)


def set_trainable(
    model: nn.Module, stages: list[nn.Module], trainable: int, keep_bn_statistics: bool = False
) -> None:
    """Train mode with only the last `trainable` stages learning.

    The frozen stages get requires_grad False (no gradients are computed through them) and stay
    in eval mode, so their BatchNorm layers keep the pretrained running statistics.

    `keep_bn_statistics` keeps every BatchNorm layer in eval mode, the unfrozen ones too (their
    scale and shift still learn), as gradual unfreezing does. Otherwise a stage that unfreezes
    switches from its stored statistics to each batch's, which shifts every feature after it at
    once; under a decaying lr the head cannot follow. Measured on digits (Lite0, cosine lr, one
    stage an epoch): val accuracy fell from 0.96 to 0.51 over 8 epochs; with the statistics kept
    it rose to 0.97.
    """
    model.train()
    frozen = len(stages) - trainable
    for position, stage in enumerate(stages):
        stage.requires_grad_(position >= frozen)
        if position < frozen:
            stage.eval()
    if keep_bn_statistics:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()


def stage_param_groups(stages: list[nn.Module], lr: float, decay: float) -> list[dict[str, Any]]:
    """One optimizer param group per stage (stem first): the head's lr is `lr`, and each
    earlier stage's is `decay` times the next one's, so lr * decay**depth from the head."""
    groups = []
    for position, stage in enumerate(stages):
        params = list(stage.parameters())
        if params:
            depth = len(stages) - 1 - position
            groups.append({"params": params, "lr": lr * decay**depth})
    return groups


# -- learning-rate schedules ------------------------------------------------------------------


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """The lr multiplier at `step`: linear warm-up to 1 over `warmup_steps`, then half a cosine
    from 1 towards 0 at `total_steps`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * progress))


class LrSchedule:
    """The four learning-rate schedules behind one interface.

    `after_step()` follows every optimiser step (cosine and one-cycle change the lr per step),
    `after_epoch(val_loss)` every epoch (ReduceLROnPlateau halves the lr when the val loss did
    not improve for PLATEAU_PATIENCE epochs). Every param group keeps its own ratio to the head.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        kind: str,
        epochs: int,
        steps_per_epoch: int,
        warmup_epochs: int,
    ):
        total = epochs * steps_per_epoch
        warmup = min(warmup_epochs, epochs // 2) * steps_per_epoch
        self.kind = kind
        self.scheduler: Any = None
        if kind == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, "min", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE
            )
        elif kind == "cosine":
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, partial(warmup_cosine, total_steps=total, warmup_steps=warmup)
            )
        elif kind == "onecycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=[group["lr"] for group in optimizer.param_groups],
                total_steps=total,
                pct_start=max(warmup, 1) / total,
            )
        elif kind != "constant":
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, not {kind!r}")

    def after_step(self) -> None:
        if self.kind in ("cosine", "onecycle"):
            self.scheduler.step()

    def after_epoch(self, val_loss: float) -> None:
        if self.kind == "plateau":
            self.scheduler.step(val_loss)

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict() if self.scheduler else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler:
            self.scheduler.load_state_dict(state)


# -- data -------------------------------------------------------------------------------------


def input_spec(kind: str, size: int, pretrained: bool) -> InputSpec:
    """The preprocessing of a run: ImageNet statistics for pretrained weights (their average
    for one grey channel), else mean 0.5 and std 0.5, which maps [0, 1] to [-1, 1]."""
    channels = 3 if kind == "rgb" else 1
    if pretrained and channels == 1:
        mean, std = (float(np.mean(IMAGENET_MEAN)),), (float(np.mean(IMAGENET_STD)),)
    elif pretrained:
        mean, std = tuple(IMAGENET_MEAN), tuple(IMAGENET_STD)
    else:
        mean, std = (0.5,) * channels, (0.5,) * channels
    return InputSpec(kind=kind, size=size, mean=mean, std=std)


@dataclass
class PreparedData:
    """A run's pictures, prepared once: [0, 1] tensors and labels per split."""

    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    index: dict[str, np.ndarray]  # each split's positions in the data set
    classes: list[str]
    spec: InputSpec

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] pictures -> what the network sees: (x - mean) / std per channel."""
        return v2.functional.normalize(images, list(self.spec.mean), list(self.spec.std))


def prepare_pictures(
    dataset: ImageDataset, positions: np.ndarray, spec: InputSpec, chunk: int = 512
) -> torch.Tensor:
    """`prepare_batch` over the pictures at `positions`, a chunk at a time (photos are read
    from disk as they are needed)."""
    parts = [
        prepare_batch([dataset.image(i) for i in positions[start : start + chunk]], spec)
        for start in range(0, len(positions), chunk)
    ]
    return torch.from_numpy(np.concatenate(parts))


def fraction_subset(
    index: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """`fraction` of each class's examples in `index` (rounded, at least one), sorted.

    Each class is shuffled once by a generator seeded with `seed`, and a fraction takes the
    front of that order: with the same seed, the 10 % subset lies inside the 50 % one, so label
    fractions differ only in how many labels they keep, not in which.
    """
    generator = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels[index]):
        members = generator.permutation(index[labels[index] == label])
        chosen.append(members[: max(1, round(fraction * len(members)))])
    return np.sort(np.concatenate(chosen))


def prepare_data(config: ImageTrainConfig) -> PreparedData:
    """Load the data set, split it, and prepare every split's pictures once, as [0, 1] tensors."""
    dataset = load_image_dataset(config.data, config.data_root or None)
    index = dataset_splits(dataset, seed=config.split_seed)
    if config.limit_train:
        index["train"] = stratified_subset(
            index["train"], dataset.labels, config.limit_train, config.split_seed
        )
    if config.label_fraction < 1:
        index["train"] = fraction_subset(
            index["train"], dataset.labels, config.label_fraction, config.split_seed
        )
    spec = input_spec(DATA_SOURCES[config.data].kind, config.input_size, config.pretrained)
    unit = replace(spec, mean=(0.0,) * spec.channels, std=(1.0,) * spec.channels)
    return PreparedData(
        x={split: prepare_pictures(dataset, where, unit) for split, where in index.items()},
        y={split: torch.from_numpy(dataset.labels[where]) for split, where in index.items()},
        index=index,
        classes=list(dataset.classes),
        spec=spec,
    )


# -- evaluation -------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """A model's loss, accuracy, macro-F1 and outputs on one split."""

    loss: float
    accuracy: float
    macro_f1: float
    predictions: np.ndarray
    probabilities: np.ndarray


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    normalize,
    device: torch.device,
    batch_size: int = 256,
) -> Evaluation:
    """Evaluate in eval mode, batch by batch."""
    model.eval()
    logits = []
    for start in range(0, len(images), batch_size):
        with autocast(device):
            batch = normalize(images[start : start + batch_size]).to(device)
            logits.append(model(batch).float().cpu())
    scores = torch.cat(logits)
    predictions = scores.argmax(1).numpy()
    truth = labels.numpy()
    return Evaluation(
        loss=F.cross_entropy(scores, labels).item(),
        accuracy=float(np.mean(predictions == truth)),
        macro_f1=float(f1_score(truth, predictions, average="macro", zero_division=0)),
        predictions=predictions,
        probabilities=scores.softmax(1).numpy(),
    )


# -- checkpoints ------------------------------------------------------------------------------


@dataclass
class TrainingState:
    """What the loop carries from epoch to epoch, and a checkpoint across a resume."""

    epoch: int = 0
    best_epoch: int = 0
    best_val_accuracy: float = -1.0
    best_val_loss: float = math.inf
    epochs_since_best: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def record(self, metrics: dict[str, float]) -> bool:
        """Add the next epoch's metrics; True when it is the best so far on val (accuracy
        first, the lower val loss breaking ties: a small val set saturates its accuracy)."""
        self.epoch += 1
        self.history.append(metrics)
        better = (metrics["val_accuracy"], -metrics["val_loss"]) > (
            self.best_val_accuracy,
            -self.best_val_loss,
        )
        if better:
            self.best_epoch = self.epoch
            self.best_val_accuracy = metrics["val_accuracy"]
            self.best_val_loss = metrics["val_loss"]
            self.epochs_since_best = 0
        else:
            self.epochs_since_best += 1
        return better

    def should_stop(self, patience: int) -> bool:
        return patience > 0 and self.epochs_since_best >= patience


def save_atomic(contents: dict[str, Any], path: Path) -> None:
    """torch.save through a temporary file, so a crash never leaves half a checkpoint."""
    partial_path = path.with_suffix(".tmp")
    torch.save(contents, partial_path)
    partial_path.replace(path)


def find_checkpoint(resume: str) -> Path:
    """The last.pt checkpoint that `resume` (a run folder or the file itself) names."""
    path = Path(resume).expanduser()
    if path.is_dir():
        path = path / LAST_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"resume: no checkpoint at {path}")
    return path


def check_resumable(saved: dict[str, Any], config: ImageTrainConfig) -> None:
    """Resuming needs the config the checkpoint was trained with (the split, the network and the
    schedules depend on it); only `device` and `resume` itself may differ."""
    current = asdict(config)
    differing = [
        f"{key}={saved[key]!r} there, {current[key]!r} here"
        for key in current
        if key not in ("device", "resume") and saved.get(key) != current[key]
    ]
    if differing:
        raise ValueError(
            "resume: the checkpoint was trained with another config (" + "; ".join(differing) + ")"
        )


def load_extractor(model: nn.Module, backbone: str, init_from: str) -> list[str]:
    """Copy a self-supervised feature extractor into `model`; returns the tensors it set.

    The checkpoint (`EXTRACTOR_CHECKPOINT`, written by core.vision.pretext) holds the
    extractor's tensors under the classifier's own names; the head keeps its random init.
    """
    path = Path(init_from).expanduser()
    if path.is_dir():
        path = path / EXTRACTOR_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"init_from: no extractor checkpoint at {path}")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved.get("backbone") != backbone:
        raise ValueError(
            f"init_from: {path} holds a {saved.get('backbone')} extractor, this run is a {backbone}"
        )
    unexpected = model.load_state_dict(saved["extractor"], strict=False).unexpected_keys
    if unexpected:
        raise ValueError(f"init_from: {path} has tensors the model lacks: {unexpected[:3]}")
    return list(saved["extractor"])


def load_trained_model(path: str | Path) -> tuple[nn.Module, InputSpec, list[str]]:
    """The network of a best.pt checkpoint in eval mode, with its input spec and class names."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    spec = InputSpec.from_dict(saved["input_spec"])
    config = saved["config"]
    model = create_backbone(
        config["backbone"],
        pretrained=False,
        num_classes=len(saved["classes"]),
        in_chans=spec.channels,
    )
    model.load_state_dict(saved["model"])
    return model.eval(), spec, list(saved["classes"])


# -- the loop ---------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_optimizer(config: ImageTrainConfig, stages: list[nn.Module]) -> torch.optim.Optimizer:
    """SGD or AdamW over one param group per stage; discriminative lrs with gradual unfreezing."""
    decay = config.stage_lr_decay if config.gradual_unfreeze else 1.0
    groups = stage_param_groups(stages, config.lr, decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
        )
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def training_loader(data: PreparedData, batch_size: int, generator: torch.Generator) -> DataLoader:
    """Shuffled training batches drawn with `generator`, so the order is seeded and resumable."""
    return DataLoader(
        TensorDataset(data.x["train"], data.y["train"]),
        batch_size=min(batch_size, len(data.y["train"])),
        shuffle=True,
        drop_last=True,  # a last batch of one picture would break BatchNorm
        generator=generator,
    )


def report_progress(logger, epoch: int, epochs: int, steps: int, step: int) -> None:
    """Progress after `step` of `steps` batches in `epoch`; the logger also checks for cancel."""
    logger.progress(((epoch - 1) * steps + step) / (epochs * steps), f"epoch {epoch}/{epochs}")


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    schedule: LrSchedule,
    scaler: torch.amp.GradScaler,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    augment: v2.Transform | None,
    on_step: Callable[[int], None],
) -> tuple[float, float]:
    """One pass over the training batches; returns the mean loss and accuracy on those
    (augmented) batches, as the model was while it trained."""
    total_loss, correct, seen = 0.0, 0, 0
    for step, (images, labels) in enumerate(loader, 1):
        if augment is not None:
            images = augment_batch(images, augment)
        images, labels = normalize(images).to(device), labels.to(device)
        with autocast(device):
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss.item()}: the learning rate is too high; lower it"
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        schedule.after_step()
        total_loss += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
        on_step(step)
    return total_loss / seen, correct / seen


def train_image_classifier(
    config: ImageTrainConfig, logger, data: PreparedData | None = None
) -> None:
    """Train, keeping the best checkpoint by val accuracy; evaluate it on test at the end.

    Every epoch logs train_loss / train_accuracy (over the epoch's augmented batches), val and
    test loss / accuracy / macro-F1 (eval mode, after the epoch), the head's lr, the number of
    trainable stages and the epoch's time. The run folder keeps best.pt (the best epoch's
    weights), last.pt (everything needed to resume) and test_predictions.npz.

    `data` replaces `prepare_data(config)`: pseudo-labeling trains on a training split of its
    own making (core.vision.pseudo_labeling).
    """
    seed_everything(config.seed)
    device = pick_device(config.device)
    if data is None:
        data = prepare_data(config)
    model = create_backbone(
        config.backbone, config.pretrained, len(data.classes), data.spec.channels
    )
    if config.init_from:
        load_extractor(model, config.backbone, config.init_from)
    model = model.to(device)
    stages = backbone_stages(model)
    optimizer = build_optimizer(config, stages)
    generator = torch.Generator().manual_seed(config.seed)
    loader = training_loader(data, config.batch_size, generator)
    schedule = LrSchedule(
        optimizer, config.lr_schedule, config.epochs, len(loader), config.warmup_epochs
    )
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    unfreeze = UnfreezeSchedule(len(stages), config.unfreeze_every)
    augmentation = AugmentationSchedule(data.spec.kind, config.epochs)
    run_dir = logger.run_dir
    logger.details(
        device=str(device),
        classes=data.classes,
        input_spec=data.spec.to_dict(),
        n_stages=len(stages),
        n_parameters=sum(parameter.numel() for parameter in model.parameters()),
        **{f"n_{split}": len(data.y[split]) for split in SPLITS},
    )
    state = TrainingState()
    if config.resume:
        state = resume_from(config, run_dir, model, optimizer, schedule, scaler, generator)
        for epoch, metrics in enumerate(state.history, 1):
            logger.log_epoch(epoch, metrics)  # the resumed run shows the whole history

    for epoch in range(state.epoch + 1, config.epochs + 1):
        if state.should_stop(config.early_stopping_patience):
            break
        started = time.perf_counter()
        trainable = unfreeze.trainable(epoch) if config.gradual_unfreeze else len(stages)
        set_trainable(model, stages, trainable, keep_bn_statistics=config.gradual_unfreeze)
        settings = augmentation.settings(epoch) if config.augment_schedule else AugmentSettings()
        train_loss, train_accuracy = train_one_epoch(
            model,
            loader,
            optimizer,
            schedule,
            scaler,
            data.normalize,
            device,
            settings.transform(data.spec.size),
            partial(report_progress, logger, epoch, config.epochs, len(loader)),
        )
        val = evaluate(model, data.x["val"], data.y["val"], data.normalize, device)
        test = evaluate(model, data.x["test"], data.y["test"], data.normalize, device)
        schedule.after_epoch(val.loss)
        metrics = {
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "val_loss": val.loss,
            "val_accuracy": val.accuracy,
            "val_macro_f1": val.macro_f1,
            "test_loss": test.loss,
            "test_accuracy": test.accuracy,
            "test_macro_f1": test.macro_f1,
            "lr": optimizer.param_groups[-1]["lr"],
            "trainable_stages": trainable,
            "epoch_time_s": time.perf_counter() - started,
        }
        if state.record(metrics):
            best = {"model": model.state_dict(), "epoch": epoch, "val_accuracy": val.accuracy}
            save_atomic(
                {
                    **best,
                    "config": asdict(config),
                    "classes": data.classes,
                    "input_spec": data.spec.to_dict(),
                },
                run_dir / BEST_CHECKPOINT,
            )
        save_atomic(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "scaler": scaler.state_dict(),
                "state": asdict(state),
                "torch_rng": torch.get_rng_state(),
                "loader_rng": generator.get_state(),
                "config": asdict(config),
            },
            run_dir / LAST_CHECKPOINT,
        )
        logger.log_epoch(epoch, metrics)  # after the checkpoints: a cancel here loses nothing

    logger.artifact("best_checkpoint", run_dir / BEST_CHECKPOINT)
    logger.artifact("last_checkpoint", run_dir / LAST_CHECKPOINT)
    finish(model, data, device, state, logger)


def resume_from(
    config: ImageTrainConfig,
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: LrSchedule,
    scaler: torch.amp.GradScaler,
    generator: torch.Generator,
) -> TrainingState:
    """Load model, optimiser, schedule and random states from `config.resume`'s last.pt, and
    bring its best.pt into `run_dir`; returns the training state to continue from."""
    path = find_checkpoint(config.resume)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    check_resumable(saved["config"], config)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    scaler.load_state_dict(saved["scaler"])
    torch.set_rng_state(saved["torch_rng"])
    generator.set_state(saved["loader_rng"])
    if path.parent.resolve() != run_dir.resolve():
        shutil.copyfile(path.parent / BEST_CHECKPOINT, run_dir / BEST_CHECKPOINT)
    return TrainingState(**saved["state"])


def finish(
    model: nn.Module, data: PreparedData, device: torch.device, state: TrainingState, logger
) -> None:
    """Evaluate the best checkpoint on test; save its predictions and log the results."""
    best = torch.load(logger.run_dir / BEST_CHECKPOINT, map_location=device, weights_only=True)
    model.load_state_dict(best["model"])
    test = evaluate(model, data.x["test"], data.y["test"], data.normalize, device)
    predictions = logger.run_dir / "test_predictions.npz"
    np.savez(
        predictions,
        y_true=data.y["test"].numpy(),
        y_pred=test.predictions,
        probabilities=test.probabilities,
        index=data.index["test"],
    )
    logger.artifact("test_predictions", predictions)
    logger.details(
        best_epoch=state.best_epoch,
        best_val_accuracy=state.best_val_accuracy,
        epochs_run=state.epoch,
        best_test_accuracy=test.accuracy,
        best_test_macro_f1=test.macro_f1,
    )
