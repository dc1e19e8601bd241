"""The Runner interface every backend implements, and `open_runner` that picks one for a file."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


@runtime_checkable
class Runner(Protocol):
    """inputs (B, 3, h, w) float32 -> heatmaps (B, K, H, W) float32; `close()` frees resources."""

    def __call__(self, inputs: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


class RunnerBase:
    """Context-manager plumbing shared by the backends (`with open_runner(p) as run: ...`)."""

    def close(self) -> None:
        """Release sessions, engines and buffers; the runner is unusable afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_inputs(inputs: np.ndarray, input_size: tuple[int, int], where: str) -> np.ndarray:
    """inputs as C-contiguous float32 (B, 3, h, w), or a ValueError naming the expected shape."""
    if inputs.ndim != 4 or inputs.shape[1] != 3 or tuple(inputs.shape[2:]) != tuple(input_size):
        raise ValueError(f"{where}: inputs must be (B, 3, {input_size[0]}, {input_size[1]}), got "
                         f"{tuple(inputs.shape)}")
    return np.ascontiguousarray(inputs, dtype=np.float32)


def open_runner(model: str | Path, backend: str = "auto", device: str = "cpu",
                cuda_graphs: bool = False):
    """Open a backend for a model file.

    Args:
        model: `.onnx` file (ONNX Runtime) or engine file (TensorRT; `.engine`, `.plan`, `.trt`).
        backend: "auto" (by suffix), "ort", "trt".
        device: "cpu" or "cuda"; for ORT "cuda" asks for the TensorRT/CUDA execution providers.
        cuda_graphs: engines only: replay one CUDA graph per batch bucket.
    Returns:
        A Runner.
    """
    path = Path(model)
    if backend == "auto":
        backend = "trt" if path.suffix.lower() in ENGINE_SUFFIXES else "ort"
    if backend == "ort":
        from kitpose.runtime.ort_runner import OrtRunner

        return OrtRunner(path, device=device)
    if backend == "trt":
        from kitpose.runtime.trt_runner import TrtRunner

        return TrtRunner(path, cuda_graphs=cuda_graphs)
    raise ValueError(f"backend must be 'auto', 'ort' or 'trt', got {backend!r} (PyTorch models: "
                     f"kitpose.runtime.torch_runner.TorchRunner)")
