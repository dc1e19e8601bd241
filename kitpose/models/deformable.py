"""Multi-scale deformable attention (Deformable DETR) written with `grid_sample`, so it exports to
plain ONNX (opset >= 16) with no custom op. FMMP's miner is built from it (FMMP_SPEC.md section 5).

Letters: B batch, Q queries (keypoints), d model dim, h heads, L levels, P points per level and head.
Points are normalised xy in [0, 1] of the image; every pyramid level covers the whole image.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sample_level(value: Tensor, locations: Tensor) -> Tensor:
    """Bilinear samples of one level at normalised locations (zeros outside, align_corners=False).

    Args:
        value: (N, C, H, W).
        locations: (N, Q, P, 2) xy in [0, 1].
    Returns:
        (N, C, Q, P).
    """
    return F.grid_sample(value, 2.0 * locations - 1.0, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


class MSDeformAttn(nn.Module):
    """Each query looks at P points per level and head around its reference point."""

    def __init__(self, dim: int = 256, heads: int = 8, levels: int = 3, points: int = 4):
        super().__init__()
        if dim % heads:
            raise ValueError(f"MSDeformAttn: dim {dim} must be divisible by heads {heads}")
        self.dim, self.heads, self.levels, self.points = dim, heads, levels, points
        self.sampling_offsets = nn.Linear(dim, heads * levels * points * 2)
        self.attention_weights = nn.Linear(dim, heads * levels * points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)
        self._reset()

    def _reset(self) -> None:
        """Deformable DETR's start: offsets on a ring of growing radius per head, uniform weights."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.heads, dtype=torch.float32) * (2.0 * torch.pi / self.heads)
        ring = torch.stack([angles.cos(), angles.sin()], -1)  # (h, 2)
        ring = ring / ring.abs().max(-1, keepdim=True).values
        grid = ring[:, None, None, :].repeat(1, self.levels, self.points, 1)  # (h, L, P, 2)
        grid = grid * torch.arange(1, self.points + 1, dtype=torch.float32)[None, None, :, None]
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for lin in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def project_values(self, pyramid: list[Tensor]) -> list[Tensor]:
        """value_proj of every level, split into heads: [(B*h, d/h, H_l, W_l)] (cacheable per support)."""
        out = []
        for level in pyramid:
            b, d, hh, ww = level.shape
            v = self.value_proj(level.flatten(2).transpose(1, 2))  # (B, H*W, d)
            out.append(v.transpose(1, 2).reshape(b * self.heads, d // self.heads, hh, ww))
        return out

    def forward(self, query: Tensor, reference: Tensor, values: list[Tensor]) -> Tensor:
        """Args:
            query: (B, Q, d).
            reference: (B, Q, 2) normalised xy.
            values: `project_values` of the pyramid.
        Returns:
            (B, Q, d).
        """
        b, q, d = query.shape
        h, lv, p = self.heads, self.levels, self.points
        offsets = self.sampling_offsets(query).view(b, q, h, lv, p, 2)  # pixels of each level
        weights = self.attention_weights(query).view(b, q, h, lv * p).softmax(-1).view(b, q, h, lv, p)
        out = query.new_zeros(b * h, d // h, q)
        for level, value in enumerate(values):
            size = torch.tensor([value.shape[3], value.shape[2]], dtype=query.dtype, device=query.device)
            loc = reference[:, :, None, None, :] + offsets[:, :, :, level] / size  # (B, Q, h, P, 2)
            loc = loc.permute(0, 2, 1, 3, 4).reshape(b * h, q, p, 2)  # (B*h, Q, P, 2)
            sampled = sample_level(value, loc)  # (B*h, d/h, Q, P)
            w = weights[:, :, :, level].permute(0, 2, 1, 3).reshape(b * h, 1, q, p)  # (B*h, 1, Q, P)
            out = out + (sampled * w).sum(-1)  # (B*h, d/h, Q)
        out = out.view(b, h, d // h, q).permute(0, 3, 1, 2).reshape(b, q, d)  # (B, Q, d)
        return self.output_proj(out)
