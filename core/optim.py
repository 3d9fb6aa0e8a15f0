"""Optimizers: Lion, and one registry of optimizer factories shared by every training loop.

- `lion_update` (Chen et al. 2023, arXiv 2302.06675) is the update rule alone, a pure function
  shared by the `Lion` optimizer and by the gradient-descent visualizer (core.descent.methods);
  `Lion` is only the plumbing of `torch.optim.Optimizer` around it.
- `OPTIMIZERS`: name -> factory `(params, lr, weight_decay, **options) -> Optimizer`, filled by
  `@register_optimizer`. `create_optimizer` makes one by name. The loan MLPs and the image
  classifiers pick from it; each config lists the names it offers.
"""

from collections.abc import Callable, Iterable
from typing import Any

import torch

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]
OptimizerFactory = Callable[..., torch.optim.Optimizer]


# -- Lion -------------------------------------------------------------------------------------


@torch.no_grad()
def lion_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    momentum: torch.Tensor,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
) -> None:
    """One Lion step, in place on `param` and `momentum` (the paper's Algorithm 2):

        update   = sign(interp(grad, momentum, beta1))
        momentum = interp(grad, momentum, beta2)
        param   -= (update + param * weight_decay) * lr

    with interp(g, m, b) = b * m + (1 - b) * g (`torch.lerp(g, m, b)`).
    """
    update = torch.lerp(grad, momentum, beta1).sign_()
    momentum.copy_(torch.lerp(grad, momentum, beta2))
    param.sub_((update + param * weight_decay) * lr)


class Lion(torch.optim.Optimizer):
    """EvoLved Sign Momentum (arXiv 2302.06675). Its steps all have size lr per coordinate, so
    its lr is typically 3-10x smaller than AdamW's and its weight decay 3-10x larger."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not all(0 <= beta <= 1 for beta in betas) or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1], got {betas}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("Lion does not support sparse gradients")
                state = self.state[param]
                if not state:
                    state["exp_avg"] = torch.zeros_like(param)
                lion_update(
                    param,
                    param.grad,
                    state["exp_avg"],
                    group["lr"],
                    beta1,
                    beta2,
                    group["weight_decay"],
                )
        return loss


# -- the registry -----------------------------------------------------------------------------

OPTIMIZERS: dict[str, OptimizerFactory] = {}


def register_optimizer(name: str) -> Callable[[OptimizerFactory], OptimizerFactory]:
    """Add the decorated factory to `OPTIMIZERS` under `name`."""

    def add(factory: OptimizerFactory) -> OptimizerFactory:
        if name in OPTIMIZERS:
            raise ValueError(f"optimizer {name!r} is registered twice")
        OPTIMIZERS[name] = factory
        return factory

    return add


@register_optimizer("sgd")
def sgd(
    params: Params, lr: float, weight_decay: float, momentum: float = 0.0, nesterov: bool = False
) -> torch.optim.Optimizer:
    """SGD; weight decay is L2 in the gradient. Plain by default, heavy-ball or Nesterov
    momentum when asked for."""
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
    )


@register_optimizer("adamw")
def adamw(params: Params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW: Adam with decoupled weight decay, torch's default betas and eps."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@register_optimizer("lion")
def lion(params: Params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Lion with the paper's betas (0.9, 0.99) and decoupled weight decay."""
    return Lion(params, lr=lr, weight_decay=weight_decay)


def create_optimizer(
    name: str, params: Params, lr: float, weight_decay: float, **options: Any
) -> torch.optim.Optimizer:
    """The registered optimizer `name` over `params`; `options` go to its factory."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
    return OPTIMIZERS[name](params, lr=lr, weight_decay=weight_decay, **options)
