"""Official-style baselines the compiled kernels are measured against (spec sections 4.1 and 12).

Written to be honest: vectorised where the official code is, per-map Python where it is.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch


# ----------------------------------------------------------------------------- DARK (per map, NumPy + OpenCV)

def _taylor(hm: np.ndarray, px: int, py: int) -> tuple[float, float]:
    """Official-style Newton step on one log map; returns the offset (0, 0) when it does not apply."""
    h, w = hm.shape
    if not (1 < px < w - 2 and 1 < py < h - 2):
        return 0.0, 0.0
    dx = 0.5 * (hm[py][px + 1] - hm[py][px - 1])
    dy = 0.5 * (hm[py + 1][px] - hm[py - 1][px])
    dxx = 0.25 * (hm[py][px + 2] - 2 * hm[py][px] + hm[py][px - 2])
    dxy = 0.25 * (hm[py + 1][px + 1] - hm[py - 1][px + 1] - hm[py + 1][px - 1] + hm[py - 1][px - 1])
    dyy = 0.25 * (hm[py + 2][px] - 2 * hm[py][px] + hm[py - 2][px])
    if dxx * dyy - dxy ** 2 == 0:
        return 0.0, 0.0
    offset = -np.linalg.inv(np.array([[dxx, dxy], [dxy, dyy]])) @ np.array([dx, dy])
    return float(offset[0]), float(offset[1])


def dark_official(heatmaps: np.ndarray, kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Per-map DARK as in the official inference code: argmax, cv2.GaussianBlur, log, Python Taylor loop.

    Args:
        heatmaps: (N, K, H, W) float32.
    Returns:
        coords (N, K, 2), maxvals (N, K).
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)  # (N, K, H*W)
    idx = flat.argmax(2)
    maxvals = flat.max(2)
    coords = np.stack([idx % w, idx // w], axis=2).astype(np.float32) * (maxvals > 0)[..., None]
    border = (kernel - 1) // 2
    for i in range(n):
        for j in range(k):
            origin_max = heatmaps[i, j].max()
            dr = np.zeros((h + 2 * border, w + 2 * border), np.float32)
            dr[border:-border, border:-border] = heatmaps[i, j]
            dr = cv2.GaussianBlur(dr, (kernel, kernel), 0)[border:-border, border:-border]
            hm = np.log(np.maximum(dr * (origin_max / dr.max()), 1e-10))
            ox, oy = _taylor(hm, int(coords[i, j, 0]), int(coords[i, j, 1]))
            coords[i, j] += (ox, oy)
    return coords, maxvals


# ----------------------------------------------------------------------------- k-medoids (chunked PyTorch)

def _kkz(xn: torch.Tensor, dist: torch.Tensor, c: int) -> torch.Tensor:
    """KKZ seeding of a chunk: (b, N, D), (b, N, N) -> (b, C) medoid ids."""
    b = xn.shape[0]
    med = [xn.norm(dim=2).argmax(dim=1)]  # (b,)
    rows = torch.arange(b, device=xn.device)
    for _ in range(1, c):
        to_chosen = torch.stack([dist[rows, m] for m in med], dim=1)  # (b, j, N)
        med.append(to_chosen.min(dim=1).values.argmax(dim=1))
    return torch.stack(med, dim=1)  # (b, C)


def _chunk(x: torch.Tensor, c: int, max_iters: int, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    b, n, _ = x.shape
    xn = x / (x.norm(dim=2, keepdim=True) + 1e-6)  # pre-normalise (official)
    unit = xn / (xn.norm(dim=2, keepdim=True) + 1e-6)
    dist = 1.0 - unit @ unit.transpose(1, 2)  # (b, N, N) cosine distance
    dist = dist - dist.max() - 1.0  # all negative (chunk-wide max, as the official code)
    dist = dist - torch.eye(n, device=x.device).unsqueeze(0)  # every point strictly nearest to itself
    med = _kkz(xn, dist, c)
    rows = torch.arange(b, device=x.device).unsqueeze(1)
    for _ in range(max_iters):
        assign = dist[rows, med].argmin(dim=1)  # (b, N)
        member = (assign.unsqueeze(1) == torch.arange(c, device=x.device).view(1, c, 1)).float()  # (b, C, N)
        cost = (member.unsqueeze(3) * dist.unsqueeze(1)).sum(dim=2)  # (b, C, N) masked sums over members
        new = (cost * member).argmin(dim=2)  # non-members masked to 0 > any negative member sum
        shift = (xn[rows, new] - xn[rows, med]).norm(dim=2).sum(dim=1).mean()
        med = new
        if shift < tol:  # one convergence check per chunk
            break
    med = med.sort(dim=1).values
    return dist[rows, med].argmin(dim=1), med


@torch.no_grad()
def kmedoids_official(x: torch.Tensor, c: int, max_iters: int = 40, tol: float = 1e-6, split: int = 8):
    """Chunked batched k-medoids as the official routine (spec 4.1) plus the cluster means (biases).

    Args:
        x: (B, N, D) float32, on any device (the GPU baseline runs the same code there; each chunk's
            convergence check is a host sync, as in the official code).
    Returns:
        assign (B, N), medoids (B, C), means (B, C, D).
    """
    assigns, meds = zip(*(_chunk(xc, c, max_iters, tol) for xc in x.split(split)))
    assign = torch.cat(assigns)  # (B, N)
    member = (assign.unsqueeze(1) == torch.arange(c, device=x.device).view(1, c, 1)).float()  # (B, C, N)
    means = member @ x / member.sum(dim=2, keepdim=True)  # (B, C, D)
    return assign, torch.cat(meds), means
