"""Batch cutmix with keypoint-aware target weights (KITPOSE_SPEC.md 9.3).

Fix of the official code: it pastes rows r1:r2 x columns c1:c2 but then tests a keypoint's x
against the row range and y against the column range (a transposed box). Here the inside/outside
test uses the box that was actually pasted: x against columns, y against rows, at heatmap
resolution, with the same half-open bounds as the slice. For square inputs the statistics look
alike, but only this version masks the keypoints that are really covered.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CutmixBox:
    """Pasted region, half-open, in image pixels (rows y1:y2, columns x1:x2)."""

    y1: int
    y2: int
    x1: int
    x2: int


def sample_box(image_size, lam: float, generator: torch.Generator) -> CutmixBox:
    """Box of side fraction sqrt(1 - lam), centre uniform over the image, clipped to it.

    Args:
        image_size: (h, w).
        lam: mixing ratio drawn from Beta(1, 1).
        generator: torch.Generator for the centre draw.
    Returns:
        CutmixBox in image pixels.
    """
    h, w = image_size
    ratio = (1.0 - lam) ** 0.5
    cut_h, cut_w = int(h * ratio), int(w * ratio)
    cy = int(torch.randint(h, (1,), generator=generator))
    cx = int(torch.randint(w, (1,), generator=generator))
    return CutmixBox(y1=min(max(cy - cut_h // 2, 0), h), y2=min(max(cy + cut_h // 2, 0), h),
                     x1=min(max(cx - cut_w // 2, 0), w), x2=min(max(cx + cut_w // 2, 0), w))


def keypoints_in_box(targets: torch.Tensor, box: CutmixBox, image_size) -> torch.Tensor:
    """Whether each keypoint (argmax of its target map) lies in the pasted box.

    Args:
        targets: (B, K, H, W) target heatmaps.
        box: the pasted box in image pixels.
        image_size: (h, w) of the images (heatmap box = image box scaled by H/h, W/w, floored).
    Returns:
        (B, K) bool.
    """
    b, k, hm_h, hm_w = targets.shape
    h, w = image_size
    flat = targets.reshape(b, k, hm_h * hm_w).argmax(dim=-1)  # (B, K)
    ys, xs = flat // hm_w, flat % hm_w
    y1, y2 = box.y1 * hm_h // h, box.y2 * hm_h // h
    x1, x2 = box.x1 * hm_w // w, box.x2 * hm_w // w
    return (ys >= y1) & (ys < y2) & (xs >= x1) & (xs < x2)


def cutmix_batch(images: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                 generator: torch.Generator):
    """Cutmix a batch with a random partner permutation (the partner may be the sample itself).

    Args:
        images: (B, 3, h, w).
        targets: (B, K, H, W).
        weights: (B, K) or (B, K, 1) target weights.
        generator: torch.Generator (CPU) driving lambda, the box and the permutation.
    Returns:
        images (B, 3, h, w), targets (B, K, H, W), weights_a (B, K) for each sample's own
        keypoints outside the box, weights_b (B, K) for the partner's keypoints inside it, and
        lam (float) = 1 - box area / image area.
    """
    h, w = images.shape[-2:]
    hm_h, hm_w = targets.shape[-2:]
    lam = float(torch.rand((), generator=generator))  # Beta(1, 1) is uniform
    box = sample_box((h, w), lam, generator)
    perm = torch.randperm(images.shape[0], generator=generator).to(images.device)
    w2 = weights.reshape(weights.shape[0], -1)  # (B, K)
    inside_a = keypoints_in_box(targets, box, (h, w)).to(w2.device)
    inside_b = inside_a[perm]
    images, targets = images.clone(), targets.clone()
    images[:, :, box.y1:box.y2, box.x1:box.x2] = images[perm, :, box.y1:box.y2, box.x1:box.x2]
    ty1, ty2 = box.y1 * hm_h // h, box.y2 * hm_h // h
    tx1, tx2 = box.x1 * hm_w // w, box.x2 * hm_w // w
    targets[:, :, ty1:ty2, tx1:tx2] = targets[perm, :, ty1:ty2, tx1:tx2]
    weights_a = w2 * (~inside_a).to(w2.dtype)
    weights_b = w2[perm] * inside_b.to(w2.dtype)
    lam = 1.0 - (box.y2 - box.y1) * (box.x2 - box.x1) / float(h * w)
    return images, targets, weights_a, weights_b, lam
