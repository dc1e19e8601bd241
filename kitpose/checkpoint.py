"""The kitpose checkpoint file: atomic save, safe load.

A checkpoint is a dict `{"format": FORMAT, "arch": str, "config": asdict(model config),
"model": state_dict, ...}`; training checkpoints add optimizer, scheduler, RNG and progress state
(see kitpose.train.state). Files are loaded with `weights_only=True`, so everything stored must be
tensors, numbers, strings and containers of those.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "kitpose-checkpoint-v1"


class CheckpointError(ValueError):
    """A file that is not a readable kitpose checkpoint; the message names the file."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write `payload` atomically: a temp file in the same folder, fsync, then os.replace.

    A crash mid-write leaves any previous file at `path` intact.

    Args:
        path: destination file.
        payload: checkpoint dict; "format" is set to FORMAT when absent.
    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, **payload}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a kitpose checkpoint with `weights_only=True`.

    Args:
        path: checkpoint file.
        map_location: passed to torch.load.
    Returns:
        The payload dict. Raises CheckpointError naming the file when it is missing, truncated,
        not a torch file, or not in the kitpose format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path}: cannot read the checkpoint (truncated or not a torch file?): "
                              f"{err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: not a kitpose checkpoint (format {found!r}, expected "
                              f"{FORMAT!r}); an official KITPose .pth needs kitpose.models.from_official() "
                              "or `kitpose convert-official CONFIG CHECKPOINT -o OUT` first")
    return payload


# what a deployment needs from a training checkpoint; the rest is optimiser and RNG state
DEPLOY_KEYS = ("arch", "config", "model", "progress", "run_config")


def pack_checkpoint(src: str | Path, dst: str | Path, half: bool = True) -> Path:
    """Write the deployable part of a checkpoint: weights, architecture, config, provenance.

    Optimiser, scheduler, scaler and RNG states are dropped (a packed file cannot --resume).
    With `half`, floating-point weights are stored as fp16 (half the bytes); loading casts them
    back into the fp32 model, so the model is the fp16-rounded one.

    Args:
        src: kitpose checkpoint (e.g. runs/x/best.pt).
        dst: output file, written atomically.
        half: store floating-point tensors as fp16.
    Returns:
        The destination path.
    """
    payload = load_checkpoint(src)
    weights = payload["model"]
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    packed = {k: payload[k] for k in DEPLOY_KEYS if k in payload}
    return save_checkpoint(dst, {**packed, "model": weights, "packed_from": Path(src).name,
                                 "weights_dtype": "float16" if half else "float32"})


__all__ = ["CheckpointError", "DEPLOY_KEYS", "FORMAT", "load_checkpoint", "pack_checkpoint",
           "save_checkpoint"]
