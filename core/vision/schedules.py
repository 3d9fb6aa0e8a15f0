"""Learning-rate schedules: a registry of named schedules behind one interface.

    schedule = LrSchedule(optimizer, "cosine", epochs, steps_per_epoch, warmup_epochs)
    ... after every optimiser step:  schedule.after_step()
    ... after every epoch:           schedule.after_epoch(val_loss)

`LR_SCHEDULES` maps a name to a `ScheduleKind`: the factory of its torch scheduler and whether
that scheduler steps per optimiser step or per epoch on the val loss. A new schedule is one more
`@register_schedule` function; the image config offers every registered name.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

PLATEAU_FACTOR = 0.5  # ReduceLROnPlateau: halve the learning rate ...
PLATEAU_PATIENCE = 1  # ... after one epoch without a lower val loss

# (optimizer, total_steps, warmup_steps) -> a torch lr scheduler, or None to keep the lr
SchedulerFactory = Callable[[torch.optim.Optimizer, int, int], Any]


@dataclass(frozen=True)
class ScheduleKind:
    """How a named schedule is made, and when its scheduler steps."""

    build: SchedulerFactory
    per_epoch: bool  # True: once an epoch, on the val loss; False: after every optimiser step


LR_SCHEDULES: dict[str, ScheduleKind] = {}


def register_schedule(
    name: str, per_epoch: bool = False
) -> Callable[[SchedulerFactory], SchedulerFactory]:
    """Add the decorated scheduler factory to `LR_SCHEDULES` under `name`."""

    def add(build: SchedulerFactory) -> SchedulerFactory:
        if name in LR_SCHEDULES:
            raise ValueError(f"lr schedule {name!r} is registered twice")
        LR_SCHEDULES[name] = ScheduleKind(build, per_epoch)
        return build

    return add


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """The lr multiplier at `step`: linear warm-up to 1 over `warmup_steps`, then half a cosine
    from 1 towards 0 at `total_steps`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * progress))


@register_schedule("constant")
def constant(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int) -> None:
    """The lr as configured, throughout."""
    return None


@register_schedule("plateau", per_epoch=True)
def plateau(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """ReduceLROnPlateau on the val loss: times PLATEAU_FACTOR after PLATEAU_PATIENCE epochs
    without a lower one."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, "min", factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE
    )


@register_schedule("onecycle")
def onecycle(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.OneCycleLR:
    """One-cycle: up to each param group's lr over the warm-up, then annealed down."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[group["lr"] for group in optimizer.param_groups],
        total_steps=total_steps,
        pct_start=max(warmup_steps, 1) / total_steps,
    )


@register_schedule("cosine")
def cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then half a cosine towards 0 (`warmup_cosine`)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(warmup_cosine, total_steps=total_steps, warmup_steps=warmup_steps)
    )


class LrSchedule:
    """The registered schedule `kind` over `optimizer`, for a run of `epochs` epochs.

    The warm-up takes `warmup_epochs`, at most half the run. Every param group keeps its own
    ratio to the head's lr.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        kind: str,
        epochs: int,
        steps_per_epoch: int,
        warmup_epochs: int,
    ):
        if kind not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, not {kind!r}")
        total = epochs * steps_per_epoch
        warmup = min(warmup_epochs, epochs // 2) * steps_per_epoch
        self.kind = kind
        self.per_epoch = LR_SCHEDULES[kind].per_epoch
        self.scheduler: Any = LR_SCHEDULES[kind].build(optimizer, total, warmup)

    def after_step(self) -> None:
        """Follows every optimiser step: per-step schedules move on."""
        if self.scheduler is not None and not self.per_epoch:
            self.scheduler.step()

    def after_epoch(self, val_loss: float) -> None:
        """Follows every epoch: per-epoch schedules look at the val loss."""
        if self.scheduler is not None and self.per_epoch:
            self.scheduler.step(val_loss)

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict() if self.scheduler else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler:
            self.scheduler.load_state_dict(state)
