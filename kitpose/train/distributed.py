"""Process-group setup for `torchrun` (single node or multi-node) and the resumable sampler.

Under `torchrun` the environment carries RANK, WORLD_SIZE and LOCAL_RANK; without it the run is a
single process. NCCL is used on CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(choice: str, local_rank: int) -> torch.device:
    """"auto" -> this process's GPU when CUDA is available, else CPU."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but torch sees no CUDA GPU; set train.device: cpu")
    if choice in ("cuda", "auto") and torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(device_choice: str = "auto") -> DistContext:
    """Join the process group that torchrun describes in the environment (no-op when absent)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_choice, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistContext(rank, world_size, local_rank, device)


def cleanup_distributed() -> None:
    """Leave the process group, if any."""
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, ctx: DistContext, sync_bn: bool) -> nn.Module:
    """Move to the device; under DDP convert BN to SyncBN (optional) and wrap.

    DDP broadcasts rank 0's parameters and buffers at construction, so replicas start equal.
    """
    model = model.to(ctx.device)
    if not ctx.distributed:
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """`obj` of every rank, indexed by rank (a one-element list without DDP)."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_over_ranks(value: float, ctx: DistContext) -> float:
    """Average a scalar over ranks (for logging only)."""
    if not ctx.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return float(t.item()) / ctx.world_size


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


class ResumableSampler(DistributedSampler):
    """DistributedSampler whose epoch order can be entered part-way (`skip` batches' worth).

    The order depends only on (seed, epoch), so a resumed run replays the same epoch and skips
    the samples it had already consumed. With one process it is a seeded shuffle.
    """

    def __init__(self, dataset: Dataset, ctx: DistContext, seed: int, shuffle: bool = True,
                 drop_last: bool = True):
        super().__init__(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle,
                         seed=seed, drop_last=drop_last)
        self.skip = 0

    def set_position(self, epoch: int, skip_samples: int) -> None:
        """Start `epoch` after its first `skip_samples` samples (for this rank)."""
        self.set_epoch(epoch)
        self.skip = skip_samples

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.skip:])

    def __len__(self) -> int:
        return self.num_samples - self.skip
