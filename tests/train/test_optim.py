"""Optimiser and LR schedules (spec 11: MultiStepLR x0.1 at 200/230; spec 16: cosine)."""
import math

import pytest
import torch
from torch import nn

from kitpose.config import TrainSection
from kitpose.train.optim import build_optimizer, build_scheduler, restore_schedule_lr, warmup_lr


def lrs(train: TrainSection, epochs: int) -> list[float]:
    optimizer = build_optimizer(nn.Linear(2, 2), train)
    scheduler = build_scheduler(optimizer, train)
    out = []
    for _ in range(epochs):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_adam_without_weight_decay():
    optimizer = build_optimizer(nn.Linear(2, 2), TrainSection())
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.Adam)
    assert group["lr"] == 5e-4 and group["weight_decay"] == 0.0 and group["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("epoch, expected", [
    pytest.param(0, 5e-4, id="start"), pytest.param(199, 5e-4, id="before-200"),
    pytest.param(200, 5e-5, id="at-200"), pytest.param(229, 5e-5, id="before-230"),
    pytest.param(230, 5e-6, id="at-230"), pytest.param(249, 5e-6, id="last"),
])
def test_multistep_milestones(epoch, expected):
    assert lrs(TrainSection(), 250)[epoch] == pytest.approx(expected, rel=1e-9)


def test_cosine_from_lr_to_lr_end():
    train = TrainSection(scheduler="cosine", lr=1e-4, lr_end=1e-5, epochs=10)
    values = lrs(train, 11)
    assert values[0] == pytest.approx(1e-4)
    assert values[5] == pytest.approx(1e-5 + 0.5 * (1e-4 - 1e-5) * (1 + math.cos(math.pi / 2)))
    assert values[10] == pytest.approx(1e-5)


def warmed_lrs(train: TrainSection, steps_per_epoch: int, epochs: int) -> list[float]:
    """The lr of every optimiser step, as run_epoch and end_epoch apply warm-up and the schedule."""
    optimizer = build_optimizer(nn.Linear(2, 2), train)
    scheduler = build_scheduler(optimizer, train)
    out, step = [], 0
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            warmup_lr(optimizer, scheduler, step, train.warmup_iters)
            out.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            step += 1
        restore_schedule_lr(optimizer, scheduler)
        scheduler.step()
    return out


def test_linear_warmup_across_an_epoch_milestone():
    """A warm-up longer than an epoch: the milestone decays the schedule's lr, not the warmed one."""
    train = TrainSection(lr=1.0, milestones=(1, 2), gamma=0.1, warmup_iters=5)
    got = warmed_lrs(train, steps_per_epoch=3, epochs=3)
    expect = [1 / 5, 2 / 5, 3 / 5, 0.1 * 4 / 5, 0.1, 0.1, 0.01, 0.01, 0.01]
    assert got == pytest.approx(expect, rel=1e-12)


def test_no_warmup_leaves_the_schedule_alone():
    train = TrainSection(lr=1.0, milestones=(1,), gamma=0.5)
    assert warmed_lrs(train, steps_per_epoch=2, epochs=2) == [1.0, 1.0, 0.5, 0.5]
