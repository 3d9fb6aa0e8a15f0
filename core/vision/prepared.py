"""A run's pictures, prepared once: [0, 1] tensors and labels per split, kept in memory.

The pictures go through `core.vision.preprocess.prepare_batch`, the code serving runs on a
user's picture, with mean 0 and std 1, so they stay in [0, 1]: augmentation works on those.
`PreparedData.normalize` then applies the run's input spec to each batch, which makes it what
`prepare(image, spec)` gives at serving time.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms import v2

from core.vision.backbones import IMAGENET_MEAN, IMAGENET_STD
from core.vision.data import ImageDataset
from core.vision.preprocess import InputSpec, prepare_batch


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
