"""The one output convention every heatmap model in kitpose follows.

Loss, export, decoding and the runtime read `heatmaps`; KITPose also fills `intermediate` (the
HRNet head's heatmaps, supervised by GHRL) and `assign` (the body-part cluster of each keypoint).
Single-head peers (TransPose, BTranspose) leave both as None.
"""
from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class PoseOutput(NamedTuple):
    heatmaps: Tensor                   # (B, K, H, W) final heatmaps, what every decoder reads
    intermediate: Tensor | None = None  # (B, K, H, W) backbone-head heatmaps (KITPose H0)
    assign: Tensor | None = None        # (B, K) int64 body-part cluster per keypoint (KITPose)
