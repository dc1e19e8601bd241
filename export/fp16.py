"""Helper of the precision stage: mixed fp16 with the accuracy-critical parts kept in fp32."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kitpose.export.config import ExportConfig
from kitpose.export.files import load_onnx
from kitpose.export.regions import clustering_nodes


def to_fp16(src: Path, cfg: ExportConfig) -> tuple[Any, str]:
    """Mixed-precision copy: fp16 weights and activations except cfg.fp32_op_types and clustering.

    Uses NVIDIA ModelOpt's AutoCast (`modelopt.onnx.autocast.convert_to_mixed_precision`) with
    an op-type block list (LayerNorm, softmax, normalisation ops) and a node block list (the
    k-medoids subgraph, so assignments come from fp32 distances); graph inputs and outputs stay
    float32. onnxconverter-common's converter was tried first and produced invalid graphs here
    (an initializer shared by an fp16 Conv and an fp32 LayerNorm; Resize outputs not cast back).

    Args:
        src: fp32 ONNX file.
        cfg: precision settings (fp32_op_types).
    Returns:
        (fp16 model, "nvidia-modelopt <version> autocast").
    """
    try:
        import modelopt
        from modelopt.onnx.autocast import convert_to_mixed_precision
    except ImportError as err:
        raise ImportError("the fp16 precision stage needs NVIDIA ModelOpt's ONNX tools: pip install "
                          "nvidia-modelopt onnx-graphsurgeon polygraphy onnxscript lief cppimport") from err
    try:
        # data_max=inf: no data-driven fp32 fallback, so the result does not depend on random data
        half = convert_to_mixed_precision(
            str(src), low_precision_type="fp16", nodes_to_exclude=clustering_nodes(load_onnx(src)),
            op_types_to_exclude=list(cfg.fp32_op_types), keep_io_types=True, data_max=float("inf"))
    except Exception as err:
        raise RuntimeError(f"{src}: ModelOpt AutoCast fp16 conversion failed: {err}") from err
    return half, f"nvidia-modelopt {modelopt.__version__} autocast"
