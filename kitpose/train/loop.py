"""`kitpose train CONFIG`: build everything from a Config, then run epochs with validation,
best-AP and last checkpoints, and exact resume. Works alone or under torchrun (DDP)."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from kitpose.config import Config, ConfigError, config_to_dict, load_config, save_config
from kitpose.train.distributed import (DistContext, ResumableSampler, cleanup_distributed,
                                       gather_objects, init_distributed, wrap_model)
from kitpose.train.epoch import BEST_NAME, LAST_NAME, Run, resume_run, run_epoch, save_run
from kitpose.train.cape import (build_cape_datasets, cape_validator, check_cape_model, is_cape,
                                make_cape_objective)
from kitpose.train.init_weights import init_from
from kitpose.train.metrics import MetricsLogger
from kitpose.train.optim import build_optimizer, build_scheduler, restore_schedule_lr
from kitpose.train.run_folder import CONFIG_NAME, check_run_folder, clear_run_folder
from kitpose.train.step import make_objective

log = logging.getLogger("kitpose.train")


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python's RNGs."""
    import random

    import numpy as np
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def end_epoch(run: Run, epochs: int) -> None:
    """Scheduler step, validation every val_every epochs (best.pt on a new best AP), last.pt.

    A run that has taken no optimiser step yet writes no best.pt: its weights are the random ones.
    """
    if run.train.warmup_iters > 0:
        restore_schedule_lr(run.optimizer, run.scheduler)
    run.scheduler.step()
    run.progress.epoch += 1
    run.progress.batch = 0
    epoch, train = run.progress.epoch, run.train
    if run.validate is not None and train.val_every > 0 and (epoch % train.val_every == 0
                                                             or epoch == epochs):
        metrics = run.validate(run.model) if run.ctx.is_main else None
        metrics = gather_objects(metrics, run.ctx)[0]  # every rank learns rank 0's AP
        run.logger.log(run.progress.step, epoch, {f"val/{k}": v for k, v in metrics.items()})
        name, score = primary_metric(metrics)
        log.info("epoch %d: %s %.4f", epoch, name, score)
        if score > run.progress.best_ap and run.progress.step > 0:
            run.progress.best_ap = score
            save_run(run, BEST_NAME)
    if epoch % max(train.save_every, 1) == 0 or epoch == epochs:
        save_run(run, LAST_NAME)


def primary_metric(metrics: dict[str, float]) -> tuple[str, float]:
    """The validation number best.pt follows: OKS AP, or PCK@0.2 for category-agnostic models."""
    name = "AP" if "AP" in metrics else "PCK@0.2"
    return name, float(metrics[name])


def fit(run: Run, epochs: int, max_steps: int | None = None) -> Run:
    """Train from run.progress to `epochs` (or until the global step reaches max_steps).

    Stopping on max_steps writes last.pt at that exact step, so `resume_run` continues there.
    """
    while run.progress.epoch < epochs:
        if run_epoch(run, max_steps):
            save_run(run, LAST_NAME)
            break
        end_epoch(run, epochs)
    return run


def build_model(cfg: Config) -> nn.Module:
    """The model preset with the config's overrides (YAML lists become tuples)."""
    from kitpose.models import MODELS, create_model, list_models

    if cfg.model.name not in MODELS:
        raise ConfigError(f"model.name: unknown model {cfg.model.name!r}; choose one of: "
                          f"{', '.join(list_models())}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.model.overrides.items()}
    try:
        return create_model(cfg.model.name, **overrides)
    except TypeError as err:  # an override that is not a field of the preset's architecture
        raise ConfigError(f"model.overrides: {err}") from None


def heatmap_size(model: nn.Module) -> tuple[int, int]:
    """(H, W) of the model's heatmaps: its config's heatmap_size, else input / 4."""
    size = getattr(model.config, "heatmap_size", None)
    if size is None:
        h, w = model.config.input_size
        size = (h // 4, w // 4)
    return tuple(int(s) for s in size)


def build_run(cfg: Config, ctx: DistContext, out_dir: Path, resume: bool = False) -> Run:
    """Model, data, optimiser, schedule, objective and logger of a run (model.init unless resuming)."""
    from kitpose.train.data import build_datasets

    seed_everything(cfg.train.seed)  # same initial weights on every rank
    model = build_model(cfg)
    if cfg.model.init and not resume:  # a resumed run takes its weights from last.pt
        init_from(model, cfg.model.init, cfg.model.init_partial)
    check_cape_model(cfg, model)
    if is_cape(cfg):
        train_set, val_set = build_cape_datasets(cfg, model.config.input_size, ctx)
    else:
        train_set, val_set = build_datasets(cfg, model.config.input_size, heatmap_size(model), ctx)
    sampler = ResumableSampler(train_set, ctx, cfg.train.seed)
    if sampler.num_samples < cfg.train.batch_size:  # the loader drops the incomplete last batch
        raise ConfigError(f"train.batch_size: {len(train_set)} usable sample(s) "
                          f"({sampler.num_samples} per process) fill no batch of {cfg.train.batch_size}, "
                          "so no step would run; lower train.batch_size or add training images")
    model = wrap_model(model, ctx, cfg.train.sync_bn)
    optimizer = build_optimizer(model, cfg.train)
    use_amp = cfg.train.amp and ctx.device.type == "cuda"
    generators = {}
    if cfg.aug.cutmix and not is_cape(cfg):
        generators["cutmix"] = torch.Generator().manual_seed(cfg.train.seed * 1009 + ctx.rank)
    seed_everything(cfg.train.seed + ctx.rank)  # per-rank streams from here on
    return Run(model=model, optimizer=optimizer, scheduler=build_scheduler(optimizer, cfg.train),
               scaler=torch.amp.GradScaler(ctx.device.type, enabled=use_amp), dataset=train_set,
               sampler=sampler,
               objective=(make_cape_objective(ctx.device, use_amp) if is_cape(cfg) else
                          make_objective(ctx.device, use_amp, generators.get("cutmix"), cfg.train.loss)),
               train=cfg.train, ctx=ctx, out_dir=out_dir,
               logger=MetricsLogger(out_dir, enabled=False), run_config=config_to_dict(cfg),
               validate=_validator(cfg, val_set, ctx), generators=generators)


def _validator(cfg: Config, val_set, ctx: DistContext):
    if val_set is None:
        return None
    if is_cape(cfg):
        return cape_validator(cfg, val_set, ctx)
    from kitpose.train.validate import evaluate

    def validate(model: nn.Module) -> dict[str, float]:
        return evaluate(model, val_set, cfg.train.val_batch_size, ctx.device,
                        cfg.train.flip_test, cfg.train.workers)
    return validate


def _build_named(cfg: Config, ctx: DistContext, out: Path, resume: bool, source: str) -> Run:
    """build_run, with the config file named in front of its ConfigErrors (which name the key)."""
    try:
        return build_run(cfg, ctx, out, resume)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}" if source else str(err)) from None


def train(config: str | Path | Config, resume: bool = False, out_dir: str | Path | None = None,
          max_steps: int | None = None, init: str | None = None, init_partial: bool | None = None,
          overwrite: bool = False) -> Path:
    """Train a model from a YAML config (or Config); the entry of `kitpose train`.

    Args:
        config: YAML path or Config.
        resume: continue from `<out_dir>/last.pt` exactly where it stopped.
        out_dir: run folder (default: the config's output.dir).
        max_steps: stop once this many optimiser steps (counted over the whole run) are done.
        init: replaces the config's model.init ("default" or a kitpose checkpoint to fine-tune).
        init_partial: replaces the config's model.init_partial.
        overwrite: replace the run already in out_dir (without it, and without `resume`, a folder
            holding a run is refused with RunFolderError).
    Returns:
        The run folder (config.yaml, metrics.csv, training_curve.png, last.pt, best.pt, tb/).
    """
    from dataclasses import replace

    cfg = config if isinstance(config, Config) else load_config(config)
    if init is not None:
        cfg = replace(cfg, model=replace(cfg.model, init=init))
    if init_partial is not None:
        cfg = replace(cfg, model=replace(cfg.model, init_partial=init_partial))
    out = Path(out_dir or cfg.output.dir)
    check_run_folder(out, resume, overwrite)
    ctx = init_distributed(cfg.train.device)
    try:
        run = _build_named(cfg, ctx, out, resume, "" if isinstance(config, Config) else str(config))
        if resume:
            resume_run(run)
        if overwrite and ctx.is_main:  # only now: a run that fails to start leaves the old one intact
            clear_run_folder(out)
        run.logger = MetricsLogger(out, enabled=ctx.is_main,
                                   resume_step=run.progress.step if resume else None)
        if ctx.is_main:
            save_config(cfg, out / CONFIG_NAME)
        fit(run, cfg.train.epochs, max_steps)
        run.logger.close()
    finally:
        cleanup_distributed()
    return out
