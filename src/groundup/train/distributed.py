"""Data parallelism: one process per worker (launched by `torchrun`), gradients averaged by DDP.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them this is a single process and every helper
is a no-op. On CPU the collective backend is gloo. Each rank keeps a full copy of the model, computes
gradients on its slice of the global batch, and DDP all-reduces (averages) them during backward, so
the update equals the one a single process would make on the whole global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup() -> DistInfo:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return DistInfo(rank=dist.get_rank(), world=dist.get_world_size())


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def mean_across_ranks(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The average of a tensor over all ranks (itself when single-process)."""
    if not info.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
