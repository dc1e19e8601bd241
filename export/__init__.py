"""The deployment pipeline as small stages (onnx -> precision -> engine -> verify -> triton).

Each stage is a function `(src, dst, cfg) -> Path` from an input file to an output file; this
folder ships as kitpose.export. Graph I/O names are kitpose.config.INPUT_NAME/HEATMAPS_NAME/
ASSIGN_NAME. Optional dependencies (onnxslim, nvidia-modelopt, tensorrt / tensorrt_rtx) are
imported inside the stages.

Which module owns which job. One file per stage: `to_onnx` (with `checkpoint`, `metadata`,
`simplify`), `precision` (with `fp16`, `int8`, `int8_ort`, `calibration`, `regions`),
`build_engine` (with `trt_backend`, `sidecar`) and `verify`, the parity gate as a stage.
`pipeline` holds the order as data (`STAGES`) and `run_pipeline`, the one way to run a slice of
it: `kitpose export` and `kitpose build`, `python -m kitpose.export` and the demo all call it, and
`manifest` records every run so an unchanged stage is skipped. The parity gate is three files:
`eval_run` pushes the evaluation set through one backend (the PyTorch model, or an exported file
in the runtime's own runner from `kitpose.runtime.runners.open_runner`), `gates` holds the limits
and the numbers each backend is judged on, and `report` builds, writes and prints the report of
all backends. `cli` only parses flags; `config` is the one settings dataclass; `files` holds the
file helpers every stage shares; `cape_onnx` exports the category-agnostic (FMMP) graphs.
"""
from kitpose.export.build_engine import build_engine
from kitpose.export.config import ExportConfig
from kitpose.export.files import ExportFileError, load_onnx
from kitpose.export.metadata import read_metadata
from kitpose.export.pipeline import run_pipeline
from kitpose.export.precision import convert_precision
from kitpose.export.sidecar import EngineCompatibilityError, check_engine_compatible
from kitpose.export.to_onnx import export_onnx

__all__ = ["EngineCompatibilityError", "ExportConfig", "ExportFileError", "build_engine",
           "check_engine_compatible", "convert_precision", "export_onnx", "load_onnx",
           "read_metadata", "run_pipeline"]
