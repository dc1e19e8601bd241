"""End-to-end pipelines with one timed lap per stage: capture/decode -> preprocess -> inference ->
heatmap decode -> postprocess.

`StagedPipeline` is kitpose.runtime's PoseEstimator taken apart at its stage boundaries (same
functions, same order; tests check its keypoints equal PoseEstimator's), so any Runner gives the
torch-free ORT pipeline or the PyTorch-eager one. `OfficialPipeline` swaps in the official-style
stages of bench/official.py.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from kitpose.runtime.decode import decode_heatmaps
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops

STAGES = ("capture", "preprocess", "inference", "decode", "postprocess")


class StagedPipeline:
    """JPEG bytes + boxes -> per-instance results, through a Runner, stage by stage."""

    def __init__(self, runner, metadata: ModelMetadata, max_batch: int = 64, padding: float = 1.25):
        self.runner, self.meta = runner, metadata
        self.max_batch, self.padding = int(max_batch), float(padding)
        self._inputs: np.ndarray | None = None  # crop buffer reused across frames, as PoseEstimator

    def capture(self, data: bytes) -> np.ndarray:
        """Decode a JPEG frame. Returns (h, w, 3) uint8 BGR."""
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError("frame bytes are not a decodable image")
        return frame

    def preprocess(self, frame: np.ndarray, boxes: np.ndarray) -> tuple:
        """(crops (N, 3, h, w), centers (N, 2), scales (N, 2), kept boxes (N, 4))."""
        centers, scales, kept = boxes_to_crops(boxes, frame.shape[:2], self.meta.input_size, self.padding)
        mats = crop_matrices(centers, scales, self.meta.input_size)
        if self._inputs is None or len(self._inputs) < len(mats):
            self._inputs = np.empty((max(len(mats), 1), 3, *self.meta.input_size), np.float32)
        crops = warp_crops(frame, mats, self.meta.input_size, self.meta.mean, self.meta.std, out=self._inputs)
        return crops, centers, scales, boxes[kept]

    def infer(self, crops) -> np.ndarray:
        """Runner calls in chunks of max_batch. Returns heatmaps (N, K, H, W) float32."""
        parts = [self.runner(crops[i:i + self.max_batch]) for i in range(0, len(crops), self.max_batch)]
        return np.concatenate(parts)

    def decode(self, heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """DARK decode + inverse affine (compiled C++ twin). Returns (N, K, 3) x, y, score."""
        return decode_heatmaps(heatmaps, centers, scales)

    def postprocess(self, keypoints: np.ndarray, boxes: np.ndarray) -> list[dict]:
        """Per-instance records as JSON Lines carry them: bbox, keypoints, score (mean confidence)."""
        return [{"bbox": [round(float(v), 2) for v in box],
                 "keypoints": np.round(kp.astype(np.float64), 3).tolist(),
                 "score": round(float(kp[:, 2].mean()), 5)} for kp, box in zip(keypoints, boxes)]

    def run(self, data: bytes, boxes: np.ndarray, laps: dict[str, list[float]] | None = None) -> list[dict]:
        """One frame through every stage; with `laps`, appends each stage's milliseconds to laps[stage]."""
        clock = _Laps(laps)
        frame = clock.lap("capture", self.capture(data))
        crops, centers, scales, kept = clock.lap("preprocess", self.preprocess(frame, boxes))
        heatmaps = clock.lap("inference", self.infer(crops))
        keypoints = clock.lap("decode", self.decode(heatmaps, centers, scales))
        return clock.lap("postprocess", self.postprocess(keypoints, kept))


class OfficialPipeline(StagedPipeline):
    """The official-style baseline: same capture and postprocess, official-style middle stages."""

    def __init__(self, model, metadata: ModelMetadata, max_batch: int = 64, padding: float = 1.25,
                 device: str = "cpu"):
        """model: fp32 kitpose model, moved to `device` (where crops go and the clustering runs)."""
        super().__init__(None, metadata, max_batch, padding)
        self.model, self.device = model.float().to(device).eval(), device

    def preprocess(self, frame: np.ndarray, boxes: np.ndarray) -> tuple:
        from kitpose.bench.official import official_crops

        centers, scales, kept = boxes_to_crops(boxes, frame.shape[:2], self.meta.input_size, self.padding)
        mats = crop_matrices(centers, scales, self.meta.input_size)
        crops = official_crops(frame, mats, self.meta.input_size, self.meta.mean, self.meta.std)
        return crops, centers, scales, boxes[kept]

    def infer(self, crops) -> np.ndarray:
        from kitpose.bench.official import official_forward

        parts = [official_forward(self.model, crops[i:i + self.max_batch].to(self.device)).cpu().numpy()
                 for i in range(0, len(crops), self.max_batch)]
        return np.concatenate(parts)

    def decode(self, heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        from kitpose.bench.official import official_decode

        return official_decode(heatmaps, centers, scales)


class _Laps:
    """Stopwatch: lap(stage, value) records the time since the previous lap and passes value on."""

    def __init__(self, laps: dict[str, list[float]] | None):
        self.laps, self.last = laps, time.perf_counter()

    def lap(self, stage: str, value):
        now = time.perf_counter()
        if self.laps is not None:
            self.laps.setdefault(stage, []).append((now - self.last) * 1e3)
        self.last = now
        return value
