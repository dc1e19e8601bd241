"""Turn a --model argument into a file the torch-free runners can open.

ONNX files and engines are used as they are. "default" and kitpose checkpoints are exported to
ONNX once (this step needs torch) into a cache folder keyed by the checkpoint's sha256, so later
runs, and machines that copy the cache, need no torch.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from kitpose.runtime.base import ENGINE_SUFFIXES

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def cache_dir() -> Path:
    """$KITPOSE_CACHE, else ~/.cache/kitpose (XDG_CACHE_HOME respected)."""
    if os.environ.get("KITPOSE_CACHE"):
        return Path(os.environ["KITPOSE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kitpose"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_checkpoint() -> Path:
    """Where the embedded default model lives (kitpose/assets/default.pt)."""
    return Path(__file__).resolve().parents[1] / "assets" / "default.pt"


def resolve_model(spec: str, cache: Path | None = None) -> Path:
    """A runnable model file for "default", a checkpoint, an ONNX file or an engine.

    Args:
        spec: "default", `*.pt|*.pth|*.ckpt` checkpoint, `*.onnx`, or an engine file.
        cache: export folder (default `cache_dir() / "onnx"`).
    Returns:
        Path of an ONNX file or engine.
    """
    path = default_checkpoint() if spec == "default" else Path(spec)
    if not path.is_file():
        what = "the embedded default model" if spec == "default" else "model file"
        raise FileNotFoundError(f"{path}: {what} not found; pass --model with an .onnx, engine or "
                                f"kitpose checkpoint file")
    suffix = path.suffix.lower()
    if suffix == ".onnx" or suffix in ENGINE_SUFFIXES:
        return path
    if suffix not in CHECKPOINT_SUFFIXES:
        raise ValueError(f"{path}: unknown model type {suffix!r}; expected .onnx, "
                         f"{'/'.join(ENGINE_SUFFIXES)} or {'/'.join(CHECKPOINT_SUFFIXES)}")
    dst = (cache or cache_dir() / "onnx") / f"{path.stem}-{_sha256(path)[:16]}.onnx"
    if not dst.is_file():
        export_checkpoint(path, dst)
    return dst


def export_checkpoint(checkpoint: Path, dst: Path) -> Path:
    """Export a kitpose checkpoint to ONNX with kitpose.export (needs torch)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ImportError(f"{checkpoint}: exporting a checkpoint needs PyTorch; export it to ONNX "
                          f"on a machine with torch (kitpose export) and pass the .onnx") from None
    from kitpose.export import export_onnx
    from kitpose.models import load_model

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".partial.onnx")
    export_onnx(load_model(str(checkpoint)), tmp)
    tmp.replace(dst)  # atomic: a killed export never leaves a half file under the final name
    return dst
