"""Network building blocks: RMSNorm and an autograd Function with a hand-written backward.

- `RMSNorm` (Zhang & Sennrich 2019, arXiv 1910.07467): rescale by the root mean square of the
  features, no re-centring; a learnable gain; optionally estimate the RMS from the first p % of
  the features only (partial RMSNorm).
- `ExpPlusCos` / `exp_plus_cos`: e^X + cos(Y) as a `torch.autograd.Function` whose backward is
  written by hand, broadcasting X against Y like any torch op.

The Lion optimizer lives with the other optimizers in core.optim.
"""

import math

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
