"""Torch-free inference: runners (ONNX Runtime, TensorRT, PyTorch), the pose pipeline, sources, sinks.

Needs numpy, OpenCV, kitpose._C and one backend (onnxruntime, or tensorrt + cuda-python); never
torch (TorchRunner imports it lazily, for development). Sizes are (h, w); keypoints are (N, K, 3)
x, y, score in frame pixels.
"""
from kitpose.runtime.base import Runner, RunnerBase, open_runner
from kitpose.runtime.metadata import ModelFileError, ModelMetadata, read_model_metadata
from kitpose.runtime.pipeline import PoseEstimator, Poses

__all__ = ["ModelFileError", "ModelMetadata", "PoseEstimator", "Poses", "Runner", "RunnerBase",
           "open_runner", "read_model_metadata"]
