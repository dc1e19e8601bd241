"""PoseEstimator: frame + boxes -> batched crops -> Runner -> DARK decode -> keypoints (N, K, 3)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kitpose.closeable import Closeable
from kitpose.runtime.base import Runner
from kitpose.runtime.decode import decode_heatmaps
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops
from kitpose.runtime.runners import open_runner
from kitpose.runtime.trt_runner import TrtRunner  # the class only; TensorRT is imported by a TrtRunner

log = logging.getLogger("kitpose.runtime")
DEFAULT_MAX_BATCH = 16


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
    if not isinstance(runner, TrtRunner):
        raise ValueError(f"device='cuda' crops on the GPU need a TensorRT engine runner, got "
                         f"{type(runner).__name__}; use device='cpu' (ORT may still run on CUDA)")
    if flip_test:
        raise ValueError("flip_test is not supported with device='cuda' crops; pass flip_test=False")
    from kitpose.runtime.cuda_stage import CudaStage

    return CudaStage(runner, metadata)


def _batch_limit(max_batch: int | None, runner: TrtRunner | None) -> int:
    """Crops per runner call: max_batch (default 16), at most the engine's profile maximum when the
    crops go straight into its buffers (`runner`); an explicit larger request is logged, not refused,
    because chunking changes no result."""
    want = DEFAULT_MAX_BATCH if max_batch is None else int(max_batch)
    if runner is None or want <= runner.max_batch:
        return want
    if max_batch is not None:
        log.warning("max_batch=%d exceeds the engine's profile maximum %d (%s); GPU crops run in "
                    "chunks of %d", want, runner.max_batch, runner.path, runner.max_batch)
    return runner.max_batch


class PoseEstimator(Closeable):
    """Top-down pose estimation on frames with any Runner backend."""

    def __init__(self, runner: Runner, metadata: ModelMetadata, flip_test: bool = False,
                 max_batch: int | None = None, padding: float = 1.25, device: str = "cpu"):
        """Args:
            runner: backend (OrtRunner, TrtRunner, TorchRunner).
            metadata: the model's metadata (sizes, mean/std, flip pairs).
            flip_test: average with the mirrored crop (needs flip pairs in the metadata).
            max_batch: most crops per runner call; None: 16, or the engine's profile maximum when
                that is smaller and device="cuda" (a larger explicit value is lowered with a warning).
            padding: box enlargement before cropping.
            device: "cpu" (OpenCV crops, C++ decode, any runner) or "cuda" (warp and DARK CUDA
                kernels on a TrtRunner's device buffers; see cuda_stage.py; other runners refused).
        """
        if flip_test and not metadata.flip_pairs:
            raise ValueError(f"flip_test needs flip pairs, and the metadata of "
                             f"{metadata.model_name or 'this model'} has none; pass flip_test=False")
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if max_batch is not None and int(max_batch) < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.runner, self.metadata = runner, metadata
        self.flip_test, self.padding = flip_test, float(padding)
        self._inputs: np.ndarray | None = None  # crop buffer reused across frames
        self._cuda = _cuda_stage(runner, metadata, flip_test) if device == "cuda" else None
        self.max_batch = _batch_limit(max_batch, runner if self._cuda is not None else None)

    @classmethod
    def from_file(cls, model: str | Path, backend: str = "auto", device: str = "cpu",
                  cuda_graphs: bool = False, **kwargs) -> "PoseEstimator":
        """Open `model` (.onnx or engine) with `open_runner` and use its metadata.

        device="cuda" crops and decodes on the GPU for an engine; for an ONNX file it runs ONNX
        Runtime's CUDA providers and keeps crops and decode on the CPU, and logs a warning saying so.
        """
        runner = open_runner(model, backend, device, cuda_graphs)
        if device == "cuda" and not isinstance(runner, TrtRunner):
            log.warning("device='cuda' with %s: the model runs on %s; crops and DARK decode stay on "
                        "the CPU (GPU crops need a TensorRT engine)", Path(model).name,
                        "/".join(getattr(runner, "providers", ())) or type(runner).__name__)
            device = "cpu"
        return cls(runner, runner.metadata, device=device, **kwargs)

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
