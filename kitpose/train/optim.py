"""Optimiser and learning-rate schedule from a TrainSection (spec 11 and 16)."""
from __future__ import annotations

import torch
from torch import nn

from kitpose.config import TrainSection


def build_optimizer(model: nn.Module, train: TrainSection) -> torch.optim.Optimizer:
    """Adam over the trainable parameters (the official code passes no weight decay).

    Args:
        model: the (possibly DDP-wrapped) model.
        train: lr and weight_decay.
    Returns:
        torch.optim.Adam with default betas (0.9, 0.999) and eps 1e-8.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=train.lr, weight_decay=train.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer,
                    train: TrainSection) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-epoch schedule: MultiStepLR (KITPose) or cosine annealing to lr_end (TransPose).

    Args:
        optimizer: from build_optimizer.
        train: scheduler, milestones, gamma, epochs, lr_end.
    Returns:
        An LR scheduler to be stepped once at the end of every epoch.
    """
    if train.scheduler == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(train.milestones),
                                                    gamma=train.gamma)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=train.epochs,
                                                      eta_min=train.lr_end)


def warmup_lr(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler, step: int,
              warmup_iters: int) -> None:
    """Linear warm-up over the per-epoch schedule: optimiser step `step` (0-based) runs at the
    schedule's lr x (step + 1) / warmup_iters; from step warmup_iters on, at the schedule's lr.

    Called before every step (a no-op once the warm-up is over, or with warmup_iters 0). The factor
    follows from the step count alone, so a resumed run warms up exactly as an unbroken one.
    """
    if warmup_iters <= 0 or step > warmup_iters:
        return
    restore_schedule_lr(optimizer, scheduler, factor=min(1.0, (step + 1) / warmup_iters))


def restore_schedule_lr(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                        factor: float = 1.0) -> None:
    """Set every group's lr to the schedule's own lr x factor. With factor 1, before the epoch's
    scheduler step: both schedulers compute the next lr from the current one, which a warm-up still
    in progress has scaled."""
    for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr()):
        group["lr"] = lr * factor
