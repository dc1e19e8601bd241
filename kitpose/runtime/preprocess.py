"""Boxes -> UDP size-1 crop affines -> batched, normalised model inputs (CPU: OpenCV warpAffine)."""
from __future__ import annotations

import cv2
import numpy as np

from kitpose.data.transforms import box_to_center_scale, get_affine_transform, sanitize_box
from kitpose.runtime.boxes import finite_boxes


def boxes_to_crops(boxes: np.ndarray, image_hw: tuple[int, int], input_hw: tuple[int, int],
                   padding: float = 1.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop centres and scales of boxes, as in training (sanitised, padded to the input aspect).

    Args:
        boxes: (N, 4) x, y, w, h pixels.
        image_hw: (h, w) of the frame.
        input_hw: (h, w) of the model input.
        padding: box enlargement (1.25 in every official config).
    Returns:
        centers (N, 2), scales (N, 2) in units of 200 px, kept (N,) bool: boxes that are finite and
        lie in the frame (the others are dropped from centers/scales).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    aspect = input_hw[1] / input_hw[0]
    centers, scales, kept = [], [], np.zeros(len(boxes), bool)
    for i, (box, finite) in enumerate(zip(boxes, finite_boxes(boxes))):
        clean = sanitize_box(box, image_hw) if finite else None
        if clean is None:
            continue
        center, scale = box_to_center_scale(clean, aspect, padding)
        centers.append(center)
        scales.append(scale)
        kept[i] = True
    return np.asarray(centers).reshape(-1, 2), np.asarray(scales).reshape(-1, 2), kept


def crop_matrices(centers: np.ndarray, scales: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Forward frame -> crop affines. Returns: (N, 2, 3) float64."""
    mats = [get_affine_transform(c, s, 0.0, input_hw) for c, s in zip(centers, scales)]
    return np.asarray(mats, np.float64).reshape(-1, 2, 3)


def warp_crops(frame: np.ndarray, mats: np.ndarray, input_hw: tuple[int, int], mean, std,
               out: np.ndarray | None = None) -> np.ndarray:
    """Bilinear crops of a BGR frame, as RGB, normalised: (v / 255 - mean) / std.

    Args:
        frame: (h, w, 3) uint8 BGR.
        mats: (N, 2, 3) forward affines.
        input_hw: (h, w) of each crop.
        mean, std: per RGB channel in [0, 1] units.
        out: optional (>= N, 3, h, w) float32 buffer to fill (reused across frames).
    Returns:
        (N, 3, h, w) float32 view of `out` (or a new array).
    """
    h, w = input_hw
    n = len(mats)
    if out is None or out.shape[0] < n:
        out = np.empty((n, 3, h, w), np.float32)
    scale = (1.0 / (255.0 * np.asarray(std, np.float32)))[:, None, None]  # (3, 1, 1)
    shift = (np.asarray(mean, np.float32) / np.asarray(std, np.float32))[:, None, None]
    for i in range(n):
        crop = cv2.warpAffine(frame, mats[i], (w, h), flags=cv2.INTER_LINEAR)  # (h, w, 3) BGR
        np.multiply(crop[:, :, ::-1].transpose(2, 0, 1), scale, out=out[i])
        out[i] -= shift
    return out[:n]
