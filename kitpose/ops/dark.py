"""DARK heatmap decoding front: argument checks, numpy/torch in and out, backend dispatch.

The decoding rule (argmax, zero-padded Gaussian modulation with OpenCV's sigma, rescale, log, one
Taylor step away from the border) is written out in full in `kitpose.ops.reference`. Defined answers
for degenerate maps: NaN entries count as 0; a map whose max is <= 0 (all-zero, all-negative,
NaN-only) gets coordinates (0, 0) and score = its max (<= 0), never NaN; a flat positive map decodes
to (0, 0) (argmax tie at the first pixel); a peak on or next to the border (px <= 1, px >= W-2,
py <= 1 or py >= H-2) keeps its integer argmax. fp16/bf16 input is computed in float32 or better
(the reference works in float64). Outputs are float32; numpy in, numpy out; tensors come back on the
input's device. N may be 0 (empty outputs); K, H, W must be >= 1.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from kitpose import native_calls
from kitpose.ops.dispatch import as_tensor, check_float, check_int, choose_backend, require_backend, to_caller
from kitpose.ops.reference import dark_reference

_OP = "dark_decode"


def _validate(heatmaps: Any, blur_kernel: Any) -> tuple[Tensor, bool, int]:
    """Return (tensor, was_numpy, blur_kernel) after checking both arguments."""
    t, was_numpy = as_tensor(heatmaps, "heatmaps", _OP)
    if t.dim() != 4:
        raise ValueError(f"kitpose.ops.{_OP}: heatmaps must have shape (N, K, H, W), got "
                         f"{tuple(t.shape)} ({t.dim()} dims); add a batch axis with heatmaps[None]")
    check_float(t, "heatmaps", _OP)
    if min(t.shape[1:]) < 1:
        raise ValueError(f"kitpose.ops.{_OP}: heatmaps must have K, H, W >= 1, got shape {tuple(t.shape)}")
    k = check_int(blur_kernel, "blur_kernel", _OP, 3)
    if k % 2 == 0:
        raise ValueError(f"kitpose.ops.{_OP}: blur_kernel must be odd (the blur is centred), got {k}")
    return t, was_numpy, k


def dark_decode(heatmaps: Any, blur_kernel: int = 11, backend: str = "auto") -> tuple[Any, Any]:
    """Decode sub-pixel keypoint positions and scores from heatmaps with DARK.

    Args:
        heatmaps: (N, K, H, W) float numpy array or torch tensor.
        blur_kernel: odd Gaussian kernel size >= 3 (11 in the official code).
        backend: "auto", "reference", "cpu" or "cuda".
    Returns:
        coords (N, K, 2) float32 (x, y) in heatmap pixels and scores (N, K) float32 (map maxima).
    """
    t, was_numpy, k = _validate(heatmaps, blur_kernel)
    n, num_kpts = t.shape[:2]
    if n == 0:
        coords, scores = torch.zeros(0, num_kpts, 2), torch.zeros(0, num_kpts)
    else:
        chosen = choose_backend(_OP, backend, t.device.type, k <= native_calls.MAX_BLUR_KERNEL)
        if chosen == "reference":
            coords, scores = dark_reference(t, k)
        else:
            op = require_backend(_OP, chosen)
            coords, scores = op(t.to(chosen).contiguous(), k, chosen)
    return to_caller(coords, was_numpy, t.device), to_caller(scores, was_numpy, t.device)
