"""BTranspose (Balakrishnan & Upadhyay, arXiv 2204.10209): a BoTNet backbone in front of TransPose-R's
encoder and head. Spec section 17.

The backbone is ResNet-50-shaped: stem, then four bottleneck groups, the groups listed in
`attention_groups` having their 3x3 conv replaced by relative-position self-attention (BoTNet).
"CxAy(h)" = x conv groups, y attention groups, h heads. The default config is C3A1(4) as in the
release: blocks (3, 4, 6, 3), planes (64, 96, 128, 256), strides (1, 2, 1, 1), attention in the
last group, encoder d=256 / 8 heads / FFN 1024 / 4 layers with a learnable position table added to the
first layer's queries and keys only: 10,090,961 parameters (paper: 10.1 M). The learned tables are tied
to `input_size`, so a model runs only at the size it was built for.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from kitpose.models.output import PoseOutput
from kitpose.models.resnet import EXPANSION, Bottleneck, ResNetStem, init_resnet_
from kitpose.models.hrnet import init_hrnet_weights
from kitpose.models.transpose import PostNormEncoderLayer, deconv_head, init_transformer_


class RelPosSelfAttention(nn.Module):
    """BoTNet MHSA on a fixed (H, W) grid: softmax(q.k + q.(r_h + r_w)) v with 1x1-conv q, k, v.

    The position term pairs each query with the learned embedding of each key position (BoTNet
    paper, Fig. 4); logits are scaled by 1/sqrt(D/heads).
    """

    def __init__(self, dim: int, heads: int, size: tuple[int, int]) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"RelPosSelfAttention: dim={dim} is not divisible by heads={heads}")
        head_dim = dim // heads
        self.heads, self.size, self.scale = heads, tuple(size), head_dim ** -0.5
        self.query = nn.Conv2d(dim, dim, kernel_size=1)
        self.key = nn.Conv2d(dim, dim, kernel_size=1)
        self.value = nn.Conv2d(dim, dim, kernel_size=1)
        self.rel_h = nn.Parameter(torch.randn(heads, head_dim, size[0], 1) * self.scale)
        self.rel_w = nn.Parameter(torch.randn(heads, head_dim, 1, size[1]) * self.scale)

    def _heads(self, x: Tensor) -> Tensor:  # (B, D, H, W) -> (B, heads, H*W, D/heads)
        b, d, h, w = x.shape
        return x.reshape(b, self.heads, d // self.heads, h * w).transpose(2, 3)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, D, H, W) with (H, W) == size. Returns: (B, D, H, W)."""
        b, d, h, w = x.shape
        if (h, w) != self.size:
            raise ValueError(f"RelPosSelfAttention: feature map {(h, w)} but the position table was "
                             f"built for {self.size}; build BTranspose with the input_size you feed it")
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        rel = (self.rel_h + self.rel_w).reshape(1, self.heads, d // self.heads, h * w)  # (1, h, D/h, N)
        logits = (q @ k.transpose(2, 3) + q @ rel) * self.scale  # (B, heads, N, N)
        out = logits.softmax(dim=-1) @ v  # (B, heads, N, D/heads)
        return out.transpose(2, 3).reshape(b, d, h, w)


@dataclass(frozen=True)
class BTransposeConfig:
    input_size: tuple[int, int] = (256, 192)           # (h, w); the learned tables are sized for it
    num_keypoints: int = 17
    blocks: tuple[int, ...] = (3, 4, 6, 3)             # bottlenecks per group
    planes: tuple[int, ...] = (64, 96, 128, 256)        # bottleneck width per group (output = 4x)
    strides: tuple[int, ...] = (1, 2, 1, 1)
    attention_groups: tuple[int, ...] = (3,)           # 0-based groups that use MHSA instead of 3x3 conv
    attention_heads: int = 4                           # the "(4)" of C3A1(4)
    dim: int = 256                                     # encoder token dim d
    depth: int = 4                                     # encoder layers ("-N6" = 6)
    heads: int = 8
    ffn_dim: int = 1024
    deconv_dim: int = 256
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not len(self.blocks) == len(self.planes) == len(self.strides):
            raise ValueError(f"BTransposeConfig: blocks {self.blocks}, planes {self.planes} and strides "
                             f"{self.strides} must have one entry per group")
        if any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"BTransposeConfig.strides={self.strides}: each group strides by 1 or 2")
        if any(g not in range(len(self.blocks)) for g in self.attention_groups):
            raise ValueError(f"BTransposeConfig.attention_groups={self.attention_groups}: indices must "
                             f"lie in 0..{len(self.blocks) - 1}")
        if any(s % self.token_stride for s in self.input_size):
            raise ValueError(f"BTransposeConfig.input_size={self.input_size}: both sides must be "
                             f"multiples of the token stride {self.token_stride}")
        if self.dim % self.heads:
            raise ValueError(f"BTransposeConfig.dim={self.dim} is not divisible by heads={self.heads}")

    @property
    def token_stride(self) -> int:
        """Input pixels per token: 4 (stem) times every group stride."""
        stride = 4
        for s in self.strides:
            stride *= s
        return stride

    @property
    def token_size(self) -> tuple[int, int]:
        """(H, W) of the token grid."""
        return self.input_size[0] // self.token_stride, self.input_size[1] // self.token_stride


def _attention_group(in_channels: int, planes: int, num_blocks: int, stride: int, heads: int,
                     size: tuple[int, int]) -> nn.Sequential:
    """BoTNet group: bottlenecks whose mixer is MHSA; a stride-2 first block attends, then avg-pools."""
    blocks = []
    for i in range(num_blocks):
        mixer = RelPosSelfAttention(planes, heads, size)
        if i == 0 and stride == 2:
            mixer = nn.Sequential(mixer, nn.AvgPool2d(2, 2))
            size = (size[0] // 2, size[1] // 2)
        block_stride = stride if i == 0 else 1
        blocks.append(Bottleneck(in_channels, planes, block_stride, mixer, shortcut_bias=True))
        in_channels = planes * EXPANSION
    return nn.Sequential(*blocks)


def _conv_group(in_channels: int, planes: int, num_blocks: int, stride: int) -> nn.Sequential:
    blocks = [Bottleneck(in_channels, planes, stride, shortcut_bias=True)]
    blocks += [Bottleneck(planes * EXPANSION, planes, shortcut_bias=True) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def botnet_backbone(config: BTransposeConfig) -> tuple[nn.Sequential, int]:
    """Stem + the configured conv/MHSA bottleneck groups.

    Returns:
        (module mapping (B, 3, h, w) -> (B, C, h / token_stride, w / token_stride), C)
    """
    layers: list[nn.Module] = [ResNetStem()]
    channels = ResNetStem.out_channels
    size = (config.input_size[0] // 4, config.input_size[1] // 4)
    for g, (n, planes, stride) in enumerate(zip(config.blocks, config.planes, config.strides)):
        if g in config.attention_groups:
            layers.append(_attention_group(channels, planes, n, stride, config.attention_heads, size))
        else:
            layers.append(_conv_group(channels, planes, n, stride))
        channels, size = planes * EXPANSION, (size[0] // stride, size[1] // stride)
    return nn.Sequential(*layers), channels


class BTranspose(nn.Module):
    """BoTNet backbone + post-norm encoder + deconv head; returns PoseOutput (heatmaps only)."""

    def __init__(self, config: BTransposeConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone, channels = botnet_backbone(config)
        self.reduce = nn.Conv2d(channels, config.dim, kernel_size=1, bias=False)
        n_tokens = config.token_size[0] * config.token_size[1]
        self.pos_embedding = nn.Parameter(torch.randn(1, n_tokens, config.dim))  # N(0, 1) as released
        self.encoder = nn.ModuleList(
            PostNormEncoderLayer(config.dim, config.heads, config.ffn_dim, config.dropout)
            for _ in range(config.depth))
        self.head = deconv_head(config.dim, config.deconv_dim, config.num_keypoints)
        init_resnet_(self.backbone)
        init_transformer_(self.encoder)
        init_hrnet_weights(self.reduce)
        init_hrnet_weights(self.head)

    def forward(self, images: Tensor) -> PoseOutput:
        """Args: images (B, 3, h, w), (h, w) == input_size.

        Returns: PoseOutput with heatmaps (B, K, h/4, w/4) (token stride 8, as in every preset).
        """
        if tuple(images.shape[-2:]) != tuple(self.config.input_size):
            raise ValueError(f"BTranspose: input {tuple(images.shape[-2:])} but the model was built for "
                             f"input_size={self.config.input_size}; rebuild with that input_size")
        feat = self.reduce(self.backbone(images))  # (B, D, H', W')
        b, d, h, w = feat.shape
        tokens = feat.flatten(2).transpose(1, 2)  # (B, N, D)
        pos: Tensor | None = self.pos_embedding
        for layer in self.encoder:
            tokens = layer(tokens, pos)
            pos = None  # BTranspose adds its learned table in the first layer only
        feat = tokens.transpose(1, 2).reshape(b, d, h, w)  # (B, D, H', W')
        return PoseOutput(heatmaps=self.head(feat))  # (B, K, H, W)
