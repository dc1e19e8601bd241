"""Stage 2: fp32 ONNX -> fp16 (mixed) or int8 (explicit Q/DQ) ONNX; metadata carried over."""
from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kitpose.export.config import ExportConfig, resolve_config
from kitpose.export.files import load_onnx, output_file, save_onnx


def convert_precision(src: str | Path, dst: str | Path, cfg: ExportConfig | None = None,
                      calibration: Sequence[np.ndarray] | None = None, **overrides: Any) -> Path:
    """Write the cfg.precision variant of an fp32 ONNX file.

    Args:
        src: fp32 ONNX from `export_onnx`.
        dst: output file, or a folder (then `model_<precision>.onnx` inside it).
        cfg: settings (precision, fp32_op_types, int8_tool, calib_samples, calib_seed).
        calibration: int8 only: preprocessed (3, h, w) float32 images; synthetic when None.
    Returns:
        The written path. Its metadata_props are the source's plus "precision" and "precision_tool".
    """
    cfg = resolve_config(cfg, overrides)
    src = Path(src)
    model = load_onnx(src)
    dst = output_file(dst, f"model_{cfg.precision}.onnx")
    if cfg.precision == "fp32":
        converted, tool = model, "copy"
    elif cfg.precision == "fp16":
        from kitpose.export.fp16 import to_fp16

        converted, tool = to_fp16(src, cfg)
    else:
        converted, tool = _int8(src, model, calibration, cfg)
    props = {p.key: p.value for p in model.metadata_props}
    props.update(precision=json.dumps(cfg.precision), precision_tool=json.dumps(tool))
    del converted.metadata_props[:]
    for key, value in props.items():
        converted.metadata_props.add(key=key, value=value)
    import onnx

    onnx.checker.check_model(converted, full_check=True)
    return save_onnx(converted, dst)


def _int8(src: Path, model: Any, calibration: Any, cfg: ExportConfig) -> tuple[Any, str]:
    """Quantise in a scratch folder (the tools write files), then load the result."""
    from kitpose.export.calibration import calibration_batch
    from kitpose.export.int8 import quantize_int8

    size = json.loads({p.key: p.value for p in model.metadata_props}.get("input_size", "null") or "null")
    if size is None:
        raise ValueError(f"{src}: no input_size in metadata_props; export it with export_onnx")
    calib = calibration_batch(calibration, tuple(size), cfg.calib_samples, cfg.calib_seed)
    scratch = Path(tempfile.mkdtemp(prefix="kitpose_int8_"))
    try:
        tool = quantize_int8(src, scratch / "int8.onnx", calib, cfg)
        return load_onnx(scratch / "int8.onnx"), tool
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
