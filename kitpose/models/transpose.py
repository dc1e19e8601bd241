"""TransPose (Yang et al., ICCV 2021): CNN features -> one token per pixel -> Transformer -> heatmaps.

TransPose-R: ResNet-S (stride 8), 1x1 reduce to d, post-norm encoder, deconv x2 + 1x1 head.
TransPose-H: HRNet stages 1-3 (stride 4), 1x1 reduce to d, post-norm encoder, 1x1 head.
Spec section 16. The 2-D sine table is a frozen nn.Parameter, as in the official release: the
published parameter counts (5.2 M, 6.0 M, ...) include it.

    model = TransPose(TransPoseConfig(backbone="resnet", depth=3))
    out = model(images)                  # images (B, 3, 256, 192) -> out.heatmaps (B, 17, 64, 48)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kitpose.models.hrnet import HRNetBackbone, init_hrnet_weights
from kitpose.models.output import PoseOutput
from kitpose.models.resnet import init_resnet_, resnet_s

BACKBONE_STRIDES = {"resnet": 8, "hrnet": 4}  # token stride of each backbone
# HRNet stage 3 has a stride-16 branch whose upsampled maps must line up with branch 0.
INPUT_MULTIPLE = {"resnet": 8, "hrnet": 16}


def sine_position_table(size: tuple[int, int], dim: int, temperature: float = 1e4) -> Tensor:
    """DETR-style 2-D sine table: dim/2 channels for y then dim/2 for x, coordinates scaled to (0, 2pi].

    Within each half, channels come in (sin, cos) pairs sharing one frequency.

    Args:
        size: (H, W) token grid.
        dim: feature dim D, a multiple of 4.
    Returns:
        (H * W, D) table, rows in row-major (y, x) order.
    """
    if dim % 4:
        raise ValueError(f"sine_position_table: dim={dim} must be a multiple of 4 "
                         "(sin/cos pairs per axis)")
    h, w = size
    half = dim // 2
    eps = 1e-6
    y = torch.arange(1, h + 1, dtype=torch.float32) / (h + eps) * 2 * math.pi  # (H,)
    x = torch.arange(1, w + 1, dtype=torch.float32) / (w + eps) * 2 * math.pi  # (W,)
    pair = torch.arange(half, dtype=torch.float32) // 2
    freq = temperature ** (2 * pair / half)  # (D/2,)

    def encode(coord: Tensor) -> Tensor:  # (L,) -> (L, D/2) interleaved sin, cos
        angle = coord[:, None] / freq
        return torch.stack((angle[:, 0::2].sin(), angle[:, 1::2].cos()), dim=-1).flatten(1)

    pos_y = encode(y)[:, None, :].expand(h, w, half)  # (H, W, D/2)
    pos_x = encode(x)[None, :, :].expand(h, w, half)  # (H, W, D/2)
    return torch.cat((pos_y, pos_x), dim=-1).reshape(h * w, dim)


class SelfAttention(nn.Module):
    """Multi-head self-attention whose queries/keys may carry a position term that values do not.

    Parameter layout mirrors nn.MultiheadAttention (in_proj_weight, in_proj_bias, out_proj), so
    official TransPose checkpoints map onto it, but the math is plain ops that export to ONNX.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"SelfAttention: dim={dim} is not divisible by heads={heads}")
        self.heads, self.dropout = heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: Tensor) -> Tensor:  # (B, N, D) -> (B, heads, N, D / heads)
        b, n, d = x.shape
        return x.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, pos: Tensor | None = None) -> Tensor:
        """Args: x (B, N, D) tokens; pos (1, N, D) or None, added to queries and keys only.

        Returns: (B, N, D).
        """
        qk_in = x if pos is None else x + pos
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q = self._split_heads(F.linear(qk_in, w_q, b_q))  # (B, heads, N, D/heads)
        k = self._split_heads(F.linear(qk_in, w_k, b_k))
        v = self._split_heads(F.linear(x, w_v, b_v))
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)  # (B, heads, N, D/heads)
        out = out.transpose(1, 2).reshape(x.shape)  # (B, N, D)
        return self.out_proj(out)


class PostNormEncoderLayer(nn.Module):
    """DETR encoder layer: x = LN(x + Attn(x + pos, x + pos, x)); x = LN(x + FFN(x)); ReLU FFN."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, heads, dropout)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, pos: Tensor | None = None) -> Tensor:
        """Args: x (B, N, D); pos (1, N, D) or None. Returns: (B, N, D)."""
        x = self.norm1(x + self.dropout(self.self_attn(x, pos)))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(x))))
        return self.norm2(x + self.dropout(ffn))


def init_transformer_(module: nn.Module) -> None:
    """Xavier-uniform on every weight matrix of an encoder (DETR/TransPose convention), in place."""
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


def deconv_head(in_channels: int, mid_channels: int, num_keypoints: int) -> nn.Sequential:
    """ConvTranspose 4x4 s2 (no bias) + BN + ReLU, then 1x1 conv to K: doubles resolution.

    Maps (B, C, H/2, W/2) -> (B, K, H, W).
    """
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, mid_channels, kernel_size=4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(mid_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid_channels, num_keypoints, kernel_size=1))


@dataclass(frozen=True)
class TransPoseConfig:
    backbone: str = "resnet"                 # "resnet" (TransPose-R) or "hrnet" (TransPose-H)
    input_size: tuple[int, int] = (256, 192)  # (h, w) of the input crop
    num_keypoints: int = 17
    dim: int = 256                            # token dim d
    depth: int = 4                            # encoder layers
    heads: int = 8
    ffn_dim: int = 1024
    width: int = 32                           # HRNet width (hrnet only)
    deconv_dim: int = 256                     # deconv channels of the resnet head (resnet only)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONE_STRIDES:
            raise ValueError(f"TransPoseConfig.backbone={self.backbone!r}: use one of "
                             f"{sorted(BACKBONE_STRIDES)}")
        multiple = INPUT_MULTIPLE[self.backbone]
        if any(s % multiple for s in self.input_size):
            raise ValueError(f"TransPoseConfig.input_size={self.input_size}: both sides must be "
                             f"multiples of {multiple} for backbone {self.backbone!r}")
        if self.dim % 4 or self.dim % self.heads:
            raise ValueError(f"TransPoseConfig.dim={self.dim} must be a multiple of 4 and of "
                             f"heads={self.heads}")

    @property
    def token_size(self) -> tuple[int, int]:
        """(H, W) of the token grid at the configured input size."""
        stride = BACKBONE_STRIDES[self.backbone]
        return self.input_size[0] // stride, self.input_size[1] // stride


def _build_backbone(config: TransPoseConfig) -> tuple[nn.Module, int]:
    if config.backbone == "resnet":
        backbone, channels = resnet_s()
        init_resnet_(backbone)
        return backbone, channels
    return HRNetBackbone(config.width, num_stages=3), config.width


class TransPose(nn.Module):
    """TransPose-R / TransPose-H; forward returns PoseOutput(heatmaps (B, K, h/4, w/4))."""

    def __init__(self, config: TransPoseConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone, channels = _build_backbone(config)
        self.reduce = nn.Conv2d(channels, config.dim, kernel_size=1, bias=False)
        table = sine_position_table(config.token_size, config.dim)[None]  # (1, N, D)
        self.pos_embedding = nn.Parameter(table, requires_grad=False)
        self.encoder = nn.ModuleList(
            PostNormEncoderLayer(config.dim, config.heads, config.ffn_dim, config.dropout)
            for _ in range(config.depth))
        if config.backbone == "resnet":
            self.head = deconv_head(config.dim, config.deconv_dim, config.num_keypoints)
        else:
            self.head = nn.Conv2d(config.dim, config.num_keypoints, kernel_size=1)
        init_transformer_(self.encoder)
        init_hrnet_weights(self.reduce)
        init_hrnet_weights(self.head)

    def _position(self, size: tuple[int, int]) -> Tensor:
        """(1, N, D) sine table for this token grid; rebuilt for inputs of another size."""
        if size == self.config.token_size:
            return self.pos_embedding
        return sine_position_table(size, self.config.dim)[None].to(self.pos_embedding)

    def forward(self, images: Tensor) -> PoseOutput:
        """Args: images (B, 3, h, w), normalised. Returns: PoseOutput with heatmaps (B, K, h/4, w/4)."""
        feat = self.reduce(self.backbone(images))  # (B, D, H', W')
        b, d, h, w = feat.shape
        tokens = feat.flatten(2).transpose(1, 2)  # (B, N, D)
        pos = self._position((h, w))
        for layer in self.encoder:
            tokens = layer(tokens, pos)
        feat = tokens.transpose(1, 2).reshape(b, d, h, w)  # (B, D, H', W')
        return PoseOutput(heatmaps=self.head(feat))  # (B, K, H, W)
