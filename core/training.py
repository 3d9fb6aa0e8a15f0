"""What every training loop shares: the split names, seeding, and one optimiser step.

    step = TrainingStep(model, loss_fn, optimizer, device)
    outputs, loss = step(inputs, targets, EpochProgress(logger, epoch, epochs, steps), number)

The loan MLPs (core.experiments.loan) and the image classifiers (core.vision.train, and the
context-prediction pretraining) all train through `TrainingStep`, so a non-finite loss, mixed
precision and progress reporting behave the same way everywhere.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core.device import autocast

SPLITS = ("train", "val", "test")

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class EpochProgress:
    """Where a loop stands: epoch `epoch` (1-based) of `epochs`, each of `steps` steps.

    `report(step)` tells the run's logger the fraction done; the logger also checks whether the
    run was cancelled, and raises if so.
    """

    logger: object
    epoch: int
    epochs: int
    steps: int

    def report(self, step: int) -> None:
        done = ((self.epoch - 1) * self.steps + step) / (self.epochs * self.steps)
        self.logger.progress(done, f"epoch {self.epoch}/{self.epochs}")


@dataclass
class TrainingStep:
    """One optimiser step on a batch: forward and loss under mixed precision (CUDA only), a
    refusal of a non-finite loss, backward and update through a gradient scaler, progress.

    The scaler scales the loss so that fp16 gradients do not underflow, and skips the update
    when they overflow; on the CPU it is disabled and the step is a plain one. Its state
    belongs in a resumable checkpoint (`scaler.state_dict()`).
    """

    model: nn.Module
    loss_fn: LossFunction
    optimizer: torch.optim.Optimizer
    device: torch.device
    scaler: torch.amp.GradScaler = field(init=False)

    def __post_init__(self) -> None:
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.device.type == "cuda")

    def __call__(
        self, inputs: torch.Tensor, targets: torch.Tensor, progress: EpochProgress, step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Train on (`inputs`, `targets`) as step `step` of `progress`'s epoch; returns the
        outputs and the loss, from before the update."""
        with autocast(self.device):
            outputs = self.model(inputs)
            loss = self.loss_fn(outputs, targets)
        if not torch.isfinite(loss):
            lr = self.optimizer.param_groups[-1]["lr"]
            raise FloatingPointError(
                f"the training loss became {loss.item()} in epoch {progress.epoch}: the learning "
                f"rate {lr} is too high for this model; lower it"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        progress.report(step)
        return outputs, loss
