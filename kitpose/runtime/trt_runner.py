"""TensorRT engine backend (TensorRT 10 API, also TensorRT-RTX): device memory and a stream from
cuda-python, I/O by tensor name, buffers allocated once per batch bucket, asynchronous execution,
and optionally one CUDA graph per bucket (`cuda_graphs=True`: each bucket gets its own execution
context with its shape fixed, one plain enqueue to settle TensorRT's lazy work, then a captured
enqueue that later calls replay with a single cudaGraphLaunch; inputs are padded up to the bucket).

Kept thin on purpose: it has not been run on our CPU build machines (no GPU there); its bookkeeping
is tested against the fake modules of tests/fake_trt.py. The module imports without TensorRT (so
callers can name the type); a TrtRunner is built only where `tensorrt` (or `tensorrt_rtx`) and
cuda-python import.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kitpose.config import HEATMAPS_NAME, INPUT_NAME
from kitpose.runtime.base import RunnerBase, check_inputs
from kitpose.runtime.metadata import ModelFileError, read_model_metadata


def import_trt_and_cuda() -> tuple[Any, Any]:
    """(tensorrt module, cuda runtime module), or an ImportError saying what to install."""
    trt = None
    for name in ("tensorrt", "tensorrt_rtx"):
        try:
            trt = importlib.import_module(name)
            break
        except ImportError:
            continue
    if trt is None:
        raise ImportError("TrtRunner needs TensorRT: install `tensorrt` (JetPack ships it) or "
                          "`tensorrt-rtx-cu13`; or run the ONNX file with OrtRunner instead")
    for name in ("cuda.bindings.runtime", "cuda.cudart"):  # cuda-python >= 12.8, then older
        try:
            return trt, importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("TrtRunner needs cuda-python for device memory and streams: "
                      "pip install cuda-python")


def engine_runtime_problem() -> str | None:
    """Why TrtRunner cannot run an engine on this machine (no TensorRT runtime, no cuda-python, no
    GPU the CUDA runtime can see), or None when it can. Imports TensorRT only to answer."""
    try:
        _, cudart = import_trt_and_cuda()
    except ImportError as err:
        return f"the TensorRT runtime cannot run here: {err}"
    err, *count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or not count or int(count[0]) < 1:
        return "no CUDA GPU visible to the CUDA runtime; run it on the target device"
    return None


def cuda_check(result: Any) -> Any:
    """Unwrap a cuda-python (err, value...) tuple, raising on an error code."""
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA runtime call failed: {err}")
    return rest[0] if len(rest) == 1 else tuple(rest)




@dataclass
class Bucket:
    """Device buffers for batches up to `size`: tensor name -> (pointer, full shape, numpy dtype)."""

    size: int
    tensors: dict[str, tuple[int, tuple[int, ...], Any]] = field(default_factory=dict)
    context: Any = None  # its own execution context (CUDA-graph mode)
    graph_exec: Any = None  # instantiated CUDA graph of one enqueue at `size` (CUDA-graph mode)


class TrtRunner(RunnerBase):
    """A serialized engine with input "input" (B, 3, h, w) and output "heatmaps" (B, K, H, W)."""

    def __init__(self, path: str | Path, cuda_graphs: bool = False):
        """Args:
            path: engine file; `<engine>.json` (or the ONNX it names) supplies the metadata.
            cuda_graphs: replay one captured CUDA graph per batch bucket.
        """
        self.cuda_graphs = bool(cuda_graphs)
        self.trt, self.cudart = import_trt_and_cuda()
        self.path = Path(path)
        self.metadata = read_model_metadata(self.path)
        logger = self.trt.Logger(self.trt.Logger.WARNING)
        self.engine = self.trt.Runtime(logger).deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise ModelFileError(f"{self.path}: TensorRT {self.trt.__version__} cannot deserialize it "
                                 f"(built with another version or for another GPU); rebuild it here")
        self.names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if INPUT_NAME not in self.names or HEATMAPS_NAME not in self.names:
            raise ModelFileError(f"{self.path}: expected tensors {INPUT_NAME!r} and {HEATMAPS_NAME!r}, "
                                 f"found {self.names}")
        self.context = self.engine.create_execution_context()
        self.stream = cuda_check(self.cudart.cudaStreamCreate())
        self.max_batch = int(self.engine.get_tensor_profile_shape(INPUT_NAME, 0)[2][0])
        self._buckets: dict[int, Bucket] = {}

    def bucket(self, batch: int) -> Bucket:
        """Buffers for `batch` (rounded up to a power of two, at most the profile's max), made once."""
        size = min(self.max_batch, 1 << max(0, int(batch) - 1).bit_length())
        if size not in self._buckets:
            self._buckets[size] = self._allocate(size)
        return self._buckets[size]

    def _allocate(self, size: int) -> Bucket:
        bucket = Bucket(size)
        context = self.engine.create_execution_context() if self.cuda_graphs else self.context
        context.set_input_shape(INPUT_NAME, (size, 3, *self.metadata.input_size))
        for name in self.names:
            shape = tuple(int(s) for s in context.get_tensor_shape(name))
            dtype = np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(name)))
            ptr = cuda_check(self.cudart.cudaMalloc(int(np.prod(shape)) * dtype.itemsize))
            bucket.tensors[name] = (int(ptr), shape, dtype)
            if self.cuda_graphs:
                context.set_tensor_address(name, int(ptr))
        if self.cuda_graphs:
            bucket.context = context
            bucket.graph_exec = self._capture(context)
        return bucket

    def _capture(self, context: Any) -> Any:
        """Instantiated CUDA graph of one enqueue of `context` on the runner's stream."""
        cudart = self.cudart
        if not context.execute_async_v3(int(self.stream)):  # settles lazy allocations first
            raise RuntimeError(f"{self.path}: execute_async_v3 failed before graph capture")
        cuda_check(cudart.cudaStreamSynchronize(self.stream))
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        cuda_check(cudart.cudaStreamBeginCapture(self.stream, mode))
        enqueued = context.execute_async_v3(int(self.stream))
        graph = cuda_check(cudart.cudaStreamEndCapture(self.stream))
        if not enqueued:
            raise RuntimeError(f"{self.path}: execute_async_v3 failed during graph capture")
        return cuda_check(cudart.cudaGraphInstantiate(graph, 0))

    def execute(self, bucket: Bucket, batch: int) -> None:
        """Enqueue the engine on `self.stream` for the first `batch` rows of the bucket's buffers
        (CUDA-graph mode: replay the bucket's graph, which computes all `bucket.size` rows)."""
        if bucket.graph_exec is not None:
            cuda_check(self.cudart.cudaGraphLaunch(bucket.graph_exec, self.stream))
            return
        self.context.set_input_shape(INPUT_NAME, (batch, 3, *self.metadata.input_size))
        for name, (ptr, _, _) in bucket.tensors.items():
            self.context.set_tensor_address(name, ptr)
        if not self.context.execute_async_v3(int(self.stream)):  # TensorRT takes the raw handle
            raise RuntimeError(f"{self.path}: execute_async_v3 failed for batch {batch}")

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """inputs (B, 3, h, w) float32 on the host -> heatmaps (B, K, H, W) float32 on the host."""
        return self._run(inputs, (HEATMAPS_NAME,))[HEATMAPS_NAME]

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """inputs (B, 3, h, w) on the host -> every engine output by name on the host: heatmaps
        (B, K, H, W) float32 and, for clustering models, assign (B, K)."""
        return self._run(inputs, tuple(n for n in self.names if n != INPUT_NAME))

    def _run(self, inputs: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The outputs `names` for all rows, in chunks of at most max_batch rows."""
        x = check_inputs(inputs, self.metadata.input_size, str(self.path))
        parts = [self._run_chunk(x[i:i + self.max_batch], names) for i in range(0, len(x), self.max_batch)]
        if len(parts) == 1:
            return parts[0]
        return {name: np.concatenate([p[name] for p in parts]) for name in names}

    def _run_chunk(self, x: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        cudart, b = self.cudart, len(x)
        bucket = self.bucket(b)
        in_ptr, _, in_dtype = bucket.tensors[INPUT_NAME]
        host_in = np.ascontiguousarray(x, dtype=in_dtype)
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        cuda_check(cudart.cudaMemcpyAsync(in_ptr, host_in.ctypes.data, host_in.nbytes, h2d, self.stream))
        self.execute(bucket, b)
        out = {}
        for name in names:
            ptr, shape, dtype = bucket.tensors[name]
            out[name] = np.empty((b, *shape[1:]), dtype)  # the first b rows of the bucket
            cuda_check(cudart.cudaMemcpyAsync(out[name].ctypes.data, ptr, out[name].nbytes, d2h, self.stream))
        cuda_check(cudart.cudaStreamSynchronize(self.stream))
        out[HEATMAPS_NAME] = out[HEATMAPS_NAME].astype(np.float32, copy=False)  # (B, K, H, W)
        return out

    def close(self) -> None:
        for bucket in self._buckets.values():
            if bucket.graph_exec is not None:
                self.cudart.cudaGraphExecDestroy(bucket.graph_exec)
            for ptr, _, _ in bucket.tensors.values():
                self.cudart.cudaFree(ptr)
        self._buckets.clear()
        if getattr(self, "stream", None) is not None:
            self.cudart.cudaStreamDestroy(self.stream)
            self.stream = None
        self.context = self.engine = None
