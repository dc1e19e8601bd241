"""Box providers for the live loop, including tracking by pose (detector every N frames)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kitpose.runtime.boxes import boxes_from_keypoints, whole_frame_box


class FixedBoxes:
    """Boxes looked up by frame name (or a key made from it: COCO image ids), else the same list for
    every frame (CLI)."""

    def __init__(self, by_name: dict | None = None, default: np.ndarray | None = None,
                 whole_frame_fallback: bool = False, key: Callable[[str], object] | None = None):
        """Args:
            by_name: key -> (N, 4) boxes; the key is the frame name unless `key` is given.
            default: (N, 4) boxes for frames `by_name` does not hold.
            whole_frame_fallback: the whole frame for such frames when there is no default.
            key: frame name -> key of `by_name` (e.g. its COCO image id).
        """
        self.by_name, self.default, self.fallback = by_name or {}, default, whole_frame_fallback
        self.key = key or (lambda name: name)
        self.matched = 0  # frames found in by_name (infer warns when none was)

    def __call__(self, frame: np.ndarray, name: str) -> np.ndarray:
        """(N, 4) boxes for a frame; whole frame or none when nothing is known about it."""
        key = self.key(name)
        if key in self.by_name:
            self.matched += 1
            return self.by_name[key]
        if self.default is not None:
            return self.default
        return whole_frame_box(frame.shape[:2]) if self.fallback else np.zeros((0, 4))

    def update(self, keypoints: np.ndarray) -> None:
        """Fixed boxes ignore the poses."""


class WholeFrame(FixedBoxes):
    """Every frame is one instance."""

    def __init__(self):
        super().__init__(whole_frame_fallback=True)


class PoseTracker:
    """Detector boxes every `every` frames or when tracking is lost; otherwise boxes from poses.

    Tracking is lost when the previous frame gave fewer confident instances than the last
    detection did, so an instance that fades out triggers a new detection.
    """

    def __init__(self, detector: Callable[[np.ndarray], np.ndarray], every: int = 10,
                 threshold: float = 0.3, min_points: int = 3):
        """Args:
            detector: frame (h, w, 3) -> boxes (N, 4).
            every: run the detector at least every this many frames (1 = every frame).
            threshold / min_points: what counts as a tracked instance (see boxes_from_keypoints).
        """
        if every < 1:
            raise ValueError(f"PoseTracker every must be >= 1, got {every}")
        self.detector, self.every = detector, int(every)
        self.threshold, self.min_points = threshold, min_points
        self.since, self.detected, self.tracked = every, 0, np.zeros((0, 4))
        self.detections = 0  # how many times the detector ran (for logs and tests)

    def __call__(self, frame: np.ndarray, name: str = "") -> np.ndarray:
        """(N, 4) boxes for this frame."""
        lost = len(self.tracked) == 0 or len(self.tracked) < self.detected
        if self.since >= self.every or lost:
            boxes = np.asarray(self.detector(frame), np.float64).reshape(-1, 4)
            self.since, self.detected = 1, len(boxes)
            self.detections += 1
            return boxes
        self.since += 1
        return self.tracked

    def update(self, keypoints: np.ndarray) -> None:
        """Feed back the poses (N, K, 3) of the frame just processed."""
        self.tracked = boxes_from_keypoints(keypoints, self.threshold, min_points=self.min_points)
