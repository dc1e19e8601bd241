"""KITPose: HRNet heatmaps -> keypoint tokens + body-part prompts -> KIT encoder -> heatmaps.

Spec: KITPOSE_SPEC.md sections 1-7 (shared design documents, `../shared/docs/`). Reading order:
config, blocks, model.
Dimension letters: B batch, K keypoints, C clusters (body parts), D token dim, H/W heatmap size,
h/w image size.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from kitpose import ops
from kitpose.models.hrnet import HRNetBackbone, init_hrnet_weights
from kitpose.models.layers import PreNormEncoderLayer, init_trunc_normal, sine_table_1d
from kitpose.models.output import PoseOutput

# input sizes must divide by the lowest HRNet resolution (stride 32)
SIZE_MULTIPLE = 32


@dataclass(frozen=True)
class KITPoseConfig:
    """KITPose architecture; defaults of the optional fields are the released AP-10K ones."""
    width: int                   # HRNet width C (W32 -> 32)
    input_size: tuple[int, int]  # (h, w), multiples of 32
    num_keypoints: int           # K
    num_clusters: int            # C body parts (AP-10K 4)
    dim: int                     # D token dim (1024 in released configs)
    depth: int                   # E encoder layers (2)
    heads: int = 1
    mlp_ratio: int = 3
    kmedoids_iters: int = 40
    in_channels: int = 3
    stage1_planes: int = 64      # HRNet stage-1 bottleneck width (official 64)
    stage1_blocks: int = 4       # HRNet stage-1 bottlenecks (official 4)

    def __post_init__(self):
        object.__setattr__(self, "input_size", tuple(int(s) for s in self.input_size))
        if len(self.input_size) != 2 or any(s <= 0 or s % SIZE_MULTIPLE for s in self.input_size):
            raise ValueError(f"KITPoseConfig.input_size must be (h, w) with positive multiples of "
                             f"{SIZE_MULTIPLE}, got {self.input_size}")
        for name in ("width", "num_keypoints", "num_clusters", "dim", "depth", "heads",
                     "mlp_ratio", "kmedoids_iters", "in_channels", "stage1_planes",
                     "stage1_blocks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"KITPoseConfig.{name} must be a positive int, got {value!r}")
        if self.num_clusters > self.num_keypoints:
            raise ValueError(f"KITPoseConfig.num_clusters ({self.num_clusters}) must not exceed "
                             f"num_keypoints ({self.num_keypoints})")
        if self.dim % self.heads:
            raise ValueError(f"KITPoseConfig.dim ({self.dim}) must be divisible by heads "
                             f"({self.heads})")

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(H, W) = (h/4, w/4)."""
        return self.input_size[0] // 4, self.input_size[1] // 4


def _exporting() -> bool:
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
                or torch.compiler.is_compiling())


def _cluster(x: Tensor, num_clusters: int, iters: int) -> Tensor:
    """Body-part label of every keypoint by batched k-medoids; a constant for autograd.

    The traceable twin `kmedoids_fixed` runs under tracing, ONNX export and torch.compile; the
    eager op (compiled kernels when built) otherwise. Both give identical labels.

    Args:
        x: (B, K, HW) raw flattened intermediate heatmaps.
        num_clusters: C.
        iters: iteration limit (eager) / fixed iteration count (traced).

    Returns:
        (B, K) int64 labels in [0, C), sorted by medoid index.
    """
    with torch.no_grad():
        if _exporting():
            assign, _ = ops.kmedoids_fixed(x.detach(), num_clusters, iters)
        else:
            assign, _ = ops.kmedoids(x.detach(), num_clusters, iters)
    return assign  # (B, K)


def body_part_biases(h0: Tensor, assign: Tensor, num_clusters: int) -> Tensor:
    """Per-cluster mean of the raw heatmap rows, differentiable in `h0` (labels are constants).

    Args:
        h0: (B, K, HW) flattened intermediate heatmaps.
        assign: (B, K) int64 cluster labels.
        num_clusters: C.

    Returns:
        (B, C, HW) cluster means; an empty cluster gives a zero row instead of NaN.
    """
    labels = torch.arange(num_clusters, device=assign.device)
    member = (assign[:, None, :] == labels[None, :, None]).to(h0.dtype)  # (B, C, K)
    count = member.sum(dim=-1, keepdim=True).clamp_min(1.0)  # (B, C, 1)
    return member @ h0 / count  # (B, C, HW)


class NanoBlock(nn.Sequential):
    """Context maps from HRNet features: 2 x [3x3 conv (bias) -> BN -> ReLU], C_feat -> C -> C."""

    def __init__(self, in_channels: int, num_clusters: int):
        super().__init__(
            nn.Conv2d(in_channels, num_clusters, 3, padding=1), nn.BatchNorm2d(num_clusters),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_clusters, num_clusters, 3, padding=1), nn.BatchNorm2d(num_clusters),
            nn.ReLU(inplace=True))


class PromptHead(nn.Sequential):
    """Channel alignment HW -> D: LN -> Linear(HW/2) -> LN -> Linear(D), no non-linearity."""

    def __init__(self, hw: int, dim: int):
        super().__init__(nn.LayerNorm(hw), nn.Linear(hw, hw // 2),
                         nn.LayerNorm(hw // 2), nn.Linear(hw // 2, dim))


class HeatmapHead(nn.Sequential):
    """Per-token LN -> Linear(D -> HW)."""

    def __init__(self, dim: int, hw: int):
        super().__init__(nn.LayerNorm(dim), nn.Linear(dim, hw))


class KITPose(nn.Module):
    """Keypoint Interactive Transformer on top of HRNet.

    Forward: (B, in_channels, h, w) image crops -> PoseOutput(heatmaps P (B, K, H, W),
    intermediate H0 (B, K, H, W), assign (B, K) int64).
    """

    def __init__(self, config: KITPoseConfig):
        super().__init__()
        self.config = config
        c = config
        height, width = c.heatmap_size
        hw = height * width
        self.backbone = HRNetBackbone(c.width, num_stages=4, in_channels=c.in_channels,
                                      stage1_planes=c.stage1_planes, stage1_blocks=c.stage1_blocks)
        self.keypoint_head = nn.Conv2d(c.width, c.num_keypoints, kernel_size=1)
        init_hrnet_weights(self.keypoint_head)
        self.token_embed = nn.Linear(hw, c.dim)
        self.nano_block = NanoBlock(c.width, c.num_clusters)
        self.prompt_head = PromptHead(hw, c.dim)
        self.encoder = nn.ModuleList(
            PreNormEncoderLayer(c.dim, c.heads, c.mlp_ratio) for _ in range(c.depth))
        self.heatmap_head = HeatmapHead(c.dim, hw)
        # fixed table, recomputed on construction: not a parameter, not in the state dict
        self.register_buffer("pos_embed", sine_table_1d(c.num_keypoints, c.dim), persistent=False)
        for part in (self.token_embed, self.prompt_head, self.encoder, self.heatmap_head):
            init_trunc_normal(part)

    def forward(self, x: Tensor) -> PoseOutput:
        c = self.config
        feats = self.backbone(x)  # (B, C_feat, H, W)
        h0 = self.keypoint_head(feats)  # (B, K, H, W)
        b, k, height, width = h0.shape
        h0_flat = h0.flatten(2)  # (B, K, HW)
        tokens = self.token_embed(h0_flat) + self.pos_embed  # (B, K, D)
        assign = _cluster(h0_flat, c.num_clusters, c.kmedoids_iters)  # (B, K)
        biases = body_part_biases(h0_flat, assign, c.num_clusters)  # (B, C, HW)
        context = self.nano_block(feats).flatten(2)  # (B, C, HW)
        prompts = self.prompt_head(biases + context)  # (B, C, D)
        z = self._encode(torch.cat([prompts, tokens], dim=1))  # (B, C+K, D)
        # the body-part maps are never used (spec section 6): run the head on keypoint tokens only
        maps = self.heatmap_head(z[:, c.num_clusters:])  # (B, K, HW)
        return PoseOutput(heatmaps=maps.reshape(b, k, height, width), intermediate=h0,
                          assign=assign)

    def _encode(self, z: Tensor) -> Tensor:
        """Encoder layers; the sine table is re-added to the keypoint tokens before layers >= 2."""
        n_prompts = self.config.num_clusters
        for i, layer in enumerate(self.encoder):
            if i > 0:
                z = torch.cat([z[:, :n_prompts], z[:, n_prompts:] + self.pos_embed], dim=1)
            z = layer(z)  # (B, C+K, D)
        return z
