"""`open_runner`: the one way verify, bench and the runtime open a model file as a Runner."""
from __future__ import annotations

from pathlib import Path

from kitpose.runtime.base import ENGINE_SUFFIXES, RunnerBase


def open_runner(model: str | Path, backend: str = "auto", device: str = "cpu", cuda_graphs: bool = False,
                threads: int = 0) -> RunnerBase:
    """Open a backend for a model file.

    Args:
        model: `.onnx` file (ONNX Runtime) or engine file (TensorRT; `.engine`, `.plan`, `.trt`).
        backend: "auto" (by suffix), "ort", "trt".
        device: "cpu" or "cuda"; for ORT "cuda" asks for the TensorRT/CUDA execution providers
            (engines always run on the GPU).
        cuda_graphs: engines only: replay one CUDA graph per batch bucket.
        threads: ORT only: intra-op threads (0 = ORT default).
    Returns:
        An OrtRunner or a TrtRunner.
    """
    path = Path(model)
    if backend == "auto":
        backend = "trt" if path.suffix.lower() in ENGINE_SUFFIXES else "ort"
    if backend == "ort":
        from kitpose.runtime.ort_runner import OrtRunner

        return OrtRunner(path, device=device, threads=threads)
    if backend == "trt":
        from kitpose.runtime.trt_runner import TrtRunner

        return TrtRunner(path, cuda_graphs=cuda_graphs)
    raise ValueError(f"backend must be 'auto', 'ort' or 'trt', got {backend!r} (PyTorch models: "
                     f"kitpose.runtime.torch_runner.TorchRunner)")
