"""HRNet backbone (Sun et al. 2019) at any width, returning the stride-4 branch (KITPose spec s. 2).

Submodule names follow the official HRNet code (conv1, bn1, conv2, bn2, layer1, transition1..3,
stage2..4 with `branches` / `fuse_layers`), so official `pre_feature.*` checkpoint keys load by a
prefix rename. Branch channels are [C, 2C, 4C, 8C]; stages 2/3/4 have 1/4/3 modules of 4
BasicBlocks per branch.
The last module of the last stage fuses into branch 0 only.
"""
from __future__ import annotations

from torch import Tensor, nn

BN_MOMENTUM = 0.1
STEM_CHANNELS = 64
# stage index -> number of HighResolutionModules (branches = stage index)
STAGE_MODULES = {2: 1, 3: 4, 4: 3}
BLOCKS_PER_BRANCH = 4


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (expansion 1)."""
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + residual)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convs with a residual connection (expansion 4)."""
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + residual)


def _make_layer(block: type, cin: int, planes: int, blocks: int) -> nn.Sequential:
    """`blocks` residual blocks; the first gets a 1x1 conv + BN shortcut when channels change."""
    cout = planes * block.expansion
    downsample = None
    if cin != cout:
        downsample = nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, bias=False),
                                   nn.BatchNorm2d(cout, momentum=BN_MOMENTUM))
    layers = [block(cin, planes, downsample=downsample)]
    layers += [block(cout, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def _downsample_path(cin: int, cout: int, steps: int) -> nn.Sequential:
    """`steps` stride-2 3x3 conv + BN units; ReLU between units, none after the last."""
    units = []
    for k in range(steps):
        last = k == steps - 1
        unit = [_conv3x3(cin, cout if last else cin, stride=2),
                nn.BatchNorm2d(cout if last else cin, momentum=BN_MOMENTUM)]
        if not last:
            unit.append(nn.ReLU(inplace=True))
        units.append(nn.Sequential(*unit))
    return nn.Sequential(*units)


def _upsample_path(cin: int, cout: int, factor: int) -> nn.Sequential:
    """1x1 conv + BN, then nearest upsampling by `factor`."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, bias=False),
                         nn.BatchNorm2d(cout, momentum=BN_MOMENTUM),
                         nn.Upsample(scale_factor=factor, mode="nearest"))


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks, then sum-fusion across resolutions.

    Args:
        channels: per-branch channels, highest resolution first.
        multi_scale_output: False fuses into branch 0 only (the last module of the last stage).
    """

    def __init__(self, channels: list[int], multi_scale_output: bool = True):
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(
            _make_layer(BasicBlock, c, c, BLOCKS_PER_BRANCH) for c in channels)
        self.fuse_layers = self._make_fuse_layers(channels, multi_scale_output)
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _make_fuse_layers(channels: list[int], multi_scale_output: bool) -> nn.ModuleList | None:
        if len(channels) == 1:
            return None
        rows = []
        for i in range(len(channels) if multi_scale_output else 1):
            row = []
            for j, cin in enumerate(channels):
                if j > i:
                    row.append(_upsample_path(cin, channels[i], 2 ** (j - i)))
                elif j < i:
                    row.append(_downsample_path(cin, channels[i], i - j))
                else:
                    row.append(None)  # identity; keeps the official indices
            rows.append(nn.ModuleList(row))
        return nn.ModuleList(rows)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]  # each (B, C_i, H_i, W_i)
        if self.fuse_layers is None:
            return xs
        fused = []
        for i, row in enumerate(self.fuse_layers):
            y = xs[0] if i == 0 else row[0](xs[0])
            for j in range(1, self.num_branches):
                y = y + (xs[j] if i == j else row[j](xs[j]))
            fused.append(self.relu(y))
        return fused


def _make_transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
    """Adapters from one stage's branches to the next stage's (None where channels match)."""
    layers = []
    for i, cout in enumerate(cur):
        if i < len(pre):
            layers.append(None if pre[i] == cout else nn.Sequential(
                _conv3x3(pre[i], cout), nn.BatchNorm2d(cout, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True)))
        else:  # a new, lower-resolution branch grown from the previous last branch
            layers.append(nn.Sequential(nn.Sequential(
                _conv3x3(pre[-1], cout, stride=2), nn.BatchNorm2d(cout, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True))))
    return nn.ModuleList(layers)


def init_hrnet_weights(module: nn.Module) -> None:
    """HRNet init: every conv N(0, 0.001) with zero bias, every BatchNorm weight 1 and bias 0.

    Args:
        module: module tree initialised in place.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class HRNetBackbone(nn.Module):
    """HRNet stem + stages 1..num_stages, returning the stride-4 branch-0 features.

    Args:
        width: channels C of branch 0 (W32 -> 32); branch i has C * 2**i channels.
        num_stages: 4 for KITPose (HRNet-W*), 3 for TransPose-H (HRNet-S); the last stage's last
            module outputs branch 0 only.
        in_channels: image channels.
        stage1_planes: bottleneck width of stage 1 (64 in HRNet; its output has 4x as many channels).
        stage1_blocks: bottlenecks in stage 1 (4 in HRNet). Stage 1 runs at stride 4 with 256
            channels whatever the width, so it dominates narrow models; the embedded default model
            halves both.

    Forward: (B, in_channels, h, w) with h, w multiples of 2**(num_stages + 1) -> (B, C, h/4, w/4).
    """

    def __init__(self, width: int, num_stages: int = 4, in_channels: int = 3,
                 stage1_planes: int = 64, stage1_blocks: int = 4):
        super().__init__()
        if num_stages not in (2, 3, 4):
            raise ValueError(f"HRNetBackbone: num_stages must be 2, 3 or 4, got {num_stages}")
        for name, value in (("width", width), ("stage1_planes", stage1_planes),
                            ("stage1_blocks", stage1_blocks)):
            if value < 1:
                raise ValueError(f"HRNetBackbone: {name} must be positive, got {value}")
        self.width, self.num_stages = width, num_stages
        self.conv1 = _conv3x3(in_channels, STEM_CHANNELS, stride=2)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(STEM_CHANNELS, STEM_CHANNELS, stride=2)
        self.bn2 = nn.BatchNorm2d(STEM_CHANNELS, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_layer(Bottleneck, STEM_CHANNELS, stage1_planes, stage1_blocks)
        pre = [stage1_planes * Bottleneck.expansion]
        for stage in range(2, num_stages + 1):
            cur = [width * 2 ** i for i in range(stage)]
            setattr(self, f"transition{stage - 1}", _make_transition(pre, cur))
            last_stage = stage == num_stages
            modules = [HighResolutionModule(cur, multi_scale_output=not (
                last_stage and k == STAGE_MODULES[stage] - 1)) for k in range(STAGE_MODULES[stage])]
            setattr(self, f"stage{stage}", nn.Sequential(*modules))
            pre = cur
        init_hrnet_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (B, 64, h/2, w/2)
        x = self.relu(self.bn2(self.conv2(x)))  # (B, 64, h/4, w/4)
        xs = [self.layer1(x)]  # [(B, 4 * stage1_planes, h/4, w/4)]
        for stage in range(2, self.num_stages + 1):
            transition = getattr(self, f"transition{stage - 1}")
            xs = [xs[i] if t is None else t(xs[min(i, len(xs) - 1)])
                  for i, t in enumerate(transition)]  # branch i: (B, C * 2**i, h / 2**(i+2), ...)
            xs = getattr(self, f"stage{stage}")(xs)
        return xs[0]  # (B, C, h/4, w/4)
