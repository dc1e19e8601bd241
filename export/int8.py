"""Helper of the precision stage: int8 with explicit Q/DQ nodes, placed for the runtime that runs it.

TensorRT and ONNX Runtime's CPU kernels fuse different Q/DQ patterns, so one placement cannot serve
both (measured on the default model, ONNX Runtime 1.31, 2-core x86):

- "modelopt" (NVIDIA ModelOpt, for TensorRT): symmetric int8 Q/DQ on conv *inputs* only (and the
  residual input of the adds TensorRT fuses into a conv); TensorRT takes no uint8 Q/DQ. ONNX Runtime
  forms no QLinearConv from it (a conv needs a Q on its output), so it runs 619 DequantizeLinear and
  187 QuantizeLinear around fp32 convs: 1.8x *slower* than fp32.
- "onnxruntime" (its own quantize_static, for CPU runtimes): u8 activations, s8 per-channel
  weights, Q/DQ around every backbone Conv/Relu/Add/Resize (regions.int8_ort_nodes), so the
  optimised graph holds 286 QLinearConv and 159 QLinearAdd with the Relus folded in, and 1 Q and
  2 DQ at its fp32 edges (export/int8_ort.py, run in a process of its own).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from kitpose.config import INPUT_NAME
from kitpose.export.config import ExportConfig
from kitpose.export.files import load_onnx
from kitpose.export.regions import clustering_nodes, int8_fp32_convs


def quantize_int8(src: Path, dst: Path, calib: np.ndarray, cfg: ExportConfig) -> str:
    """Write an int8 Q/DQ model of src to dst, placed for cfg.int8_tool's runtime.

    The clustering, the transformer (MatMul/Gemm) and the convs of `int8_fp32_convs` (first, last,
    heatmaps the clustering reads) stay fp32 with both tools: see that function for the measured AP
    cost of quantising them.

    Args:
        src: fp32 ONNX file.
        dst: output ONNX file.
        calib: (N, 3, h, w) float32 calibration inputs.
        cfg: settings (int8_tool: "modelopt" for TensorRT, "onnxruntime" for CPU runtimes).
    Returns:
        The tool that quantised, with its version.
    """
    quantize = _onnxruntime if cfg.int8_tool == "onnxruntime" else _modelopt
    tool = quantize(src, dst, calib)
    if not dst.is_file():
        raise RuntimeError(f"{tool} wrote no file at {dst}")
    return tool


def _modelopt(src: Path, dst: Path, calib: np.ndarray) -> str:
    """TensorRT placement: ModelOpt on the convolutions (max calibration, fp32 elsewhere)."""
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
    return f"nvidia-modelopt {modelopt.__version__}"


def _onnxruntime(src: Path, dst: Path, calib: np.ndarray) -> str:
    """CPU placement: export/int8_ort.py in a fresh interpreter (ModelOpt patches ORT's quantizer)."""
    calib_file = dst.with_suffix(".calib.npy")
    np.save(calib_file, calib)
    run = subprocess.run([sys.executable, "-m", "kitpose.export.int8_ort", str(src), str(dst), str(calib_file)],
                         capture_output=True, text=True)
    calib_file.unlink(missing_ok=True)
    if run.returncode != 0:
        raise RuntimeError(f"onnxruntime quantize_static failed on {src}:\n{run.stderr[-3000:]}")
    return run.stdout.strip().splitlines()[-1]
