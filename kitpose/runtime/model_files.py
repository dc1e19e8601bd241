"""Turn a --model argument into a file the torch-free runners can open.

ONNX files and engines are used as they are. "default" and kitpose checkpoints are exported to
ONNX once (this step needs torch) into a cache folder keyed by the checkpoint's sha256, so later
runs, and machines that copy the cache, need no torch. Category-agnostic (FMMP) models resolve the
same way to a folder holding support.onnx and query.onnx (`resolve_cape_model`).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from kitpose.runtime.base import ENGINE_SUFFIXES
from kitpose.runtime.metadata import ModelFileError

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
DEFAULT_CAPE = "default-cape"
CAPE_GRAPHS = ("support.onnx", "query.onnx")  # as kitpose.runtime.cape_graphs.GRAPH_FILES


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


def _require_torch(checkpoint: Path, instead: str) -> None:
    """An ImportError naming the checkpoint and what to do instead when torch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ImportError(f"{checkpoint}: exporting a checkpoint needs PyTorch; {instead}") from None


def export_checkpoint(checkpoint: Path, dst: Path) -> Path:
    """Export a kitpose checkpoint to ONNX with kitpose.export (needs torch)."""
    _require_torch(checkpoint, "export it to ONNX on a machine with torch (kitpose export) and pass the .onnx")
    from kitpose.export import export_onnx
    from kitpose.models import load_model

    # export_onnx writes through kitpose.atomic (a temp file of its own, then a rename), so two
    # processes exporting the same checkpoint both succeed and a killed export leaves no half file
    return export_onnx(load_model(str(checkpoint)), dst)


def default_cape_checkpoint() -> Path:
    """Where the embedded default CAPE (FMMP) model lives (kitpose/assets/default_cape.pt)."""
    return default_checkpoint().with_name("default_cape.pt")


def resolve_cape_model(spec: str, shots: int = 1, cache: Path | None = None) -> Path:
    """A folder holding support.onnx and query.onnx for a CAPE --model argument.

    Args:
        spec: "default-cape", an FMMP checkpoint (`*.pt|*.pth|*.ckpt`), a folder that export_cape_onnx
            wrote, or either ONNX file in such a folder.
        shots: support shots the graphs take (a checkpoint is exported for this many).
        cache: export folder (default `cache_dir() / "cape"`).
    Returns:
        The folder (its files are checked when the graphs are opened).
    """
    path = default_cape_checkpoint() if spec == DEFAULT_CAPE else Path(spec)
    if spec == DEFAULT_CAPE and not path.is_file():
        raise ModelFileError(f"{path}: the embedded default CAPE model is missing; reinstall kitpose, or pass "
                             f"--model with an FMMP checkpoint or a folder holding support.onnx and query.onnx")
    if path.is_dir():
        return path
    if path.suffix.lower() == ".onnx" and path.is_file():
        return path.parent
    if not path.is_file():
        raise ModelFileError(f"{path}: CAPE model not found; pass --model with an FMMP checkpoint or a "
                             f"folder holding support.onnx and query.onnx")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise ModelFileError(f"{path}: unknown CAPE model type {path.suffix!r}; expected a folder, .onnx or "
                             f"{'/'.join(CHECKPOINT_SUFFIXES)}")
    dst = (cache or cache_dir() / "cape") / f"{path.stem}-{_sha256(path)[:16]}-s{int(shots)}"
    if not all((dst / name).is_file() for name in CAPE_GRAPHS):
        export_cape_checkpoint(path, dst, shots)
    return dst


def export_cape_checkpoint(checkpoint: Path, dst: Path, shots: int) -> Path:
    """Export an FMMP checkpoint to dst/support.onnx + dst/query.onnx (needs torch)."""
    _require_torch(checkpoint, "export it with kitpose.export.cape_onnx on a machine with torch and pass the folder")
    from kitpose.export.cape_onnx import export_cape_onnx
    from kitpose.models import load_model
    from kitpose.models.fmmp import FMMP

    model = load_model(str(checkpoint))
    if not isinstance(model, FMMP):
        raise ModelFileError(f"{checkpoint}: a {type(model).__name__} checkpoint, not a category-agnostic (FMMP) "
                             f"one; --support needs an FMMP model (e.g. trained from an fmmp-* preset)")
    # each graph is written through kitpose.atomic (a temp file, then a rename), and the folder counts
    # as exported only once both are there, so a killed export is redone and never half-used
    export_cape_onnx(model, dst, shots)
    return dst
