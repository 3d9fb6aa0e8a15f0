"""Self-supervised pretraining by context prediction (Doersch, Gupta & Efros 2015, 1505.05192).

    train_context_prediction(ContextConfig(data="fashion-mnist"), logger)
    dlstudio train fashion_context            (registered in core.experiments.pretext)

From an unlabeled picture, take a patch and one of its 8 neighbours on a 3x3 grid; a network
sees both through one shared feature extractor and predicts from their concatenated features
where the neighbour lies (8 classes, `NEIGHBOURS`). Knowing that a collar sits above a sleeve
needs some idea of what clothes look like, and the extractor learns it without labels. It is the
trunk of the classifier (core.vision.backbones.SmallCNN's `features`), so its weights transfer
as they are: the extractor checkpoint keeps the classifier's tensor names, and a classifier run
starts from it with `init_from` (core.vision.checkpoints.load_extractor).

The paper's safeguards against solving the task without understanding the picture, scaled to
28x28 pictures (`PatchGeometry`, defaults 6 px patches, 3 px gap, +-1 px jitter):

- a gap between the patches, so that a stroke or an edge cannot be followed across the border;
- each patch's position jittered on its own, so that lines do not line up exactly either; with
  gap 3 and jitter 1 two patches are always 1 to 5 px apart, never touching;
- colour: the paper drops or projects colour channels against chromatic aberration. These
  pictures are grey, so there is no channel to drop; instead each patch gets its own random
  brightness, contrast and noise, so that equal grey levels do not give neighbours away.

Why 6 px: three patches and two gaps must fit 28 px with room for the jitter (3 * 6 + 2 * 3 +
2 * 1 = 26 <= 28, the grid's own position then varies by 0-2 px). A patch is a fifth of the
picture's side, about as large relative to the object as the paper's 96 px patches on its
photos; larger patches would leave no gap. The extractor sees patches at the pictures' own
scale, so the filters it learns are the ones the classifier needs at 28x28.
"""

import time
from dataclasses import asdict, dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from core.config import check_range, check_seed
from core.device import pick_device
from core.optim import create_optimizer
from core.training import EpochProgress, TrainingStep, seed_everything
from core.vision.backbones import SmallCNN, create_backbone
from core.vision.checkpoints import EXTRACTOR_CHECKPOINT, save_extractor
from core.vision.evaluation import evaluate
from core.vision.schedules import LrSchedule
from core.vision.train import MAX_PICTURES, ImageTrainConfig, prepare_data, train_one_epoch

# (row, column) step from the centre patch to the neighbour of each label, in reading order:
#   0 1 2
#   3 . 4
#   5 6 7
NEIGHBOURS: tuple[tuple[int, int], ...] = (
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
)
CHANCE = 1 / len(NEIGHBOURS)
EXTRACTOR_BACKBONE = "small_cnn"
GRAY_DATA = ("digits", "fashion-mnist", "mnist")


@dataclass(frozen=True)
class PatchGeometry:
    """The 3x3 grid the patches come from: patch side, gap between patches, jitter (pixels)."""

    patch: int = 6
    gap: int = 3
    jitter: int = 1

    def __post_init__(self) -> None:
        check_range("patch_size", self.patch, low=2)
        check_range("gap", self.gap, low=0)
        check_range("jitter", self.jitter, low=0)

    @property
    def step(self) -> int:
        """From one patch's corner to the next one's on the grid."""
        return self.patch + self.gap

    @property
    def extent(self) -> int:
        """The side of the 3x3 grid with room for the jitter on both sides."""
        return 3 * self.patch + 2 * self.gap + 2 * self.jitter

    @property
    def min_gap(self) -> int:
        """The narrowest gap two neighbours can have, both jittered towards each other."""
        return self.gap - 2 * self.jitter

    def check_fits(self, size: int) -> None:
        if self.extent > size:
            raise ValueError(
                f"3 patches of {self.patch} px, 2 gaps of {self.gap} px and +-{self.jitter} px "
                f"of jitter need {self.extent} px, but the pictures are {size} px wide: use "
                "smaller patches, gap or jitter"
            )


def sample_pairs(
    images: torch.Tensor, geometry: PatchGeometry, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One (centre patch, neighbour patch) pair from each picture.

    images: (N, C, S, S). Returns the pairs (N, 2C, patch, patch) with the centre patch's
    channels first, the labels (N,) indexing `NEIGHBOURS`, and the patches' top-left corners
    (N, 2, 2) as (row, column), centre first. The grid lies at a random place where it fits,
    and each patch is moved by up to `jitter` px along each axis on its own.
    """
    count, _, size, width = images.shape
    if size != width:
        raise ValueError(f"the pictures must be square, not {size}x{width}")
    geometry.check_fits(size)
    labels = torch.randint(len(NEIGHBOURS), (count,), generator=generator)
    slack = size - geometry.extent
    origin = geometry.jitter + torch.randint(slack + 1, (count, 1, 2), generator=generator)
    cells = torch.stack(
        [torch.ones(count, 2, dtype=torch.long), 1 + torch.tensor(NEIGHBOURS)[labels]], 1
    )
    jitter = torch.randint(
        -geometry.jitter, geometry.jitter + 1, (count, 2, 2), generator=generator
    )
    corners = origin + geometry.step * cells + jitter
    offsets = torch.arange(geometry.patch)
    rows = (corners[..., 0, None] + offsets)[..., :, None]  # (N, 2, patch, 1)
    columns = (corners[..., 1, None] + offsets)[..., None, :]  # (N, 2, 1, patch)
    picture = torch.arange(count)[:, None, None, None]
    patches = images.permute(0, 2, 3, 1)[picture, rows, columns]  # (N, 2, patch, patch, C)
    pairs = patches.permute(0, 1, 4, 2, 3).flatten(1, 2)  # (N, 2C, patch, patch)
    return pairs, labels, corners


def jitter_intensity(
    pairs: torch.Tensor, strength: float, noise: float, generator: torch.Generator
) -> torch.Tensor:
    """Each patch (channel of a grey pair) with its own contrast and brightness, plus noise.

    contrast x (1 +- strength), brightness +- strength / 2, Gaussian noise of std `noise`, on
    [0, 1] pictures: the grey-picture stand-in for the paper's colour dropping (module doc).
    """
    shape = (pairs.shape[0], pairs.shape[1], 1, 1)
    contrast = 1 + strength * (2 * torch.rand(shape, generator=generator) - 1)
    brightness = strength / 2 * (2 * torch.rand(shape, generator=generator) - 1)
    mean = pairs.mean(dim=(2, 3), keepdim=True)
    changed = (pairs - mean) * contrast + mean + brightness
    return changed + noise * torch.randn(pairs.shape, generator=generator)


class ContextPredictor(nn.Module):
    """One extractor on both patches; an MLP on their concatenated features gives 8 logits.

    `features` is a SmallCNN's trunk (shared: the same weights see both patches, as in the
    paper's siamese network), so `extractor_state()` loads into a SmallCNN classifier as is.
    """

    def __init__(self, backbone: SmallCNN, channels: int, hidden: int = 256) -> None:
        super().__init__()
        self.channels = channels
        self.features = backbone.features
        width = backbone.head[-1].in_features
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(2 * width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, len(NEIGHBOURS))
        )

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        centre, neighbour = pairs.split(self.channels, dim=1)
        both = self.pool(self.features(torch.cat([centre, neighbour])))  # one pass, shared
        return self.head(torch.cat(both.chunk(2), dim=1))

    def extractor_state(self) -> dict[str, torch.Tensor]:
        """The trunk's tensors under the classifier's names ("features.0.0.weight", ...)."""
        return {
            k: v.detach().clone() for k, v in self.state_dict().items() if k.startswith("features.")
        }


@dataclass
class ContextConfig:
    """Data, patch geometry and optimiser of one context-prediction pretraining run."""

    data: str = field(
        default="fashion-mnist",
        metadata={"help": "grey image data set (its labels are not used)", "choices": GRAY_DATA},
    )
    data_root: str = field(
        default="", metadata={"help": "folder of the data set (MNIST)", "path": True}
    )
    input_size: int = field(default=28, metadata={"help": "side of the pictures, pixels"})
    patch_size: int = field(default=6, metadata={"help": "side of a patch, pixels"})
    gap: int = field(default=3, metadata={"help": "pixels between neighbouring patches"})
    jitter: int = field(default=1, metadata={"help": "each patch moves up to this many pixels"})
    intensity_jitter: float = field(
        default=0.3, metadata={"help": "per-patch contrast 1 +- this, brightness +- half of it"}
    )
    noise: float = field(default=0.03, metadata={"help": "std of per-pixel Gaussian noise"})
    pairs_per_image: int = field(
        default=1, metadata={"help": "patch pairs drawn from every picture each epoch"}
    )
    limit_images: int = field(
        default=0, metadata={"help": "pretrain on this many training pictures only (0: all)"}
    )
    epochs: int = field(default=10, metadata={"help": "passes over the unlabeled pictures"})
    batch_size: int = field(default=128, metadata={"help": "pairs per optimiser step"})
    lr: float = field(default=2e-3, metadata={"help": "AdamW peak learning rate (cosine)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "decoupled weight decay"})
    seed: int = field(default=0, metadata={"help": "seed of the initialisation and the pairs"})
    split_seed: int = field(default=0, metadata={"help": "seed of the train/val/test split"})
    device: str = field(
        default="auto",
        metadata={"help": "auto: CUDA when present", "choices": ("auto", "cpu", "cuda")},
    )

    def __post_init__(self) -> None:
        check_range("input_size", self.input_size, low=8, high=256)
        check_range("intensity_jitter", self.intensity_jitter, low=0, high=1)
        check_range("noise", self.noise, low=0, high=1)
        check_range("pairs_per_image", self.pairs_per_image, low=1, high=64)
        check_range("limit_images", self.limit_images, low=0, high=MAX_PICTURES)
        check_range("epochs", self.epochs, low=1, high=1000)
        check_range("batch_size", self.batch_size, low=2, high=65536)
        check_range("lr", self.lr, low=0, low_inclusive=False, high=10)
        check_range("weight_decay", self.weight_decay, low=0, high=10)
        check_seed("seed", self.seed)
        check_seed("split_seed", self.split_seed)
        self.geometry.check_fits(self.input_size)

    @property
    def geometry(self) -> PatchGeometry:
        return PatchGeometry(self.patch_size, self.gap, self.jitter)

    def image_config(self) -> ImageTrainConfig:
        """The classifier config whose pictures (and split) the pretraining uses."""
        return ImageTrainConfig(
            data=self.data,
            data_root=self.data_root,
            backbone=EXTRACTOR_BACKBONE,
            pretrained=False,
            input_size=self.input_size,
            limit_train=self.limit_images,
            split_seed=self.split_seed,
        )


def pair_set(
    images: torch.Tensor, config: ContextConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """`pairs_per_image` jittered pairs from every picture, with their labels."""
    repeated = images.repeat(config.pairs_per_image, 1, 1, 1)
    pairs, labels, _ = sample_pairs(repeated, config.geometry, generator)
    return jitter_intensity(pairs, config.intensity_jitter, config.noise, generator), labels


def train_context_prediction(config: ContextConfig, logger) -> None:
    """Pretrain the SmallCNN trunk on the training split's pictures, without their labels.

    Every epoch draws new pairs; val and test pairs are drawn once (fixed seed) from the val and
    test pictures, so their accuracy is comparable from epoch to epoch. Logs train/val/test loss
    and accuracy of the 8-way pretext, and keeps the best epoch's (val accuracy) extractor as
    the `extractor` artifact for `init_from`.
    """
    seed_everything(config.seed)
    device = pick_device(config.device)
    data = prepare_data(config.image_config())
    channels = data.spec.channels
    backbone = create_backbone(EXTRACTOR_BACKBONE, False, len(data.classes), channels)
    model = ContextPredictor(backbone, channels).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    fixed = torch.Generator().manual_seed(config.split_seed + 1)
    held_out = {split: pair_set(data.x[split], config, fixed) for split in ("val", "test")}
    normalize = partial(normalize_pairs, mean=data.spec.mean[0], std=data.spec.std[0])
    steps = (
        len(data.x["train"])
        * config.pairs_per_image
        // min(config.batch_size, len(data.x["train"]))
    )
    optimizer = create_optimizer("adamw", model.parameters(), config.lr, config.weight_decay)
    schedule = LrSchedule(optimizer, "cosine", config.epochs, steps, warmup_epochs=1)
    step = TrainingStep(model, F.cross_entropy, optimizer, device)
    logger.details(
        device=str(device),
        n_unlabeled=len(data.x["train"]),
        pairs_per_epoch=len(data.x["train"]) * config.pairs_per_image,
        **{f"n_{split}_pairs": len(labels) for split, (_, labels) in held_out.items()},
        min_gap=config.geometry.min_gap,
        chance_accuracy=CHANCE,
    )
    best_accuracy, best_epoch = -1.0, 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        pairs, labels = pair_set(data.x["train"], config, generator)
        loader = DataLoader(
            TensorDataset(pairs, labels),
            batch_size=min(config.batch_size, len(labels)),
            shuffle=True,
            drop_last=True,
            generator=generator,
        )
        total_loss, correct, seen = train_one_epoch(
            step,
            loader,
            schedule,
            normalize,
            None,
            EpochProgress(logger, epoch, config.epochs, len(loader)),
        )
        metrics = {"train_loss": total_loss / seen, "train_accuracy": correct / seen}
        for split, (split_pairs, split_labels) in held_out.items():
            result = evaluate(model, split_pairs, split_labels, normalize, device)
            metrics |= {f"{split}_loss": result.loss, f"{split}_accuracy": result.accuracy}
        metrics |= {
            "lr": optimizer.param_groups[0]["lr"],
            "epoch_time_s": time.perf_counter() - started,
        }
        if metrics["val_accuracy"] > best_accuracy:
            best_accuracy, best_epoch = metrics["val_accuracy"], epoch
            save_extractor(
                logger.run_dir / EXTRACTOR_CHECKPOINT,
                model.extractor_state(),
                EXTRACTOR_BACKBONE,
                channels,
                asdict(config),
                epoch,
                best_accuracy,
            )
        logger.log_epoch(epoch, metrics)
    logger.artifact("extractor", logger.run_dir / EXTRACTOR_CHECKPOINT)
    logger.details(best_epoch=best_epoch, best_val_accuracy=best_accuracy)


def normalize_pairs(pairs: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """[0, 1] pairs -> what the network sees, normalised as the classifier's pictures are."""
    return (pairs - mean) / std
