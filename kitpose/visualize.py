"""Pose overlays with OpenCV (torch-free: the runtime draws with this too)."""
from __future__ import annotations

import cv2
import numpy as np

# BGR colours: left limbs, right limbs, the rest; keypoint dots by confidence.
_LEFT, _RIGHT, _MID = (255, 160, 0), (0, 120, 255), (80, 220, 80)


def _limb_colour(names: list[str], a: int, b: int) -> tuple[int, int, int]:
    pair = (names[a] + names[b]).lower()
    if "l_" in pair or "left" in pair:
        return _LEFT
    if "r_" in pair or "right" in pair:
        return _RIGHT
    return _MID


def draw_pose(image: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, skeleton, names,
              threshold: float = 0.2) -> np.ndarray:
    """Draw one instance's skeleton and keypoints in place.

    Args:
        image: (h, w, 3) uint8 BGR, modified in place.
        keypoints: (K, 2) image pixels.
        scores: (K,) confidences; joints at or below `threshold` are not drawn.
        skeleton: pairs of keypoint indices (0-based).
        names: K keypoint names (left/right limbs get their own colours).
    Returns:
        the same image.
    """
    shown = scores > threshold
    pts = np.round(keypoints).astype(np.int32)
    for a, b in skeleton:
        if shown[a] and shown[b]:
            cv2.line(image, tuple(pts[a]), tuple(pts[b]), _limb_colour(names, a, b), 2, cv2.LINE_AA)
    for k in np.flatnonzero(shown):
        level = int(255 * min(1.0, float(scores[k])))
        cv2.circle(image, tuple(pts[k]), 3, (255 - level, level, 255), -1, cv2.LINE_AA)
    return image


def draw_text(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """White text with a dark outline in the top-left corner, one line per entry."""
    for i, line in enumerate(lines):
        org = (6, 18 + 18 * i)
        cv2.putText(image, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return image
