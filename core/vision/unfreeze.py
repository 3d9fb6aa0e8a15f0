"""Gradual unfreezing with discriminative learning rates.

The head trains alone first; then, stage by stage from the head towards the stem, the
network's earlier parts join (`UnfreezeSchedule`, `set_trainable`). Each stage has its own
optimizer param group whose lr is a constant factor smaller than the next one's
(`stage_param_groups`): the stem's general features change least. The stages are those of
core.vision.backbones.backbone_stages.
"""

from dataclasses import dataclass
from typing import Any

from torch import nn


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
