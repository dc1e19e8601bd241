"""FMMP's loss (FMMP_SPEC.md section 8): L1 on normalised xy, averaged separately over visible real
points (L_raw) and visible padded points (L_mix); total = L_raw + 0.5 L_mix, summed over layers."""
from __future__ import annotations

import torch
from torch import Tensor

MIX_WEIGHT = 0.5


def _mean_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean |pred - target| over masked points, x and y alike; 0 when nothing is masked."""
    err = (pred - target).abs().sum(-1)  # (B, K)
    count = mask.sum()
    return (err * mask).sum() / (2.0 * count.clamp_min(1))


def fmmp_loss(points: Tensor, target: Tensor, visible: Tensor, real: Tensor) -> Tensor:
    """Args:
        points: (L, B, K, 2) predictions of every layer.
        target: (B, K, 2) query keypoints (padded the same way as the support).
        visible: (B, K) bool, visible in the query.
        real: (B, K) or (K,) bool, the class's own keypoints (the rest are padding).
    Returns:
        scalar loss.
    """
    real = real.expand_as(visible)
    raw, mix = (visible & real).float(), (visible & ~real).float()
    return torch.stack([_mean_l1(p, target, raw) + MIX_WEIGHT * _mean_l1(p, target, mix) for p in points]).sum()
