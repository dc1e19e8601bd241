"""Helper for the onnx stage: a model (or a kitpose checkpoint file) ready for export."""
from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from torch import nn

from kitpose.checkpoint import load_checkpoint
from kitpose.export.config import ExportConfig
from kitpose.models import model_from_checkpoint


def load_for_export(src: nn.Module | str | Path, cfg: ExportConfig) -> nn.Module:
    """An eval-mode model to export, with the clustering iteration count set from cfg.

    Args:
        src: an nn.Module with `.config` (input_size, num_keypoints), or a kitpose checkpoint
            file (`{"arch", "config", "model"}`, see kitpose.checkpoint).
        cfg: export settings; `kmedoids_iters` replaces the model's when both are set.
    Returns:
        A shallow copy of the model (parameters and submodules shared; use `eval_mode` around
        tracing so the caller's train/eval flags are restored afterwards).
    """
    if isinstance(src, nn.Module):
        model = src
    else:
        model = model_from_checkpoint(load_checkpoint(src), str(src))
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "input_size"):
        raise TypeError(f"{type(model).__name__}: export needs a model with .config.input_size (h, w) "
                        f"and .config.num_keypoints (a kitpose.models preset)")
    model = copy.copy(model)  # shares parameters; only .config may be swapped below
    if cfg.kmedoids_iters is not None and hasattr(config, "kmedoids_iters"):
        model.config = dataclasses.replace(config, kmedoids_iters=cfg.kmedoids_iters)
    return model


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Every submodule in eval mode inside the block, each one's own flag restored after.

    torch.onnx.export restores only the top module's flag, recursively, which would switch a
    shared submodule (BatchNorm, Dropout) of the caller's model into training mode.
    """
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training


def model_name(src: nn.Module | str | Path, model: nn.Module, cfg: ExportConfig) -> str:
    """cfg.model_name, else the checkpoint's file stem, else the model class name."""
    if cfg.model_name:
        return cfg.model_name
    return type(model).__name__ if isinstance(src, nn.Module) else Path(src).stem
