"""The official-style pipeline stages, the baseline speed-ups are measured against.

As the official KITPose inference code does it: per-crop cv2.warpAffine and per-crop torch
ToTensor/Normalize, the fp32 eager model with the chunked Python k-medoids of bench/baselines.py
inside, per-map NumPy/OpenCV DARK and a per-keypoint Python loop for the inverse affine.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from kitpose.bench.baselines import dark_official, kmedoids_official
from kitpose.data.transforms import get_affine_transform


@torch.no_grad()
def official_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """KITPose forward with the clustering done by `kmedoids_official`; other models as they are.

    Mirrors `kitpose.models.kitpose.KITPose.forward` layer for layer (tests check the heatmaps
    against it); only the k-medoids routine and the bias means differ in implementation.

    Args:
        model: a kitpose model in eval mode, fp32.
        x: (B, 3, h, w) float32.
    Returns:
        heatmaps (B, K, H, W).
    """
    c = model.config
    if not hasattr(model, "nano_block"):  # no clustering in this architecture
        return model(x).heatmaps
    feats = model.backbone(x)                                    # (B, C_feat, H, W)
    h0 = model.keypoint_head(feats)                              # (B, K, H, W)
    b, k, height, width = h0.shape
    h0_flat = h0.flatten(2)                                      # (B, K, HW)
    tokens = model.token_embed(h0_flat) + model.pos_embed        # (B, K, D)
    _, _, biases = kmedoids_official(h0_flat, c.num_clusters, c.kmedoids_iters)  # (B, C, HW)
    context = model.nano_block(feats).flatten(2)                 # (B, C, HW)
    prompts = model.prompt_head(biases + context)                # (B, C, D)
    z = model._encode(torch.cat([prompts, tokens], dim=1))       # (B, C+K, D)
    maps = model.heatmap_head(z[:, c.num_clusters:])             # (B, K, HW)
    return maps.reshape(b, k, height, width)


def official_crops(frame_bgr: np.ndarray, mats: np.ndarray, input_hw: tuple[int, int], mean, std
                   ) -> torch.Tensor:
    """RGB frame, then one warpAffine and one ToTensor + Normalize per crop, stacked.

    Returns:
        (N, 3, h, w) float32 tensor.
    """
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    crops = []
    for mat in mats:
        crop = cv2.warpAffine(rgb, mat, (input_hw[1], input_hw[0]), flags=cv2.INTER_LINEAR)
        tensor = torch.from_numpy(crop).permute(2, 0, 1).float().div(255.0)  # ToTensor
        crops.append((tensor - mean_t) / std_t)                               # Normalize
    return torch.stack(crops) if crops else torch.zeros(0, 3, *input_hw)


def official_decode(heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Per-map DARK, then each keypoint mapped to the frame one at a time.

    Args:
        heatmaps: (N, K, H, W) float32.
        centers, scales: (N, 2) crop centres (px) and scales (units of 200 px).
    Returns:
        (N, K, 3) float32 x, y, score in frame pixels.
    """
    coords, maxvals = dark_official(heatmaps)  # (N, K, 2) heatmap px, (N, K)
    out = np.zeros((*coords.shape[:2], 3), np.float32)
    for i in range(len(coords)):
        # UDP: the crop transform at heatmap size maps heatmap pixels straight to the frame
        inv = get_affine_transform(centers[i], scales[i], 0.0, heatmaps.shape[2:], inverse=True)
        for j in range(coords.shape[1]):
            out[i, j, :2] = inv @ np.array([coords[i, j, 0], coords[i, j, 1], 1.0])
    out[..., 2] = maxvals
    return out
