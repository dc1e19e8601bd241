"""PoseEstimator: frame + boxes -> batched crops -> Runner -> DARK decode -> keypoints (N, K, 3)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kitpose.runtime.base import Runner, open_runner
from kitpose.runtime.decode import decode_heatmaps
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops


@dataclass(frozen=True)
class Poses:
    """Result for one frame: keypoints (N, K, 3) x, y, score in frame pixels; boxes (N, 4) x, y, w, h."""

    keypoints: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.keypoints)


def flip_back(heatmaps: np.ndarray, flip_pairs) -> np.ndarray:
    """Mirror heatmaps (B, K, H, W) along W and swap left/right channels."""
    out = heatmaps[..., ::-1].copy()
    for a, b in flip_pairs:
        out[:, [a, b]] = out[:, [b, a]]
    return out


def _cuda_stage(runner: Runner, metadata: ModelMetadata, flip_test: bool):
    """The GPU crop/decode stage; needs a TrtRunner (device buffers) and no flip test."""
    if not hasattr(runner, "bucket"):
        raise ValueError(f"device='cuda' crops on the GPU need a TensorRT engine runner, got "
                         f"{type(runner).__name__}; use device='cpu' (ORT may still run on CUDA)")
    if flip_test:
        raise ValueError("flip_test is not supported with device='cuda' crops; pass flip_test=False")
    from kitpose.runtime.cuda_stage import CudaStage

    return CudaStage(runner, metadata)


class PoseEstimator:
    """Top-down pose estimation on frames with any Runner backend."""

    def __init__(self, runner: Runner, metadata: ModelMetadata, flip_test: bool = False,
                 max_batch: int = 16, padding: float = 1.25, device: str = "cpu"):
        """Args:
            runner: backend (OrtRunner, TrtRunner, TorchRunner).
            metadata: the model's metadata (sizes, mean/std, flip pairs).
            flip_test: average with the mirrored crop (needs flip pairs in the metadata).
            max_batch: most crops per runner call.
            padding: box enlargement before cropping.
            device: "cpu" (OpenCV crops, C++ decode, any runner) or "cuda" (warp and DARK CUDA
                kernels on a TrtRunner's device buffers; see cuda_stage.py).
        """
        if flip_test and not metadata.flip_pairs:
            raise ValueError(f"flip_test needs flip pairs, and the metadata of "
                             f"{metadata.model_name or 'this model'} has none; pass flip_test=False")
        self.runner, self.metadata = runner, metadata
        self.flip_test, self.max_batch, self.padding = flip_test, int(max_batch), float(padding)
        self._inputs: np.ndarray | None = None  # crop buffer reused across frames
        self._cuda = None
        if device == "cuda":
            self._cuda = _cuda_stage(runner, metadata, flip_test)
            self.max_batch = min(self.max_batch, runner.max_batch)

    @classmethod
    def from_file(cls, model: str | Path, backend: str = "auto", device: str = "cpu",
                  cuda_graphs: bool = False, **kwargs) -> "PoseEstimator":
        """Open `model` (.onnx or engine) with `open_runner` and use its metadata."""
        runner = open_runner(model, backend, device, cuda_graphs)
        gpu_crops = device == "cuda" and hasattr(runner, "bucket")  # engines: crops on the GPU too
        return cls(runner, runner.metadata, device="cuda" if gpu_crops else "cpu", **kwargs)

    def __call__(self, frame: np.ndarray, boxes: np.ndarray) -> Poses:
        """Estimate the poses of the instances in one frame.

        Args:
            frame: (h, w, 3) uint8 BGR.
            boxes: (N, 4) x, y, w, h pixels; boxes outside the frame are dropped.
        Returns:
            Poses with keypoints (N', K, 3) and the kept boxes (N', 4).
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be (h, w, 3) uint8 BGR, got {frame.shape} {frame.dtype}")
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        input_hw = self.metadata.input_size
        centers, scales, kept = boxes_to_crops(boxes, frame.shape[:2], input_hw, self.padding)
        mats = crop_matrices(centers, scales, input_hw)
        parts = []
        for i in range(0, len(mats), self.max_batch):
            part = slice(i, i + self.max_batch)
            if self._cuda is not None:
                parts.append(self._cuda(frame, mats[part], centers[part], scales[part]))
                continue
            crops = self._crops(frame, mats[part])
            parts.append(decode_heatmaps(self.heatmaps(crops), centers[part], scales[part]))
        k = self.metadata.num_keypoints
        keypoints = np.concatenate(parts) if parts else np.zeros((0, k, 3), np.float32)
        return Poses(keypoints, boxes[kept])

    def _crops(self, frame: np.ndarray, mats: np.ndarray) -> np.ndarray:
        m = self.metadata
        if self._inputs is None or len(self._inputs) < len(mats):
            self._inputs = np.empty((max(len(mats), 1), 3, *m.input_size), np.float32)
        return warp_crops(frame, mats, m.input_size, m.mean, m.std, out=self._inputs)

    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """Runner output for crops (B, 3, h, w), flip-averaged when flip_test. Returns (B, K, H, W)."""
        if not self.flip_test:
            return self.runner(crops)
        both = self.runner(np.concatenate([crops, crops[..., ::-1]]))  # (2B, K, H, W)
        b = len(crops)
        return 0.5 * (both[:b] + flip_back(both[b:], self.metadata.flip_pairs))

    def close(self) -> None:
        """Close the GPU stage and the runner."""
        if self._cuda is not None:
            self._cuda.close()
        self.runner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
