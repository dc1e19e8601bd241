"""PyTorch backend, for development and parity checks; torch is imported only when one is built.

Options for GPU development runs: fp16 weights and activations (`half`), channels-last memory
format, and CUDA graphs captured once per batch bucket (inputs are padded up to the bucket, so a
stream of varying batch sizes replays a handful of graphs instead of launching every kernel).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kitpose.runtime.base import RunnerBase, check_inputs

# batch buckets of the CUDA-graph mode; larger batches run in chunks of the largest
GRAPH_BUCKETS = (1, 2, 4, 8, 16, 32)


class TorchRunner(RunnerBase):
    """A kitpose nn.Module (or anything `kitpose.models.load_model` accepts) behind the Runner API."""

    def __init__(self, model: Any, device: str = "cpu", half: bool = False, channels_last: bool = False,
                 cuda_graphs: bool = False):
        """Args:
            model: an nn.Module returning an object with `.heatmaps` (moved and cast in place),
                or a name / checkpoint path for `kitpose.models.load_model` ("default", ...).
            device: torch device string.
            half: run in fp16 (GPU; the heatmaps come back as float32).
            channels_last: NHWC memory format for the convolutions.
            cuda_graphs: capture one CUDA graph per batch bucket (needs a CUDA device).
        """
        try:
            import torch
        except ImportError:
            raise ImportError("TorchRunner needs PyTorch; on a torch-free box use the ONNX "
                              "(OrtRunner) or engine (TrtRunner) backends") from None
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from kitpose.models import load_model

            model = load_model(str(model))
        if cuda_graphs and not str(device).startswith("cuda"):
            raise ValueError(f"TorchRunner: cuda_graphs needs a CUDA device, got device={device!r}")
        self.torch, self.device = torch, torch.device(device)
        self.dtype = torch.float16 if half else torch.float32
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device, self.dtype).eval().to(memory_format=self.memory_format)
        self.input_size = tuple(int(v) for v in model.config.input_size)
        self.graphs: dict[int, tuple[Any, Any, Any]] | None = {} if cuda_graphs else None

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """inputs (B, 3, h, w) float32 -> heatmaps (B, K, H, W) float32 (numpy, on the host)."""
        x = check_inputs(inputs, self.input_size, type(self.model).__name__)
        if self.graphs is None:
            return self._eager(self.torch.from_numpy(x))
        top = GRAPH_BUCKETS[-1]
        return np.concatenate([self._replay(x[i:i + top]) for i in range(0, len(x), top)])

    def _eager(self, x: Any) -> np.ndarray:
        """(B, 3, h, w) host tensor -> (B, K, H, W) float32 numpy."""
        with self.torch.inference_mode():
            x = x.to(self.device, self.dtype).contiguous(memory_format=self.memory_format)
            return self.model(x).heatmaps.float().cpu().numpy()

    def _replay(self, x: np.ndarray) -> np.ndarray:
        """Copy (b, 3, h, w) into the bucket's static input, replay its graph, return (b, K, H, W)."""
        batch = len(x)
        bucket = next(b for b in GRAPH_BUCKETS if b >= batch)
        if bucket not in self.graphs:
            self.graphs[bucket] = self._capture(bucket)
        graph, static_in, static_out = self.graphs[bucket]
        static_in[:batch].copy_(self.torch.from_numpy(x), non_blocking=False)
        graph.replay()
        return static_out[:batch].float().cpu().numpy()

    def _capture(self, batch: int) -> tuple[Any, Any, Any]:
        """(graph, static input, static heatmaps) of the model at this batch size."""
        h, w = self.input_size
        static_in = self.torch.zeros(batch, 3, h, w, device=self.device, dtype=self.dtype
                                     ).contiguous(memory_format=self.memory_format)
        graph, static_out = capture_graph(self.model, static_in)
        return graph, static_in, static_out

    def close(self) -> None:
        self.model, self.graphs = None, None


def capture_graph(model: Any, static_in: Any) -> tuple[Any, Any]:
    """A CUDA graph of model(static_in).heatmaps, captured after three calls on a side stream (cuDNN
    autotuning, lazy inits and torch.compile's first call happen outside the capture).

    Returns (graph, static heatmaps (B, K, H, W): a buffer of the graph's pool, rewritten by each replay).
    """
    import torch

    device = static_in.device
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.inference_mode(), torch.cuda.stream(side):
        for _ in range(3):
            model(static_in)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode(), torch.cuda.graph(graph):
        static_out = model(static_in).heatmaps
    return graph, static_out
