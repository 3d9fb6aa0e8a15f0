"""Data-parallel training under torchrun: which process this is, and what the processes share.

    torchrun --standalone --nproc-per-node 2 -m core.runs.worker RUN_ID --db PATH

torchrun starts N copies of the training process and tells each its rank (`RANK`, `WORLD_SIZE`,
`LOCAL_RANK`). `join` connects them (gloo on the CPU, NCCL on GPUs, one GPU per process); the
image loop then wraps its model in DistributedDataParallel, gives each process its share of the
training batches (DistributedSampler) and adds the processes' training sums (`sums`). One
process alone (no torchrun) is a world of one, where all of this does nothing.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """The process that writes the run's records and files (rank 0)."""
        return self.rank == 0


def current_world() -> World:
    """The world torchrun described in the environment; one process without it."""
    return World(
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def join(world: World, device: torch.device) -> torch.device:
    """Connect the processes (once) and return this process's device: its own GPU under
    NCCL, the CPU under gloo."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
        device = torch.device("cuda", world.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def sums(values: list[float], world: World, device: torch.device) -> list[float]:
    """Each value summed over every process (the values themselves in a world of one)."""
    if not world.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()
