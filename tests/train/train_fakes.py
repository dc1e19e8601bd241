"""Tiny stand-ins (model, dataset) for the training-loop tests; real loss, cutmix and loop."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from kitpose.config import TrainSection
from kitpose.models.output import PoseOutput
from kitpose.train.distributed import DistContext, ResumableSampler
from kitpose.train.epoch import Run
from kitpose.train.metrics import MetricsLogger
from kitpose.train.optim import build_optimizer, build_scheduler
from kitpose.train.step import make_objective

K = 3
CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


@dataclass(frozen=True)
class TinyConfig:
    input_size: tuple[int, int] = (32, 32)
    num_keypoints: int = K
    heatmap_size: tuple[int, int] = (8, 8)


class TinyPose(nn.Module):
    """Two heads like KITPose (intermediate + final); BN and dropout exercise buffers and RNG."""

    def __init__(self):
        super().__init__()
        self.config = TinyConfig()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Dropout(0.2), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU())
        self.inter = nn.Conv2d(8, K, 1)
        self.final = nn.Conv2d(8 + K, K, 3, 1, 1)

    def forward(self, x):                         # (B, 3, 32, 32)
        feats = self.stem(x)                      # (B, 8, 8, 8)
        inter = self.inter(feats)                 # (B, K, 8, 8)
        return PoseOutput(self.final(torch.cat([feats, inter], 1)), inter)


class TinyDataset(Dataset):
    """Fixed images and Gaussian targets; per-(seed, epoch, index) noise like TopDownDataset."""

    def __init__(self, n: int = 24, seed: int = 0):
        gen = np.random.default_rng(1234)
        self.images = gen.normal(size=(n, 3, 32, 32)).astype(np.float32)
        peaks = gen.integers(0, 8, size=(n, K, 2))
        ys, xs = np.mgrid[0:8, 0:8]
        self.targets = np.exp(-((xs - peaks[..., :1, None]) ** 2 + (ys - peaks[..., 1:, None]) ** 2)
                              / 2.0).astype(np.float32)       # (n, K, 8, 8)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        noise = np.random.default_rng([self.seed, self.epoch, i]).normal(size=(3, 32, 32))
        return {"image": torch.from_numpy(self.images[i] + 0.1 * noise.astype(np.float32)),
                "target": torch.from_numpy(self.targets[i]),
                "target_weight": torch.ones(K)}


def make_run(out_dir: Path, ctx: DistContext = CPU, init_seed: int = 0, cutmix: bool = True,
             **train_fields) -> Run:
    """A Run over TinyPose/TinyDataset; `init_seed` sets the initial weights."""
    fields = dict(epochs=4, batch_size=4, lr=1e-2, milestones=(1, 2), workers=0, log_every=1,
                  amp=False, seed=7)
    train = TrainSection(**{**fields, **train_fields})
    torch.manual_seed(init_seed)
    model = TinyPose()
    if ctx.distributed:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = build_optimizer(model, train)
    dataset = TinyDataset(seed=train.seed)
    generators = {"cutmix": torch.Generator().manual_seed(99 + ctx.rank)} if cutmix else {}
    torch.manual_seed(train.seed + ctx.rank)
    return Run(model=model, optimizer=optimizer, scheduler=build_scheduler(optimizer, train),
               scaler=torch.amp.GradScaler("cpu", enabled=False), dataset=dataset,
               sampler=ResumableSampler(dataset, ctx, train.seed),
               objective=make_objective(ctx.device, False, generators.get("cutmix")),
               train=train, ctx=ctx, out_dir=Path(out_dir),
               logger=MetricsLogger(Path(out_dir), enabled=ctx.is_main), generators=generators)
