"""Building blocks of seed 001 HW4: RMSNorm, a hand-differentiated autograd Function, Lion.

- `RMSNorm` (Zhang & Sennrich 2019, arXiv 1910.07467): rescale by the root mean square of the
  features, no re-centring; a learnable gain; optionally estimate the RMS from the first p % of
  the features only (partial RMSNorm).
- `ExpPlusCos` / `exp_plus_cos`: e^X + cos(Y) as a `torch.autograd.Function` whose backward is
  written by hand, broadcasting X against Y like any torch op.
- `Lion` (Chen et al. 2023, arXiv 2302.06675): the sign of an interpolation of gradient and
  momentum, with decoupled weight decay; `lion_update` is the rule alone, shared by the
  optimizer and by the gradient-descent visualizer.
"""

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x_S^2) + eps) * gain, over the last dimension.

    S is all `dim` features, or the first ceil(partial * dim) of them for partial RMSNorm
    (the paper's pRMSNorm, which estimates the RMS from p % of the inputs). eps sits inside the
    square root, as in `torch.nn.RMSNorm` (the paper's code adds it to the RMS instead; both only
    guard against zero inputs).
    """

    def __init__(self, dim: int, eps: float = 1e-8, partial: float = 1.0):
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be at least 1, got {dim}")
        if not 0 < partial <= 1:
            raise ValueError(f"partial must be in (0, 1], got {partial}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        self.dim, self.eps = dim, eps
        self.rms_size = max(1, math.ceil(partial * dim))
        self.weight = nn.Parameter(torch.ones(dim))  # the gain g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected {self.dim} features in the last dimension, got {x.shape}")
        mean_square = x[..., : self.rms_size].pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(mean_square + self.eps) * self.weight

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, rms_size={self.rms_size}"


class ExpPlusCos(torch.autograd.Function):
    """f(X, Y) = e^X + cos(Y), with df/dX = e^X and df/dY = -sin(Y) written by hand.

    X and Y broadcast; each gradient is summed back to its input's shape. The backward uses
    differentiable torch ops on the saved inputs, so double backward works too.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, y)
        return torch.exp(x) + torch.cos(y)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, y = ctx.saved_tensors
        grad_x = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad_output * torch.exp(x)).sum_to_size(x.shape)
        if ctx.needs_input_grad[1]:
            grad_y = (-grad_output * torch.sin(y)).sum_to_size(y.shape)
        return grad_x, grad_y


def exp_plus_cos(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """e^x + cos(y) through the hand-written `ExpPlusCos` backward."""
    return ExpPlusCos.apply(x, y)


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
        params: Iterable[torch.Tensor] | Iterable[dict],
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
