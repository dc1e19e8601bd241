"""Gaussian heatmap codec (KITPOSE_SPEC.md 10.4 encode, 12 decode).

Input-crop and heatmap pixels are related by the UDP "size-1" maps of the same box: both crops
put the box centre at their own centre ((w-1)/2, (h-1)/2) and both scale isotropically with the
*width* ratio, so heatmap = c_hm + k (input - c_in) with k = (W-1)/(w-1). For square sizes this
is exactly (W-1)/(w-1) per axis; for 256x192 -> 64x48 the y factor is the width one, as in the
official code (targets are computed with the heatmap-size affine of the same box).
"""
from __future__ import annotations

import numpy as np

from kitpose.data.transforms import affine_points, get_affine_transform


class HeatmapCodec:
    """Keypoints <-> unnormalised Gaussian heatmaps, with DARK decoding."""

    def __init__(self, input_size, heatmap_size, sigma: float):
        """Args:
            input_size: (h, w) of the network input crop.
            heatmap_size: (H, W) of the heatmaps.
            sigma: Gaussian sigma in heatmap pixels (2 at 64-px maps, 3 at 96-px maps).
        """
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.sigma = float(sigma)
        h, w = self.input_size
        hm_h, hm_w = self.heatmap_size
        self._k = (hm_w - 1.0) / (w - 1.0)
        self._c_in = np.array([(w - 1.0) * 0.5, (h - 1.0) * 0.5])
        self._c_hm = np.array([(hm_w - 1.0) * 0.5, (hm_h - 1.0) * 0.5])

    def input_to_heatmap(self, points):
        """Map (..., 2) input-crop pixels to heatmap pixels."""
        return self._c_hm + self._k * (np.asarray(points, np.float64) - self._c_in)

    def heatmap_to_input(self, points):
        """Map (..., 2) heatmap pixels to input-crop pixels."""
        return self._c_in + (np.asarray(points, np.float64) - self._c_hm) / self._k

    def encode(self, keypoints, visible):
        """Gaussian targets and target weights for one instance.

        Args:
            keypoints: (K, 2) x, y in input-crop pixels.
            visible: (K,) visibility (> 0 means labelled).
        Returns:
            heatmaps (K, H, W) float32, target_weight (K,) float32.
        """
        hm_h, hm_w = self.heatmap_size
        mu = self.input_to_heatmap(keypoints)  # (K, 2)
        weight = (np.asarray(visible) > 0).astype(np.float32)
        # Same +-3 sigma in-map test as the official code (integer box around the rounded centre).
        radius = self.sigma * 3
        cx, cy = (mu[:, 0] + 0.5).astype(np.int64), (mu[:, 1] + 0.5).astype(np.int64)
        ul_x, ul_y = (cx - radius).astype(np.int64), (cy - radius).astype(np.int64)
        br_x, br_y = (cx + radius + 1).astype(np.int64), (cy + radius + 1).astype(np.int64)
        outside = (ul_x >= hm_w) | (ul_y >= hm_h) | (br_x < 0) | (br_y < 0)
        weight[outside] = 0.0
        xs = np.arange(hm_w, dtype=np.float32)
        ys = np.arange(hm_h, dtype=np.float32)
        dx2 = (xs[None, :] - mu[:, :1].astype(np.float32)) ** 2  # (K, W)
        dy2 = (ys[None, :] - mu[:, 1:].astype(np.float32)) ** 2  # (K, H)
        heatmaps = np.exp(-(dy2[:, :, None] + dx2[:, None, :]) / np.float32(2 * self.sigma ** 2))
        heatmaps *= (weight > 0)[:, None, None]
        return heatmaps.astype(np.float32), weight

    def decode(self, heatmaps, blur_kernel: int = 11, backend: str = "auto"):
        """DARK-decode heatmaps into input-crop coordinates.

        Args:
            heatmaps: (N, K, H, W) numpy array or torch tensor.
            blur_kernel: DARK modulation kernel (11 as in the official code).
            backend: passed to kitpose.ops.dark_decode.
        Returns:
            keypoints (N, K, 2) float64 input-crop pixels, scores (N, K) float64 (max of each map).
        """
        from kitpose.ops import dark_decode  # torch-side op; imported lazily

        coords, scores = dark_decode(heatmaps, blur_kernel=blur_kernel, backend=backend)
        coords, scores = _as_numpy(coords), _as_numpy(scores)
        return self.heatmap_to_input(coords), scores


def _as_numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def to_image_coords(keypoints, center, scale, rot: float = 0.0, input_size=(256, 256)):
    """Map input-crop keypoints back to the original image with the inverse crop affine.

    Args:
        keypoints: (..., 2) input-crop pixels.
        center: (2,) crop centre in the image.
        scale: (2,) crop scale (units of 200 px).
        rot: crop rotation in degrees.
        input_size: (h, w) of the crop.
    Returns:
        (..., 2) image pixels.
    """
    inv = get_affine_transform(center, scale, rot, input_size, inverse=True)
    return affine_points(keypoints, inv)
