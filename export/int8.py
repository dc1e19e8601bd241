"""Helper of the precision stage: int8 with explicit Q/DQ nodes (NVIDIA ModelOpt)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kitpose.config import INPUT_NAME
from kitpose.export.config import ExportConfig
from kitpose.export.files import load_onnx
from kitpose.export.regions import clustering_nodes, int8_fp32_convs


def quantize_int8(src: Path, dst: Path, calib: np.ndarray, cfg: ExportConfig) -> str:
    """Write an int8 Q/DQ model of src to dst with NVIDIA ModelOpt: the convolutions only.

    ModelOpt places Q/DQ pairs the way TensorRT fuses them; everything outside them stays fp32
    so a strongly typed engine takes its precision from the file. The clustering, the transformer
    (MatMul/Gemm) and the convs of `int8_fp32_convs` (first, last, heatmaps the clustering reads)
    stay fp32: see that function for the measured AP cost of quantising them.

    Args:
        src: fp32 ONNX file.
        dst: output ONNX file.
        calib: (N, 3, h, w) float32 calibration inputs.
        cfg: settings (int8_tool: "auto" or "modelopt").
    Returns:
        The tool that quantised, with its version.
    """
    try:
        import modelopt
        from modelopt.onnx.quantization import quantize
    except ImportError as err:
        raise ImportError("int8 export needs NVIDIA ModelOpt's ONNX tools: pip install nvidia-modelopt "
                          "onnx-graphsurgeon polygraphy onnxscript lief cppimport") from err
    graph = load_onnx(src)
    excluded = clustering_nodes(graph) + int8_fp32_convs(graph)
    quantize(str(src), quantize_mode="int8", calibration_data={INPUT_NAME: calib},
             calibration_method="max", calibration_eps=["cpu"], op_types_to_quantize=["Conv"],
             nodes_to_exclude=excluded or None,
             high_precision_dtype="fp32", output_path=str(dst), log_level="WARNING")
    if not dst.is_file():
        raise RuntimeError(f"modelopt {modelopt.__version__} quantize wrote no file at {dst}")
    return f"nvidia-modelopt {modelopt.__version__}"
