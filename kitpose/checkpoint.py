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


__all__ = ["CheckpointError", "FORMAT", "load_checkpoint", "save_checkpoint"]
