"""File helpers shared by the stages: hashing, validated ONNX loading, ONNX saving (atomic, kitpose.atomic)."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from kitpose.atomic import write_atomic
from kitpose.config import INPUT_NAME


class ExportFileError(ValueError):
    """A stage input or output that is missing, truncated or corrupted; the message names the file."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require_file(path: str | Path, what: str) -> Path:
    """Path of an existing, non-empty file, else ExportFileError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ExportFileError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise ExportFileError(f"{path}: {what} is empty (an interrupted write?); rebuild it")
    return path


def load_onnx(path: str | Path, input_name: str | None = INPUT_NAME) -> Any:
    """Load and check an ONNX file; a truncated or corrupted file raises ExportFileError naming it.

    Args:
        path: .onnx file written by `export_onnx` or the precision stage.
        input_name: the graph input it must have (None: any, e.g. the CAPE graphs).
    Returns:
        The onnx.ModelProto.
    """
    import onnx

    path = require_file(path, "ONNX file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as err:  # protobuf DecodeError, checker ValidationError, ...
        raise ExportFileError(f"{path}: not a valid ONNX model, truncated or corrupted "
                              f"({type(err).__name__}: {str(err).strip()[:300]}); re-export it") from None
    names = [i.name for i in model.graph.input]
    if (input_name is not None and input_name not in names) or not model.graph.output:
        raise ExportFileError(f"{path}: ONNX graph has inputs {names} and {len(model.graph.output)} "
                              f"outputs, expected input {input_name!r} (truncated file?); re-export it")
    return model


def save_onnx(model: Any, path: str | Path) -> Path:
    """Write an ONNX model atomically (temp file + rename) so a crash never leaves half a file."""
    # models stay far below protobuf's 2 GB limit, so no external-data files
    return write_atomic(path, model.SerializeToString())


def output_file(dst: str | Path, default_name: str) -> Path:
    """dst itself, or dst/default_name when dst is an existing folder or has no suffix."""
    dst = Path(dst)
    if dst.is_dir() or not dst.suffix:
        return dst / default_name
    return dst
