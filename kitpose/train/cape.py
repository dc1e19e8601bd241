"""Category-agnostic pose (FMMP) in the trainer: episode datasets, the L1 objective, PCK validation.

A config whose `data.dataset` is "mp100" trains an FMMP preset on an MP-100-style file (COCO
keypoints with a skeleton per category, kitpose.data.mp100): every epoch draws, per category, as
many (support shots, query) episodes as the largest category has instances (FMMP_SPEC.md section
9). The loop, checkpoints, resume and DDP are the trainer's own; this file only supplies what
differs from the heatmap models.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from kitpose.config import Config, ConfigError
from kitpose.train.distributed import DistContext, barrier
from kitpose.train.state import unwrap

CAPE_DATASET = "mp100"


def is_cape(cfg: Config) -> bool:
    return cfg.data.dataset == CAPE_DATASET


def check_cape_model(cfg: Config, model: nn.Module) -> None:
    from kitpose.models.fmmp import FMMP

    if is_cape(cfg) != isinstance(model, FMMP):
        raise ConfigError(f"model.name: {cfg.model.name!r} with data.dataset {cfg.data.dataset!r}: the "
                          f"category-agnostic presets (fmmp-*) train on data.dataset '{CAPE_DATASET}' "
                          "and the other presets on a keypoint dataset")


def ensure_cape_synthetic(cfg: Config, ctx: DistContext) -> None:
    """Write the synthetic MP-100-style split files when data.synth_train > 0 and they are missing.

    data.synth_train is then the number of images per category; the files must be the generator's
    `<root>/annotations/mp100_split1_{train,val}.json` and `<root>/images`.
    """
    data = cfg.data
    if ctx.is_main and data.synth_train > 0 and not Path(data.train_json).exists():
        from kitpose.data.categories import write_split_files

        root = Path(data.train_json).parent.parent
        if Path(data.train_images) != root / "images":
            raise ConfigError(f"data.train_images: synthetic categories are written to {root / 'images'}, "
                              f"got {data.train_images}")
        write_split_files(root, data.synth_train, size=int(data.synth_image_size[0]), seed=cfg.train.seed)
    barrier(ctx)


def build_cape_datasets(cfg: Config, input_size: tuple[int, int], ctx: DistContext):
    """(train EpisodeDataset, val EpisodeDataset or None) from the config's MP-100 files."""
    from kitpose.cape.episodes import EpisodeDataset

    ensure_cape_synthetic(cfg, ctx)
    data = cfg.data
    train = EpisodeDataset(_categories("train", data.train_json, data.train_images), data.shots,
                           input_size, train=True, seed=cfg.train.seed)
    val = None
    if data.val_json:
        val = EpisodeDataset(_categories("val", data.val_json, data.val_images), data.shots, input_size,
                             train=False, seed=cfg.train.seed + 1, episodes=data.val_episodes)
    return train, val


def _categories(split: str, json_path: str, images: str):
    from kitpose.data.mp100 import episode_categories

    if not Path(json_path).is_file():
        raise ConfigError(f"data.{split}_json: {json_path} does not exist; give an MP-100-style file "
                          "(`kitpose synth OUT --cape` writes synthetic ones)")
    try:
        return episode_categories(json_path, images)
    except ValueError as err:
        raise ConfigError(f"data.{split}_json: {err}") from None


def make_cape_objective(device: torch.device, amp: bool):
    """(model, episode batch) -> FMMP loss: L1 on real and padded points, summed over layers."""
    from kitpose.cape.loss import fmmp_loss

    use_amp = amp and device.type == "cuda"

    def objective(model: nn.Module, batch: dict[str, Any]) -> Tensor:
        inputs = [batch[k].to(device, non_blocking=True) for k in
                  ("query", "support", "support_points", "support_visible", "table")]
        with torch.autocast(device_type=device.type, enabled=use_amp):
            out = model(*inputs)  # points (L, B, 70, 2)
        return fmmp_loss(out.points.float(), batch["query_points"].to(device),  # (B, 70, 2)
                         batch["query_visible"].to(device), batch["real"].to(device))  # (B, 70)
    return objective


def cape_validator(cfg: Config, val_set, ctx: DistContext):
    """model -> {"PCK@0.05", ..., "PCK@0.2", "mPCK"} on the fixed validation episodes."""
    from kitpose.cape.episodes import evaluate_cape

    def validate(model: nn.Module) -> dict[str, float]:
        return evaluate_cape(unwrap(model), val_set, cfg.train.val_batch_size, ctx.device, cfg.train.workers)
    return validate
