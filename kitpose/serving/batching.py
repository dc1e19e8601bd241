"""The served model's maths: the requests of one dynamic batch -> crops -> one runner call per chunk.

Torch-free and pytriton-free (so tests run it in the main environment). The wire format is one
output row per input box, in input order: keypoints (N, K, 3) x, y, score in frame pixels, NaN for a
box that was dropped (outside the frame, or not finite), and kept (N,) bool. `Poses` from
`PoseEstimator` holds the kept rows only; `to_poses` in client.py converts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kitpose.runtime.decode import decode_heatmaps
from kitpose.runtime.pipeline import PoseEstimator
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops
from kitpose.serving.tensors import BOXES, IMAGE, KEPT, KEYPOINTS, validate_request


@dataclass(frozen=True)
class _Crop:
    frame: int       # index into the flat frame list
    row: int         # box index within that frame
    center: np.ndarray
    scale: np.ndarray
    matrix: np.ndarray


class PoseBatcher:
    """Estimates poses for many frames at once, batching the crops of all frames per runner call."""

    def __init__(self, estimator: PoseEstimator):
        """Args:
            estimator: supplies the runner, metadata, padding, flip test and `max_batch` (crops per
                call). Crops are always cut on the CPU here, whatever the estimator's device.
        """
        self.estimator = estimator
        m = estimator.metadata
        self._buffer = np.empty((estimator.max_batch, 3, *m.input_size), np.float32)

    def __call__(self, frames: list[np.ndarray], boxes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Poses of every frame.

        Args:
            frames: (h, w, 3) uint8 BGR images (sizes may differ).
            boxes: per frame, (N, 4) x, y, w, h pixels.
        Returns:
            per frame, keypoints (N, K, 3) float32 (NaN rows for dropped boxes) and kept (N,) bool.
        """
        k = self.estimator.metadata.num_keypoints
        outputs = [(np.full((len(b), k, 3), np.nan, np.float32), np.zeros(len(b), bool)) for b in boxes]
        crops = [c for i, (f, b) in enumerate(zip(frames, boxes)) for c in self._crops(i, f, b)]
        step = self.estimator.max_batch
        for start in range(0, len(crops), step):
            chunk = crops[start:start + step]
            for j, c in enumerate(chunk):
                self._warp(frames[c.frame], c.matrix, self._buffer[j:j + 1])
            heatmaps = self.estimator.heatmaps(self._buffer[:len(chunk)])  # (B, K, H, W)
            centers = np.stack([c.center for c in chunk])
            scales = np.stack([c.scale for c in chunk])
            keypoints = decode_heatmaps(heatmaps, centers, scales)  # (B, K, 3)
            for c, kp in zip(chunk, keypoints):
                outputs[c.frame][0][c.row] = kp
                outputs[c.frame][1][c.row] = True
        return outputs

    def _crops(self, index: int, frame: np.ndarray, boxes: np.ndarray) -> list[_Crop]:
        """The crops of the boxes of one frame that are finite and lie in it (boxes_to_crops' rule)."""
        input_hw = self.estimator.metadata.input_size
        centers, scales, kept = boxes_to_crops(boxes, frame.shape[:2], input_hw, self.estimator.padding)
        mats = crop_matrices(centers, scales, input_hw)
        rows = np.flatnonzero(kept)
        return [_Crop(index, int(r), centers[j], scales[j], mats[j]) for j, r in enumerate(rows)]

    def _warp(self, frame: np.ndarray, matrix: np.ndarray, out: np.ndarray) -> None:
        m = self.estimator.metadata
        warp_crops(frame, matrix[None], m.input_size, m.mean, m.std, out=out)

    def serve_requests(self, requests: list[dict[str, np.ndarray]], max_boxes: int) -> list[dict[str, np.ndarray]]:
        """Run a dynamic batch of requests; any invalid request raises RequestError for the batch.

        In `kitpose serve` the model's guard (triton_guard.py) has already answered invalid requests,
        so this check only matters to callers in-process.

        Args:
            requests: per request, IMAGE (b, h, w, 3) and BOXES (b, N, 4).
            max_boxes: most boxes per image.
        Returns:
            per request, KEYPOINTS (b, N, K, 3) float32 and KEPT (b, N) bool.
        """
        checked = [validate_request(r, max_boxes) for r in requests]
        frames = [f for image, _ in checked for f in image]
        boxes = [b for _, box_lists in checked for b in box_lists]
        results = iter(self(frames, boxes))
        responses = []
        for image, _ in checked:
            part = [next(results) for _ in range(len(image))]
            responses.append({KEYPOINTS: np.stack([kp for kp, _ in part]),
                              KEPT: np.stack([kept for _, kept in part])})
        return responses
