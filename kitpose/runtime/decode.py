"""DARK decoding with the inverse crop affine through the compiled CPU twin in kitpose._C.

Launched through the torch-free `kitpose.native_calls`, the same layer `kitpose.ops.compiled` uses.
"""
from __future__ import annotations

import numpy as np

from kitpose.native_calls import data_ptr, launch_dark_decode, native_module

BLUR_KERNEL = 11  # the DARK modulation kernel of the official configs


def affine_rows(centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(N, 5) float32 rows (cx, cy, sw, sh, rotation) that `dark_decode_*` maps back with."""
    n = len(centers)
    rows = np.zeros((n, 5), np.float32)
    rows[:, :2], rows[:, 2:4] = centers, scales
    return rows


def decode_heatmaps(heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray,
                    blur_kernel: int = BLUR_KERNEL) -> np.ndarray:
    """DARK decode on the CPU twin and map to frame pixels.

    Args:
        heatmaps: (N, K, H, W) float32 or float16.
        centers, scales: (N, 2) crop centres (px) and scales (units of 200 px) of the crops.
        blur_kernel: odd DARK blur kernel.
    Returns:
        (N, K, 3) float32 x, y, score in frame pixels.
    """
    native_module("cpu", "kitpose.runtime DARK decode")  # say what is missing before any work
    half = heatmaps.dtype == np.float16
    maps = np.ascontiguousarray(heatmaps, np.float16 if half else np.float32)
    n, k, h, w = maps.shape
    out = np.empty((n, k, 3), np.float32)
    if n == 0:
        return out
    rows = affine_rows(centers, scales)
    coords = np.empty((n, k, 2), np.float32)  # (N, K, 2)
    scores = np.empty((n, k), np.float32)     # (N, K)
    launch_dark_decode("cpu", data_ptr(maps), data_ptr(rows), data_ptr(coords), data_ptr(scores), (n, k, h, w),
                       blur_kernel, half)
    out[..., :2], out[..., 2] = coords, scores
    return out
