"""The compiled-kernel pipeline: kitpose._C's warp kernel -> torch model -> kitpose._C's DARK kernel,
every stage on one device.

On a GPU (the pipeline this file exists for): the frame is uploaded once, the warp kernel cuts and
normalises every crop on the device, the model runs in fp16 from CUDA graphs captured per batch
bucket (channels-last, cudnn.benchmark on; with compile_model the graphs capture torch.compile's
code, bench name `kernels-compile`), and the DARK kernel decodes and maps back to the frame on the
device; only the (N, K, 3) keypoints come back. On the CPU the same code runs the CPU twins and an fp32 eager model, so its
keypoints can be checked against `StagedPipeline` there.

Stage laps end with a device sync (a stage's time is its work done, not its launches), and the two
kernels are timed on their own too ("kernels" laps: CUDA events on a GPU), so a row can say what
share of a frame they take.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from kitpose.bench.pipelines import StagedPipeline
from kitpose.ops import compiled
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices
from kitpose.runtime.torch_runner import capture_graph

KERNELS = ("warp_affine", "dark_decode")


class KernelPipeline(StagedPipeline):
    """JPEG bytes + boxes -> per-instance results with the compiled kernels on `device`."""

    def __init__(self, model, metadata: ModelMetadata, max_batch: int = 64, padding: float = 1.25,
                 device: str = "cuda", compile_model: bool = False):
        """model: a kitpose nn.Module (moved and, on a GPU, cast to fp16 in place). compile_model: run
        it through torch.compile (inductor, one compile per batch bucket on first use; on a GPU the
        compiled code is what each bucket's CUDA graph captures)."""
        super().__init__(None, metadata, max_batch, padding)
        self.device = torch.device(device)
        self.gpu = self.device.type == "cuda"
        self.precision = "fp16" if self.gpu else "fp32"
        dtype = torch.float16 if self.gpu else torch.float32
        self.layout = torch.channels_last if self.gpu else torch.contiguous_format
        self.model = model.to(self.device, dtype).eval().to(memory_format=self.layout)
        if self.gpu:
            torch.backends.cudnn.benchmark = True  # one shape per graph bucket
        if compile_model:
            self.model = torch.compile(self.model, dynamic=False)  # compiled on a bucket's first call
        self.graphs: dict[int, tuple] = {}  # bucket -> (graph, static input, static heatmaps)
        self.kernel_laps: dict[str, list[float]] | None = None

    def run(self, data: bytes, boxes: np.ndarray, laps: dict[str, list[float]] | None = None) -> list[dict]:
        """As StagedPipeline.run; with `laps`, the kernels' own times also go to laps["kernels/<op>"]."""
        self.kernel_laps = laps
        return super().run(data, boxes, laps)

    def preprocess(self, frame: np.ndarray, boxes: np.ndarray) -> tuple:
        """Upload the frame, warp kernel on the device. Crops (N, 3, h, w) float32 on the device."""
        centers, scales, kept = boxes_to_crops(boxes, frame.shape[:2], self.meta.input_size, self.padding)
        mats = crop_matrices(centers, scales, self.meta.input_size)  # (N, 2, 3) float64
        frame_dev = torch.from_numpy(frame).to(self.device)          # (h, w, 3) uint8 BGR
        mats_dev = torch.from_numpy(mats).to(self.device)
        with self._kernel_clock("warp_affine"):
            crops = compiled.warp_affine(frame_dev, mats_dev, self.meta.input_size, self.meta.mean,
                                         self.meta.std, swap_rb=True)  # (N, 3, h, w) RGB, normalised
        self._sync()
        return crops, centers, scales, boxes[kept]

    def infer(self, crops: torch.Tensor) -> torch.Tensor:
        """Model calls in chunks of max_batch. Heatmaps (N, K, H, W) on the device (fp16 on a GPU)."""
        heatmaps = torch.cat([self._forward(crops[i:i + self.max_batch])
                              for i in range(0, len(crops), self.max_batch)])
        self._sync()
        return heatmaps

    def decode(self, heatmaps: torch.Tensor, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """DARK kernel with the inverse affine, then the keypoints to the host. (N, K, 3) float32."""
        with self._kernel_clock("dark_decode"):
            coords, scores = compiled.dark_decode(heatmaps, 11, center=centers, scale=scales)  # (N, K, 2), (N, K)
        return torch.cat([coords, scores[..., None]], dim=2).cpu().numpy()

    # ------------------------------------------------------------------ model calls

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 3, h, w) float32 -> (b, K, H, W): eager on the CPU, a replayed graph bucket on a GPU."""
        with torch.inference_mode():
            if not self.gpu:
                return self.model(x.to(self.model_dtype)).heatmaps
            bucket = _bucket(len(x), self.max_batch)
            if bucket not in self.graphs:
                self.graphs[bucket] = self._capture(bucket)
            graph, static_in, static_out = self.graphs[bucket]
            static_in[:len(x)].copy_(x)  # casts to fp16; rows past len(x) keep old crops, ignored
            graph.replay()
            return static_out[:len(x)].clone()  # the next replay overwrites static_out

    @property
    def model_dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def _capture(self, batch: int) -> tuple:
        """(graph, static input, static heatmaps) of the model at this batch size."""
        h, w = self.meta.input_size
        static_in = torch.zeros(batch, 3, h, w, device=self.device, dtype=self.model_dtype
                                ).contiguous(memory_format=self.layout)
        graph, static_out = capture_graph(self.model, static_in)
        return graph, static_in, static_out

    # ------------------------------------------------------------------ timing

    def _sync(self) -> None:
        if self.gpu:
            torch.cuda.synchronize(self.device)

    def _kernel_clock(self, op: str) -> "_KernelClock":
        return _KernelClock(self, op)


class _KernelClock:
    """Context manager timing one kernel call into pipe.kernel_laps["kernels/<op>"] (ms).

    On a GPU it records CUDA events and waits for the end event, so the lap is the kernel's device
    time; on the CPU it is the call's wall time.
    """

    def __init__(self, pipe: KernelPipeline, op: str):
        self.pipe, self.op = pipe, op

    def __enter__(self):
        if self.pipe.gpu:
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None or self.pipe.kernel_laps is None:
            return
        if self.pipe.gpu:
            self.end.record()
            self.end.synchronize()
            ms = float(self.start.elapsed_time(self.end))
        else:
            ms = (time.perf_counter() - self.t0) * 1e3
        self.pipe.kernel_laps.setdefault(f"kernels/{self.op}", []).append(ms)


def _bucket(n: int, max_batch: int) -> int:
    """The smallest power of two >= n, capped at max_batch (the graph batch sizes)."""
    return min(max_batch, 1 << max(0, (n - 1).bit_length()))
