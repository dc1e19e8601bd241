"""Torch-free inference: runners (ONNX Runtime, TensorRT, PyTorch), the pose pipeline, sources, sinks.

Needs numpy, OpenCV, kitpose._C and one backend (onnxruntime, or tensorrt + cuda-python); never
torch (TorchRunner imports it lazily, for development). Sizes are (h, w); keypoints are (N, K, 3)
x, y, score in frame pixels.

Which module owns which job. `base` defines the Runner interface (inputs (B, 3, h, w) -> heatmaps
(B, K, H, W), `outputs()` for every graph output, `close()`) and imports no backend. The backends
implement it, one per file: `ort_runner` (ONNX Runtime), `trt_runner` (TensorRT engines, plus
`cuda_check` for cuda-python results and `engine_runtime_problem` saying why an engine cannot run
here) and `torch_runner` (development only). `runners.open_runner` is the one way to open a model
file as a Runner; the runtime, `kitpose.export`'s parity gate and `kitpose.bench` all call it, so an
engine is checked and timed by the same TrtRunner that serves it. `model_files` turns a --model
argument into such a file. `pipeline.PoseEstimator` crops, runs and decodes a frame (`preprocess`,
`decode`; `cuda_stage` does the same on the GPU around a TrtRunner) and says so, or refuses, when
it cannot do what it was asked. `sources`, `boxes`, `detector`, `tracker`, `loop` and `outputs`
feed it frames and boxes and write what it returns; `cape_*` do the same for category-agnostic
(FMMP) models.
"""
from kitpose.runtime.base import Runner, RunnerBase
from kitpose.runtime.metadata import ModelFileError, ModelMetadata, read_model_metadata
from kitpose.runtime.pipeline import PoseEstimator, Poses
from kitpose.runtime.runners import open_runner

__all__ = ["ModelFileError", "ModelMetadata", "PoseEstimator", "Poses", "Runner", "RunnerBase",
           "open_runner", "read_model_metadata"]
