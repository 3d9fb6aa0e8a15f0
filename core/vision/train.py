"""One training loop for every image experiment, and the three methods it can switch on.

    train_image_classifier(ImageTrainConfig(data="digits"), logger)

Read it top to bottom: the config, the pieces of the loop, then the loop itself. The three
methods live in their own modules, each with its own tests:

- iterative augmentation (core.vision.augment): none at first, stronger as training goes;
- gradual unfreezing (core.vision.unfreeze): from the head towards the stem, with a smaller
  learning rate for each earlier stage (discriminative learning rates);
- learning-rate schedules (core.vision.schedules): constant, ReduceLROnPlateau on the val loss,
  warm-up + cosine, or one-cycle.

A `recipe` switches them on together, so the four variants compared in the image report
(plain, + unfreezing and adaptive lr, + augmentation, all) are one sweep over `recipe`.

The pictures are prepared once per run (core.vision.prepared), the optimiser step is the one
every loop shares (core.training.TrainingStep), and the checkpoint files are written and read by
core.vision.checkpoints, which serving uses without importing this loop.
"""

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from torchvision.transforms import v2

from core.config import check_range, check_seed
from core.device import pick_device
from core.optim import create_optimizer
from core.training import SPLITS, EpochProgress, TrainingStep, seed_everything
from core.vision.augment import AugmentationSchedule, AugmentSettings, augment_batch
from core.vision.backbones import backbone_stages, create_backbone, list_backbones
from core.vision.checkpoints import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    load_checkpoint,
    load_extractor,
    load_last,
    save_best,
    save_last,
)
from core.vision.data import DATA_SOURCES, dataset_splits, load_image_dataset, stratified_subset
from core.vision.distributed import World, current_world, join, sums
from core.vision.evaluation import evaluate
from core.vision.prepared import PreparedData, fraction_subset, input_spec, prepare_pictures
from core.vision.schedules import LR_SCHEDULES, LrSchedule
from core.vision.unfreeze import UnfreezeSchedule, set_trainable, stage_param_groups

# recipe: (augment_schedule, gradual_unfreeze, adaptive learning rate)
RECIPES: dict[str, tuple[bool, bool, bool]] = {
    "plain": (False, False, False),
    "unfreeze+lr": (False, True, True),
    "augment": (True, False, False),
    "all": (True, True, True),
}
MAX_PICTURES = 10_000_000  # more than any data set here holds: a larger limit_train means all
MAX_PROCESSES = 64  # data-parallel processes of one run
MAX_BATCH_PIXELS = 2**24  # input_size^2 * batch_size: 1024 px x 16 pictures, 128 px x 1024
# config name -> options of the core.optim factory: SGD with Nesterov momentum, or AdamW
IMAGE_OPTIMIZERS: dict[str, dict[str, object]] = {
    "sgd": {"momentum": 0.9, "nesterov": True},
    "adamw": {},
}


@dataclass
class ImageTrainConfig:
    """Data, network, optimiser and recipe of one image-classifier run."""

    data: str = field(
        default="digits",
        metadata={"help": "built-in image data set", "choices": tuple(DATA_SOURCES)},
    )
    data_root: str = field(
        default="",
        metadata={"help": "folder of the data set (MNIST IDX files, AFHQ photos)", "path": True},
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
        metadata={"help": "sgd: Nesterov momentum 0.9", "choices": tuple(IMAGE_OPTIMIZERS)},
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
            "choices": tuple(LR_SCHEDULES),
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
        default="",
        metadata={"help": "continue from a run folder or its last.pt checkpoint", "path": True},
    )
    processes: int = field(
        default=1,
        metadata={
            "help": "data-parallel processes under torchrun (gloo on the CPU, NCCL on GPUs); "
            "each trains on its share of every batch"
        },
    )
    label_fraction: float = field(
        default=1.0,
        metadata={"help": "train on this fraction of the training labels, stratified (1: all)"},
    )
    init_from: str = field(
        default="",
        metadata={
            "help": "start the feature extractor from a self-supervised one: a context "
            "prediction run's id, its folder or its extractor.pt (core.vision.pretext)",
            "path": True,
            "not_a_path": str.isdigit,  # a run id: core.experiments.pretext resolves it
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
        check_range("limit_train", self.limit_train, low=0, high=MAX_PICTURES)
        check_range("processes", self.processes, low=1, high=MAX_PROCESSES)
        check_range("label_fraction", self.label_fraction, low=0, low_inclusive=False, high=1)
        check_seed("seed", self.seed)
        check_seed("split_seed", self.split_seed)
        check_batch_pixels(self.input_size, self.batch_size)
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
        if self.gradual_unfreeze and self.processes > 1:
            raise ValueError(
                "gradual_unfreeze changes which weights train during the run, which "
                "data-parallel training cannot follow: use processes=1 with it"
            )
        if self.gradual_unfreeze and not self.pretrained:
            raise ValueError(
                "gradual_unfreeze needs pretrained=true: unfreezing a randomly initialised "
                "network stage by stage would train the head on random features"
            )


def check_batch_pixels(input_size: int, batch_size: int) -> None:
    """Refuse a batch of pictures too large to fit in memory (`MAX_BATCH_PIXELS`)."""
    pixels = input_size**2 * batch_size
    if pixels > MAX_BATCH_PIXELS:
        raise ValueError(
            f"batch_size={batch_size} pictures of {input_size}x{input_size} make {pixels:,} "
            f"pixels per batch; at most {MAX_BATCH_PIXELS:,}: a smaller batch or input size"
        )


# -- data -------------------------------------------------------------------------------------


def prepare_data(config: ImageTrainConfig, limit_eval: int = 0) -> PreparedData:
    """Load the data set, split it, and prepare every split's pictures once, as [0, 1] tensors.
    `limit_eval` keeps that many val and test pictures each, stratified (0: all), for a
    short check that need not resize a large data set whole."""
    dataset = load_image_dataset(config.data, config.data_root or None)
    index = dataset_splits(dataset, seed=config.split_seed)
    for split in ("val", "test") if limit_eval else ():
        index[split] = stratified_subset(
            index[split], dataset.labels, limit_eval, config.split_seed
        )
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


# -- the pieces of the loop -------------------------------------------------------------------


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


def build_optimizer(config: ImageTrainConfig, stages: list[nn.Module]) -> torch.optim.Optimizer:
    """The configured optimiser over one param group per stage; discriminative lrs with gradual
    unfreezing."""
    decay = config.stage_lr_decay if config.gradual_unfreeze else 1.0
    groups = stage_param_groups(stages, config.lr, decay)
    return create_optimizer(
        config.optimizer,
        groups,
        config.lr,
        config.weight_decay,
        **IMAGE_OPTIMIZERS[config.optimizer],
    )


def training_loader(
    data: PreparedData, batch_size: int, generator: torch.Generator, world: World, seed: int
) -> DataLoader:
    """Shuffled training batches drawn with `generator`, so the order is seeded and resumable.
    Among data-parallel processes, each draws its share of every batch (a DistributedSampler
    seeded with `seed`; `set_epoch` reshuffles it each epoch)."""
    dataset = TensorDataset(data.x["train"], data.y["train"])
    batch_size = min(batch_size, len(dataset))
    if not world.distributed:
        # drop_last: a last batch of one picture would break BatchNorm
        return DataLoader(dataset, batch_size, shuffle=True, drop_last=True, generator=generator)
    sampler = DistributedSampler(dataset, world.size, world.rank, seed=seed, drop_last=True)
    share = max(batch_size // world.size, 2)
    return DataLoader(dataset, share, sampler=sampler, drop_last=True)


def train_one_epoch(
    step: TrainingStep,
    loader: DataLoader,
    schedule: LrSchedule,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    augment: v2.Transform | None,
    progress: EpochProgress,
) -> tuple[float, float, float]:
    """One pass over this process's training batches; returns the summed loss, the number
    right and the number seen on those (augmented) batches, as the model was while it
    trained."""
    total_loss, correct, seen = 0.0, 0, 0
    for number, (images, labels) in enumerate(loader, 1):
        if augment is not None:
            images = augment_batch(images, augment)
        images, labels = normalize(images).to(step.device), labels.to(step.device)
        logits, loss = step(images, labels, progress, number)
        schedule.after_step()
        total_loss += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
    return total_loss, correct, seen


def resume_from(
    config: ImageTrainConfig,
    run_dir: Path,
    step: TrainingStep,
    schedule: LrSchedule,
    generator: torch.Generator,
) -> TrainingState:
    """Load model, optimiser, schedule, scaler and random states from `config.resume`'s last.pt,
    and bring its best.pt into `run_dir`; returns the training state to continue from."""
    path, saved = load_last(config.resume, config)
    step.model.load_state_dict(saved["model"])
    step.optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    step.scaler.load_state_dict(saved["scaler"])
    torch.set_rng_state(saved["torch_rng"])
    generator.set_state(saved["loader_rng"])
    if path.parent.resolve() != run_dir.resolve():
        shutil.copyfile(path.parent / BEST_CHECKPOINT, run_dir / BEST_CHECKPOINT)
    return TrainingState(**saved["state"])


def finish(
    model: nn.Module, data: PreparedData, device: torch.device, state: TrainingState, logger
) -> None:
    """Evaluate the best checkpoint on test; save its predictions and log the results."""
    best = load_checkpoint(logger.run_dir / BEST_CHECKPOINT, device)
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


# -- the loop ---------------------------------------------------------------------------------


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
    world = current_world()
    device = join(world, pick_device(config.device))
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
    loader = training_loader(data, config.batch_size, generator, world, config.seed)
    schedule = LrSchedule(
        optimizer, config.lr_schedule, config.epochs, len(loader), config.warmup_epochs
    )
    trained = model  # what the optimiser steps through: the model, or its data-parallel wrapper
    if world.distributed:
        trained = DistributedDataParallel(model, [device] if device.type == "cuda" else None)
    step = TrainingStep(trained, F.cross_entropy, optimizer, device)
    unfreeze = UnfreezeSchedule(len(stages), config.unfreeze_every)
    augmentation = AugmentationSchedule(data.spec.kind, config.epochs)
    run_dir = logger.run_dir
    logger.details(
        device=str(device),
        processes=world.size,
        classes=data.classes,
        input_spec=data.spec.to_dict(),
        n_stages=len(stages),
        n_parameters=sum(parameter.numel() for parameter in model.parameters()),
        **{f"n_{split}": len(data.y[split]) for split in SPLITS},
    )
    state = TrainingState()
    if config.resume:
        state = resume_from(config, run_dir, step, schedule, generator)
        for epoch, metrics in enumerate(state.history, 1):
            logger.log_epoch(epoch, metrics)  # the resumed run shows the whole history

    for epoch in range(state.epoch + 1, config.epochs + 1):
        if state.should_stop(config.early_stopping_patience):
            break
        started = time.perf_counter()
        trainable = unfreeze.trainable(epoch) if config.gradual_unfreeze else len(stages)
        set_trainable(model, stages, trainable, keep_bn_statistics=config.gradual_unfreeze)
        settings = augmentation.settings(epoch) if config.augment_schedule else AugmentSettings()
        if world.distributed:
            loader.sampler.set_epoch(epoch)
        sums_here = train_one_epoch(
            step,
            loader,
            schedule,
            data.normalize,
            settings.transform(data.spec.size),
            EpochProgress(logger, epoch, config.epochs, len(loader)),
        )
        total_loss, correct, seen = sums(list(sums_here), world, device)
        train_loss, train_accuracy = total_loss / seen, correct / seen
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
            save_best(
                run_dir,
                model,
                epoch,
                val.accuracy,
                asdict(config),
                data.classes,
                data.spec.to_dict(),
            )
        save_last(
            run_dir,
            model,
            optimizer,
            schedule,
            step.scaler,
            asdict(state),
            generator.get_state(),
            asdict(config),
        )
        logger.log_epoch(epoch, metrics)  # after the checkpoints: a cancel here loses nothing

    logger.artifact("best_checkpoint", run_dir / BEST_CHECKPOINT)
    logger.artifact("last_checkpoint", run_dir / LAST_CHECKPOINT)
    finish(model, data, device, state, logger)
