"""ResNet pieces shared by the peers: the 7x7 stem, the bottleneck block and stage builders.

TransPose-R keeps only the first two ResNet-50 stages ("ResNet-S", 512 channels at stride 8);
BTranspose reuses the same bottleneck with its 3x3 conv swapped for self-attention.
"""
from __future__ import annotations

from torch import Tensor, nn

EXPANSION = 4  # bottleneck output channels = planes * EXPANSION


class ResNetStem(nn.Module):
    """conv7x7 s2 (3 -> 64) + BN + ReLU + maxpool 3x3 s2: an image to stride-4 features."""

    out_channels = 64

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, 3, h, w). Returns: (B, 64, h/4, w/4)."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: 1x1 reduce, spatial mixer, 1x1 expand x4, residual, ReLU.

    The mixer defaults to a 3x3 conv carrying the stride; BoTNet blocks pass an attention module
    instead (which then also owns any downsampling). A projection shortcut is added whenever the
    stride or the channel count changes; `shortcut_bias` exists because BTranspose's release
    gives that 1x1 conv a bias while ResNet's does not.
    """

    def __init__(self, in_channels: int, planes: int, stride: int = 1, mixer: nn.Module | None = None,
                 shortcut_bias: bool = False) -> None:
        super().__init__()
        out_channels = planes * EXPANSION
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = mixer if mixer is not None else nn.Conv2d(
            planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=shortcut_bias),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (B, C_in, h, w). Returns: (B, planes * 4, h / stride, w / stride)."""
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


def make_stage(in_channels: int, planes: int, num_blocks: int,
               stride: int = 1) -> tuple[nn.Sequential, int]:
    """A ResNet stage of conv bottlenecks; only the first block strides.

    Returns:
        (the stage, its output channel count planes * 4)
    """
    blocks = [Bottleneck(in_channels, planes, stride)]
    blocks += [Bottleneck(planes * EXPANSION, planes) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks), planes * EXPANSION


def resnet_s() -> tuple[nn.Sequential, int]:
    """TransPose-R's backbone: ResNet-50 stem + layer1 (3 blocks) + layer2 (4 blocks, stride 2).

    Returns:
        (module mapping (B, 3, h, w) -> (B, 512, h/8, w/8), 512)
    """
    layer1, channels = make_stage(ResNetStem.out_channels, 64, 3)
    layer2, channels = make_stage(channels, 128, 4, stride=2)
    return nn.Sequential(ResNetStem(), layer1, layer2), channels


def init_resnet_(module: nn.Module) -> None:
    """Kaiming-normal (fan_out, ReLU) convs with zero bias, BatchNorm weight 1 and bias 0, in place."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
