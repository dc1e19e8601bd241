"""A ResNet feature pyramid: C3/C4/C5 -> 1x1 convs to d channels -> top-down sum (nearest x2 + add).

FMMP's backbone (FMMP_SPEC.md section 2): with ResNet-50 stages it is the paper's; narrower, shallower
stages make a model that trains on a CPU. Levels are returned coarse to fine: strides 32, 16, 8.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from kitpose.models.resnet import ResNetStem, init_resnet_, make_stage

RESNET50 = {"planes": (64, 128, 256, 512), "blocks": (3, 4, 6, 3)}


class ResNetPyramid(nn.Module):
    """(B, 3, h, w) -> [(B, d, h/32, w/32), (B, d, h/16, w/16), (B, d, h/8, w/8)]."""

    def __init__(self, dim: int = 256, planes: tuple[int, ...] = RESNET50["planes"],
                 blocks: tuple[int, ...] = RESNET50["blocks"]):
        super().__init__()
        if len(planes) != 4 or len(blocks) != 4:
            raise ValueError(f"ResNetPyramid: 4 stages of planes and blocks, got {planes} and {blocks}")
        self.stem = ResNetStem()
        stages, channels, widths = [], ResNetStem.out_channels, []
        for i, (p, n) in enumerate(zip(planes, blocks)):
            stage, channels = make_stage(channels, p, n, stride=1 if i == 0 else 2)
            stages.append(stage)
            widths.append(channels)
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in widths[1:])  # C3, C4, C5
        init_resnet_(self)

    def forward(self, x: Tensor) -> list[Tensor]:
        feats, y = [], self.stem(x)  # (B, 64, h/4, w/4)
        for stage in self.stages:
            y = stage(y)
            feats.append(y)  # strides 4, 8, 16, 32
        c3, c4, c5 = (lat(f) for lat, f in zip(self.lateral, feats[1:]))  # (B, d, h/8..h/32, ...)
        p5 = c5
        p4 = c4 + F.interpolate(p5, size=c4.shape[2:], mode="nearest")
        p3 = c3 + F.interpolate(p4, size=c3.shape[2:], mode="nearest")
        return [p5, p4, p3]
