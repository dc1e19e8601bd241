"""The deployment pipeline as small stages (onnx -> precision -> engine -> verify -> triton).

Each stage is a function `(src, dst, cfg) -> Path` from an input file to an output file; this
folder ships as kitpose.export. Graph I/O names are kitpose.config.INPUT_NAME/HEATMAPS_NAME/
ASSIGN_NAME. Optional dependencies (onnxslim, nvidia-modelopt, tensorrt / tensorrt_rtx) are
imported inside the stages.
"""
from kitpose.export.build_engine import build_engine
from kitpose.export.config import ExportConfig
from kitpose.export.files import ExportFileError, load_onnx
from kitpose.export.metadata import read_metadata
from kitpose.export.precision import convert_precision
from kitpose.export.sidecar import EngineCompatibilityError, check_engine_compatible
from kitpose.export.to_onnx import export_onnx

__all__ = ["EngineCompatibilityError", "ExportConfig", "ExportFileError", "build_engine",
           "check_engine_compatible", "convert_precision", "export_onnx", "load_onnx",
           "read_metadata"]
