"""DARK decode as a Triton Python-backend model: heatmaps + crop rows -> keypoints in frame pixels.

`kitpose export --triton DIR` copies this file as DIR/kitpose_decode/1/model.py. It runs inside the
official Triton container, which has numpy but not kitpose, so it needs numpy only (and
`triton_python_backend_utils`, which the backend provides, imported inside `execute`). The maths
follows kitpose's DARK twins (csrc/dark/dark_common.h, kitpose/ops/reference.py) in float64:
first argmax, zero-padded Gaussian blur (cv2.getGaussianKernel taps), rescale to the peak, log,
one Newton step at interior peaks, then the inverse "size-1" crop affine.

Tensors per request (b = the request's batch):
    heatmaps   (b, K, H, W) float32/float16
    crop       (b, 5)       cx, cy, sw, sh, rotation: crop centre (px), scale (units of 200 px), degrees
    keypoints  (b, K, 3)    x, y, score in frame pixels
"""
from __future__ import annotations

import json

import numpy as np

BLUR_KERNEL = 11
LOG_FLOOR = 1e-10
PIXEL_STD = 200.0
SMALL_TAPS = {3: (0.25, 0.5, 0.25), 5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
              7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125)}


def gaussian_taps(size: int) -> np.ndarray:
    """cv2.getGaussianKernel(size, 0): fixed tables up to 7, else sigma = 0.3*((size-1)/2-1)+0.8."""
    if size in SMALL_TAPS:
        return np.asarray(SMALL_TAPS[size])
    sigma = 0.3 * ((size - 1) / 2 - 1) + 0.8
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-t * t / (2.0 * sigma * sigma))
    return g / g.sum()


def blur(maps: np.ndarray, size: int) -> np.ndarray:
    """Zero-padded separable Gaussian blur of (M, H, W) float64 maps, same size."""
    g, r = gaussian_taps(size), size // 2
    _, h, w = maps.shape
    padded = np.pad(maps, ((0, 0), (0, 0), (r, r)))
    rows = sum(g[b] * padded[:, :, b:b + w] for b in range(size))  # (M, H, W) along x
    padded = np.pad(rows, ((0, 0), (r, r), (0, 0)))
    return sum(g[a] * padded[:, a:a + h, :] for a in range(size))  # then along y


def dark(heatmaps: np.ndarray, blur_kernel: int = BLUR_KERNEL) -> tuple[np.ndarray, np.ndarray]:
    """DARK on (N, K, H, W) maps. Returns coords (N, K, 2) x, y in heatmap pixels and scores (N, K)."""
    n, k, h, w = heatmaps.shape
    maps = np.nan_to_num(heatmaps.astype(np.float64).reshape(n * k, h, w), nan=0.0)  # (M, H, W)
    idx = maps.reshape(n * k, -1).argmax(axis=1)  # (M,) first maximum
    maxval = maps.reshape(n * k, -1)[np.arange(n * k), idx]
    px, py = idx % w, idx // w
    blurred = blur(maps, blur_kernel)
    bmax = blurred.reshape(n * k, -1).max(axis=1)
    usable = (maxval > 0) & (bmax > 0)
    scale = np.where(usable, maxval / np.where(usable, bmax, 1.0), 1.0)
    logs = np.log(np.maximum(blurred * scale[:, None, None], LOG_FLOOR))
    padded = np.pad(logs, ((0, 0), (2, 2), (2, 2)))  # gathers at +-2 stay in range
    rows = np.arange(n * k)

    def at(dx: int, dy: int) -> np.ndarray:
        return padded[rows, py + 2 + dy, px + 2 + dx]

    gx, gy = 0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1))
    dxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    dyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = dxx * dyy - dxy * dxy
    interior = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    step = usable & interior & (det != 0)
    safe = np.where(step, det, 1.0)
    x = px + np.where(step, -(dyy * gx - dxy * gy) / safe, 0.0)
    y = py + np.where(step, -(dxx * gy - dxy * gx) / safe, 0.0)
    coords = np.where((maxval > 0)[:, None], np.stack([x, y], axis=1), 0.0)
    return coords.reshape(n, k, 2), maxval.astype(np.float32).reshape(n, k)


def to_frame(coords: np.ndarray, crop: np.ndarray, heatmap_hw: tuple[int, int]) -> np.ndarray:
    """Heatmap (x, y) of (N, K, 2) -> frame pixels, inverting the crop rows (N, 5)."""
    h, w = heatmap_hw
    crop = crop.astype(np.float64)
    f = (w - 1.0) / (crop[:, 2] * PIXEL_STD - 1.0)  # (N,) heatmap px per frame px
    rad = np.deg2rad(crop[:, 4])
    cos, sin = np.cos(rad)[:, None], np.sin(rad)[:, None]
    du = (coords[..., 0] - (w - 1.0) * 0.5) / f[:, None]
    dv = (coords[..., 1] - (h - 1.0) * 0.5) / f[:, None]
    return np.stack([crop[:, :1] + cos * du - sin * dv, crop[:, 1:2] + sin * du + cos * dv], axis=-1)


def decode(heatmaps: np.ndarray, crop: np.ndarray, blur_kernel: int = BLUR_KERNEL) -> np.ndarray:
    """(N, K, H, W) heatmaps and (N, 5) crop rows -> (N, K, 3) float32 x, y, score in frame pixels."""
    if heatmaps.ndim != 4 or crop.shape != (heatmaps.shape[0], 5):
        raise ValueError(f"heatmaps must be (N, K, H, W) and crop (N, 5), got {heatmaps.shape} and {crop.shape}")
    coords, scores = dark(heatmaps, blur_kernel)
    out = np.empty((*scores.shape, 3), np.float32)
    out[..., :2] = to_frame(coords, crop, heatmaps.shape[2:])
    out[..., 2] = scores
    return out


class TritonPythonModel:
    """The Python-backend model: one response per request, errors per request."""

    def initialize(self, args: dict) -> None:
        params = json.loads(args["model_config"]).get("parameters", {})
        self.blur_kernel = int(params.get("blur_kernel", {}).get("string_value", BLUR_KERNEL))

    def execute(self, requests: list) -> list:
        import triton_python_backend_utils as pb_utils

        responses = []
        for request in requests:
            heatmaps = pb_utils.get_input_tensor_by_name(request, "heatmaps").as_numpy()
            crop = pb_utils.get_input_tensor_by_name(request, "crop").as_numpy()
            try:
                keypoints = decode(heatmaps, crop, self.blur_kernel)
            except ValueError as err:
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(err))))
                continue
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("keypoints", keypoints)]))
        return responses
