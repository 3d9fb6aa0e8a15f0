"""The loan-default network: stacked Linear(h,4h) -> ReLU -> Linear(4h,h) blocks.

Options add what the later loan experiments compare: BatchNorm at the block's start, a skip
connection from the block's input to its output, and dropout inside the block (after the ReLU);
RMSNorm (`core.nn.RMSNorm`) can take BatchNorm's place.
"""

import torch
from torch import nn

from core.nn import RMSNorm


def _norm(hidden: int, batchnorm: bool, rmsnorm: bool) -> nn.Module:
    if batchnorm and rmsnorm:
        raise ValueError("choose batchnorm or rmsnorm, not both")
    if batchnorm:
        return nn.BatchNorm1d(hidden)
    return RMSNorm(hidden) if rmsnorm else nn.Identity()


class Block(nn.Module):
    """[BatchNorm | RMSNorm] -> Linear(h, 4h) -> ReLU -> [Dropout] -> Linear(4h, h), + input if
    `skip`."""

    def __init__(
        self,
        hidden: int,
        batchnorm: bool = False,
        skip: bool = False,
        dropout: float = 0.0,
        rmsnorm: bool = False,
    ):
        super().__init__()
        self.skip = skip
        self.body = nn.Sequential(
            _norm(hidden, batchnorm, rmsnorm),
            nn.Linear(hidden, 4 * hidden),
            nn.ReLU(),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(4 * hidden, hidden),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.skip else out


class BlockMLP(nn.Module):
    """Input projection to `hidden`, `blocks` blocks, and a one-logit head."""

    def __init__(
        self,
        n_features: int,
        hidden: int = 32,
        blocks: int = 1,
        batchnorm: bool = False,
        skip: bool = False,
        dropout: float = 0.0,
        rmsnorm: bool = False,
    ):
        super().__init__()
        self.project = nn.Linear(n_features, hidden)
        self.blocks = nn.Sequential(
            *(Block(hidden, batchnorm, skip, dropout, rmsnorm) for _ in range(blocks))
        )
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch,)."""
        return self.head(self.blocks(self.project(x))).squeeze(-1)
