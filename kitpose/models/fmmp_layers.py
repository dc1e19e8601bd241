"""FMMP's layers (FMMP_SPEC.md sections 5-7): embeddings, the FGSA miner, one miner layer, the point
update. Letters: B batch, S shots, K = 70 padded keypoints, M structure columns, d model dim.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from kitpose.models.deformable import MSDeformAttn


def sine_embed(x: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """Sine/cosine embedding of values in [0, 1]: (..., n) -> (..., n * dim) (dim even per value)."""
    half = dim // 2
    freq = temperature ** (torch.arange(half, device=x.device, dtype=x.dtype) / half)  # (dim/2,)
    angle = x[..., None] * (2.0 * math.pi) / freq  # (..., n, dim/2)
    return torch.cat([angle.sin(), angle.cos()], -1).flatten(-2)  # (..., n * dim)


class QueryEmbed(nn.Module):
    """Attention query = feature + sine(index / K) + MLP(sine(reference xy))."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.point_mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))

    def forward(self, feats: Tensor, points: Tensor) -> Tensor:
        """feats (B, K, d), points (B, K, 2) -> (B, K, d)."""
        k = feats.shape[1]
        index = torch.arange(k, device=feats.device, dtype=feats.dtype) / k  # (K,)
        return feats + sine_embed(index[:, None], self.dim) + self.point_mlp(sine_embed(points, self.dim // 2))


class FGSAMiner(nn.Module):
    """M deformable attention modules; module m samples around the m-th node of each keypoint's
    structure list. Output = A_0 + ReLU(Linear((M-1) d -> d)(A_1..A_{M-1})), that Linear zero-init."""

    def __init__(self, dim: int, heads: int, levels: int, points: int, m: int):
        super().__init__()
        self.attn = nn.ModuleList(MSDeformAttn(dim, heads, levels, points) for _ in range(m))
        self.fuse = nn.Linear((m - 1) * dim, dim)
        nn.init.zeros_(self.fuse.weight)
        nn.init.zeros_(self.fuse.bias)

    def project_values(self, pyramid: list[Tensor]) -> list[list[Tensor]]:
        """Per module, its value projection of the pyramid (a support's can be computed once)."""
        return [a.project_values(pyramid) for a in self.attn]

    def forward(self, query: Tensor, points: Tensor, table: Tensor, values: list[list[Tensor]]) -> Tensor:
        """query (B, K, d), points (B, K, 2), table (B, K, M) int64 -> (B, K, d)."""
        outs = []
        for m, (attn, vals) in enumerate(zip(self.attn, values)):
            ref = torch.gather(points, 1, table[:, :, m:m + 1].expand(-1, -1, 2))  # (B, K, 2)
            outs.append(attn(query, ref, vals))  # (B, K, d)
        return outs[0] + torch.relu(self.fuse(torch.cat(outs[1:], -1)))


class MinerLayer(nn.Module):
    """Self-attention over keypoints (post-norm, masked keys) -> FGSA -> add & LN -> FFN -> LN."""

    def __init__(self, dim: int, heads: int, levels: int, points: int, m: int, ffn: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.embed = QueryEmbed(dim)
        self.miner = FGSAMiner(dim, heads, levels, points, m)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(ffn, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, feats: Tensor, points: Tensor, table: Tensor, values: list[list[Tensor]],
                key_mask: Tensor) -> Tensor:
        """feats (B, K, d), points (B, K, 2), table (B, K, M), key_mask (B, K) True = ignored key."""
        attended, _ = self.self_attn(feats, feats, feats, key_padding_mask=key_mask, need_weights=False)
        x = self.norm1(feats + self.dropout(attended))  # (B, K, d)
        x = self.norm2(x + self.dropout(self.miner(self.embed(x, points), points, table, values)))
        return self.norm3(x + self.dropout(self.ffn(x)))


class PointUpdate(nn.Module):
    """P_l = sigmoid(logit(P_{l-1}) + MLP(F)); MLP = 3 x (Linear + GELU) + a zero-initialised Linear."""

    def __init__(self, dim: int, eps: float = 1e-3):
        super().__init__()
        self.eps = eps
        layers = []
        for _ in range(3):
            layers += [nn.Linear(dim, dim), nn.GELU()]
        last = nn.Linear(dim, 2)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.mlp = nn.Sequential(*layers, last)

    def forward(self, feats: Tensor, points: Tensor) -> Tensor:
        """feats (B, K, d), points (B, K, 2) -> (B, K, 2); the previous points are detached."""
        p = points.detach().clamp(self.eps, 1.0 - self.eps)
        return torch.sigmoid(torch.log(p / (1.0 - p)) + self.mlp(feats))
