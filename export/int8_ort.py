"""ONNX Runtime's int8 quantizer (the CPU placement of export/int8.py), run in a process of its own.

NVIDIA ModelOpt patches onnxruntime.quantization in every process that runs it (its
`patch_ort_modules`, TensorRT-guided registries): quantize_static there then drops the Relu
entries and fails on the first conv ("Quantization parameters are not specified"). So int8.py
starts `python -m kitpose.export.int8_ort SRC DST CALIB.npy` instead of calling this in-process.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from kitpose.config import INPUT_NAME
from kitpose.export.files import load_onnx
from kitpose.export.regions import ORT_INT8_OP_TYPES, int8_ort_nodes


def quantize_for_onnxruntime(src: Path, dst: Path, calib: np.ndarray) -> str:
    """QDQ model of src: u8 activations (min-max), s8 per-channel weights on `int8_ort_nodes`.

    reduce_range keeps weights to 7 bits: x86 CPUs without VNNI multiply u8 x s8 pairs into int16
    with saturation (vpmaddubsw), which 8-bit weights can overflow.

    Returns:
        The tool, with its version.
    """
    import onnxruntime
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{INPUT_NAME: calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=list(ORT_INT8_OP_TYPES), nodes_to_quantize=int8_ort_nodes(load_onnx(src)),
                    per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    return f"onnxruntime {onnxruntime.__version__} quantize_static"


def main(argv: list[str] | None = None) -> None:
    src, dst, calib = (Path(a) for a in (argv or sys.argv[1:]))
    print(quantize_for_onnxruntime(src, dst, np.load(calib)))


if __name__ == "__main__":
    main()
