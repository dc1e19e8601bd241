"""The kitpose checkpoint file: atomic save, safe load.

A checkpoint is a dict `{"format": FORMAT, "arch": str, "config": asdict(model config),
"model": state_dict, ...}`; training checkpoints add optimizer, scheduler, RNG and progress state
(see kitpose.train.state). Files are loaded with `weights_only=True`, so everything stored must be
tensors, numbers, strings and containers of those.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kitpose.atomic import atomic_open
from kitpose.errors import UserInputError

FORMAT = "kitpose-checkpoint-v1"


class CheckpointError(UserInputError):
    """A file that is not a readable kitpose checkpoint; the message names the file."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write `payload` atomically (kitpose.atomic: temp file beside it, fsync, os.replace).

    A crash mid-write leaves any previous file at `path` intact; the next save removes its temp file.

    Args:
        path: destination file.
        payload: checkpoint dict; "format" is set to FORMAT when absent.
    Returns:
        The destination path.
    """
    payload = {"format": FORMAT, **payload}
    with atomic_open(path) as handle:
        torch.save(payload, handle)
    return Path(path)


def torch_load_reason(err: BaseException) -> str:
    """torch.load's failure in one line: its weights-only refusals run over a dozen lines of advice."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = "the safe (weights-only) loader refuses it: " + text.split("WeightsUnpickler error:", 1)[1]
        text = text.split("Check the documentation", 1)[0]
    return " ".join(text.split())


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
    except Exception as err:  # noqa: BLE001 - garbage bytes fail torch.load in many ways (IndexError too)
        raise CheckpointError(f"{path}: cannot read the checkpoint (truncated or not a torch file?): "
                              f"{torch_load_reason(err)}") from None
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
