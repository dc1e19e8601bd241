"""FMMP: category-agnostic pose from support images (FMMP_SPEC.md, sections 1-8).

Support images with their (padded) keypoints -> a shared feature pyramid -> F^0 (support keypoint
features); then L = 3 recurrent layers, each mining the support (around its keypoints) and the query
(around the current guesses) with the FGSA miner, and moving the query points. Letters: B batch
(episodes), S shots, K = 70 padded keypoints, M structure columns, L layers, d model dim, h/w image.
Inputs and outputs are normalised xy in [0, 1] of the crop.

The support side that does not depend on the query (pyramid, F^0, shot weights, key mask) is
`encode_support`'s `SupportState`, computed once per support set and reused for every query crop
(`forward_query`); the ONNX export splits the model the same way (export/cape_onnx.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from kitpose.cape.padding import PADDED_K
from kitpose.cape.structure import STRUCTURE_M
from kitpose.models.deformable import sample_level
from kitpose.models.fmmp_layers import MinerLayer, PointUpdate
from kitpose.models.pyramid import RESNET50, ResNetPyramid


@dataclass(frozen=True)
class FMMPConfig:
    """FMMP architecture; defaults are the paper's size on ResNet-50."""
    input_size: tuple[int, int] = (256, 256)   # (h, w) of every crop
    dim: int = 256
    heads: int = 8
    levels: int = 3
    points: int = 4
    layers: int = 3
    structure_m: int = STRUCTURE_M
    ffn: int = 256
    dropout: float = 0.1
    planes: tuple[int, ...] = RESNET50["planes"]
    blocks: tuple[int, ...] = RESNET50["blocks"]
    num_keypoints: int = PADDED_K               # K, the padded keypoint count
    # P_q^0: "centre" = (0.5, 0.5) for every point (the paper); "similarity" = the soft-argmax of the
    # cosine similarity between F^0 and the query's finest level, supervised as an extra layer
    # (ours: from scratch, with no ImageNet backbone, the centre start did not learn on a CPU budget)
    start: str = "centre"

    def __post_init__(self):
        for name in ("input_size", "planes", "blocks"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if any(s % 32 for s in self.input_size):
            raise ValueError(f"FMMPConfig.input_size must be multiples of 32, got {self.input_size}")
        if self.levels != 3:
            raise ValueError(f"FMMPConfig.levels: the pyramid has 3 levels, got {self.levels}")
        if self.dim % self.heads or self.dim % 4:
            raise ValueError(f"FMMPConfig.dim {self.dim} must divide by heads {self.heads} and by 4")
        if self.start not in ("centre", "similarity"):
            raise ValueError(f"FMMPConfig.start must be 'centre' or 'similarity', got {self.start!r}")
        if not 2 <= self.structure_m <= 16:
            raise ValueError(f"FMMPConfig.structure_m must be in [2, 16], got {self.structure_m}")


class CapeOutput(NamedTuple):
    points: Tensor  # (L, B, K, 2) the query points after each layer (with start "similarity", the
                    # start P_q^0 first: L + 1 entries); the last is the answer


class SupportState(NamedTuple):
    """Everything of a support set that no query changes."""
    points: Tensor          # (B, S, K, 2)
    weights: Tensor         # (B, S, K) visibility weights of the shot mean (each column sums to 1)
    key_mask: Tensor        # (B, K) True where no shot sees the keypoint (masked in self-attention)
    table: Tensor | None    # (B, K, M) int64 structure table (None in the support ONNX graph)
    f0: Tensor              # (B, K, d) F^0
    pyramid: list           # per level, coarse to fine: (B, S, d, H_l, W_l)


class FMMP(nn.Module):
    """forward(query (B, 3, h, w), support images (B, S, 3, h, w), support points (B, S, K, 2),
    support visible (B, S, K) bool, table (B, K, M) int64) -> CapeOutput."""

    def __init__(self, config: FMMPConfig):
        super().__init__()
        self.config = c = config
        self.backbone = ResNetPyramid(c.dim, c.planes, c.blocks)
        layer = lambda: MinerLayer(c.dim, c.heads, c.levels, c.points, c.structure_m, c.ffn, c.dropout)  # noqa: E731
        self.support_layers = nn.ModuleList(layer() for _ in range(c.layers))
        self.query_layers = nn.ModuleList(layer() for _ in range(c.layers))
        self.updates = nn.ModuleList(PointUpdate(c.dim) for _ in range(c.layers))
        if c.start == "similarity":
            self.match_scale = nn.Parameter(torch.tensor(2.3))  # log of the cosine logits' scale (~10)

    def encode_support(self, images: Tensor, points: Tensor, visible: Tensor, table: Tensor | None) -> SupportState:
        b, s = images.shape[:2]
        pyramid = self.backbone(images.flatten(0, 1))  # [(B*S, d, H_l, W_l)] coarse to fine
        flat_pts = points.flatten(0, 1)  # (B*S, K, 2)
        samples = [sample_level(level, flat_pts[:, :, None, :])[..., 0] for level in pyramid]  # (B*S, d, K)
        feats = torch.stack(samples).mean(0).transpose(1, 2).reshape(b, s, -1, self.config.dim)  # (B, S, K, d)
        vis = visible.to(feats.dtype)  # (B, S, K)
        seen = vis.sum(1, keepdim=True)  # (B, 1, K)
        weights = torch.where(seen > 0, vis / seen.clamp_min(1.0), torch.full_like(vis, 1.0 / s))  # (B, S, K)
        f0 = (weights[..., None] * feats).sum(1)  # (B, K, d)
        levels = [level.view(b, s, *level.shape[1:]) for level in pyramid]  # (B, S, d, H_l, W_l)
        return SupportState(points, weights, seen[:, 0] == 0, table, f0, levels)

    def forward_query(self, query: Tensor, support: SupportState) -> CapeOutput:
        b, s, k = support.points.shape[:3]
        pyramid = self.backbone(query)  # [(B, d, H_l, W_l)]
        shot_pts = support.points.flatten(0, 1)  # (B*S, K, 2)
        shot_table = support.table.repeat_interleave(s, 0)  # (B*S, K, M)
        shot_mask = support.key_mask.repeat_interleave(s, 0)  # (B*S, K)
        shot_pyramid = [level.flatten(0, 1) for level in support.pyramid]  # (B*S, d, H_l, W_l)
        feats_q = support.f0  # (B, K, d): F_q^0 = F^0
        if self.config.start == "similarity":
            points = self.match_points(feats_q, pyramid[-1])  # (B, K, 2)
            outputs = [points]
        else:
            points = torch.full((b, k, 2), 0.5, dtype=feats_q.dtype, device=feats_q.device)  # P_q^0
            outputs = []
        for l_sup, l_qry, update in zip(self.support_layers, self.query_layers, self.updates):
            shots = l_sup(feats_q.repeat_interleave(s, 0), shot_pts, shot_table,
                          l_sup.miner.project_values(shot_pyramid), shot_mask)  # (B*S, K, d)
            feats_s = (support.weights[..., None] * shots.view(b, s, k, -1)).sum(1)  # (B, K, d)
            feats_q = l_qry(feats_s, points, support.table, l_qry.miner.project_values(pyramid),
                            support.key_mask)  # (B, K, d)
            points = update(feats_q, points)  # (B, K, 2)
            outputs.append(points)
        return CapeOutput(torch.stack(outputs))

    def match_points(self, feats: Tensor, level: Tensor) -> Tensor:
        """Soft-argmax of each keypoint feature's cosine similarity over one query level.

        Args:
            feats: (B, K, d) keypoint features; level: (B, d, H, W).
        Returns:
            (B, K, 2) expected xy in [0, 1] (pixel centres at (i + 0.5) / W).
        """
        b, d, h, w = level.shape
        keys = nn.functional.normalize(level.flatten(2), dim=1)  # (B, d, H*W)
        logits = torch.einsum("bkd,bdn->bkn", nn.functional.normalize(feats, dim=-1), keys)  # (B, K, H*W)
        prob = (logits * self.match_scale.exp()).softmax(-1).view(b, -1, h, w)  # (B, K, H, W)
        xs = (torch.arange(w, dtype=level.dtype, device=level.device) + 0.5) / w  # (W,)
        ys = (torch.arange(h, dtype=level.dtype, device=level.device) + 0.5) / h  # (H,)
        return torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], -1)  # (B, K, 2)

    def forward(self, query: Tensor, images: Tensor, points: Tensor, visible: Tensor, table: Tensor) -> CapeOutput:
        return self.forward_query(query, self.encode_support(images, points, visible, table))
