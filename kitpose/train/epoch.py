"""The epoch loop: batches from a resumable sampler, steps, logging, periodic checkpoints.

Everything a run needs is gathered in `Run`, so the same loop serves `kitpose train`, torchrun and
the tests (which build a Run from tiny stand-ins).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from kitpose.checkpoint import load_checkpoint, save_checkpoint
from kitpose.config import TrainSection
from kitpose.train.distributed import DistContext, ResumableSampler, gather_objects, mean_over_ranks
from kitpose.train.metrics import MetricsLogger
from kitpose.train.optim import warmup_lr
from kitpose.train.state import Progress, capture_rng, restore_training, training_payload
from kitpose.train.step import Objective, train_step

LAST_NAME = "last.pt"
BEST_NAME = "best.pt"


@dataclass
class Run:
    """The live objects of one training run (per process)."""
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    dataset: Dataset
    sampler: ResumableSampler
    objective: Objective
    train: TrainSection
    ctx: DistContext
    out_dir: Path
    logger: MetricsLogger
    run_config: dict = field(default_factory=dict)
    validate: Callable[[nn.Module], dict[str, float]] | None = None  # -> {"AP": ...}
    progress: Progress = field(default_factory=Progress)
    generators: dict[str, torch.Generator] = field(default_factory=dict)  # saved with the RNGs


def make_loader(run: Run) -> DataLoader:
    """Loader over the rest of the current epoch; its order depends only on (seed, epoch)."""
    skip = run.progress.batch * run.train.batch_size
    run.sampler.set_position(run.progress.epoch, skip)
    if hasattr(run.dataset, "set_epoch"):
        run.dataset.set_epoch(run.progress.epoch)  # deterministic augmentation per epoch
    generator = torch.Generator().manual_seed(run.train.seed * 1000 + run.progress.epoch)
    return DataLoader(run.dataset, batch_size=run.train.batch_size, sampler=run.sampler,
                      num_workers=run.train.workers, drop_last=True, generator=generator,
                      pin_memory=run.ctx.device.type == "cuda",
                      persistent_workers=False)


def run_epoch(run: Run, max_steps: int | None = None) -> bool:
    """Train the rest of the current epoch; True when stopped early by max_steps."""
    if max_steps is not None and run.progress.step >= max_steps:
        return True
    run.model.train()
    loader = make_loader(run)
    bar = tqdm(loader, desc=f"epoch {run.progress.epoch}", disable=not run.ctx.is_main,
               dynamic_ncols=True, leave=False)
    tic = time.perf_counter()
    for batch in bar:
        warmup_lr(run.optimizer, run.scheduler, run.progress.step, run.train.warmup_iters)
        loss = train_step(run.model, batch, run.optimizer, run.scaler, run.objective,
                          run.train.grad_clip)
        run.progress.step += 1
        run.progress.batch += 1
        if run.progress.step % run.train.log_every == 0:
            sec = (time.perf_counter() - tic) / run.train.log_every
            tic = time.perf_counter()
            value = mean_over_ranks(float(loss), run.ctx)
            lr = run.optimizer.param_groups[0]["lr"]  # this step's (warm-up included)
            run.logger.log(run.progress.step, run.progress.epoch,
                           {"train/loss": value, "train/lr": lr, "train/sec_per_step": sec})
            bar.set_postfix(loss=f"{value:.3e}", lr=f"{lr:.1e}")
        if max_steps is not None and run.progress.step >= max_steps:
            return True  # checked after the step, so no batch is fetched and thrown away
    return False


def save_run(run: Run, name: str = LAST_NAME) -> Path | None:
    """Checkpoint the run (every rank's RNG is gathered; only the main rank writes)."""
    rng = gather_objects(capture_rng(run.generators), run.ctx)
    if not run.ctx.is_main:
        return None
    payload = training_payload(run.model, run.optimizer, run.scheduler, run.scaler, run.progress,
                               rng, run.run_config)
    return save_checkpoint(run.out_dir / name, payload)


def resume_run(run: Run, path: Path | None = None) -> None:
    """Load `last.pt` (or `path`) into the run's fresh objects; continues where it stopped."""
    payload = load_checkpoint(path or run.out_dir / LAST_NAME, map_location=run.ctx.device)
    if run.ctx.device.type != "cpu":
        _rng_to_cpu(payload)
    run.progress = restore_training(payload, run.model, run.optimizer, run.scheduler, run.scaler,
                                    run.ctx.rank, run.generators)


def _rng_to_cpu(payload: dict) -> None:
    """torch.set_rng_state needs CPU ByteTensors even when the checkpoint was mapped to a GPU."""
    for state in payload["rng"]:
        state["torch"] = state["torch"].cpu()
        if "cuda" in state:
            state["cuda"] = [s.cpu() for s in state["cuda"]]
        state["numpy"]["keys"] = state["numpy"]["keys"].cpu()
        state["generators"] = {k: v.cpu() for k, v in state["generators"].items()}
