"""The export pipeline as data: STAGES in order, each `(src, dst, cfg) -> Path`.

    from kitpose.export.__main__ import run_pipeline
    run_pipeline(model_or_checkpoint, "out/", ExportConfig(precision="fp16", compute_capability="8.6"))

The CLI commands (`kitpose export/build/parity`) live in export/cli.py.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from kitpose.export.build_engine import build_engine
from kitpose.export.config import ExportConfig
from kitpose.export.manifest import run_stage
from kitpose.export.precision import convert_precision
from kitpose.export.to_onnx import export_onnx
from kitpose.export.verify import verify

# (name, stage, output file name in the out folder; {p} is the precision)
STAGES = [
    ("onnx", export_onnx, "model.onnx"),
    ("precision", convert_precision, "model_{p}.onnx"),
    ("engine", build_engine, "model_{p}.engine"),
    ("verify", verify, "parity_{p}.json"),  # raises ParityError when a gate fails
]


def run_pipeline(src: Any, out_dir: str | Path, cfg: ExportConfig, stop_after: str = "engine") -> Path:
    """Run the stages in order up to `stop_after`, each output feeding the next; manifest.json beside.

    Args:
        src: model or checkpoint for the first stage.
        out_dir: output folder.
        cfg: export settings.
        stop_after: name of the last stage to run.
    Returns:
        Output of the last stage run.
    """
    names = [name for name, _, _ in STAGES]
    if stop_after not in names:
        raise ValueError(f"stop_after={stop_after!r}: choose one of {names}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = src if not isinstance(src, (str, Path)) else None
    for name, stage, file_name in STAGES:
        dst = out_dir / file_name.format(p=cfg.precision)
        if name == "verify" and model is not None:  # an in-memory model is the parity reference
            stage = functools.partial(verify, model=model)
        src = run_stage(name, stage, src, dst, cfg, out_dir / "manifest.json")
        if name == stop_after:
            break
    return src
