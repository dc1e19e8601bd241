"""HRNet backbone: shapes at any width and input size, official names, init, parameter counts."""
import pytest
import torch
from torch import nn

from kitpose.models.hrnet import HRNetBackbone

from helpers import OFFICIAL_KEYS_TSV as TSV


def _tsv_shapes() -> dict[str, tuple]:
    rows = [line.rstrip("\n").split("\t") for line in open(TSV, encoding="utf-8")
            if not line.startswith("#")]
    return {key: tuple(int(v) for v in shape.strip("()").split(",") if v.strip())
            for key, shape in rows}


@pytest.mark.parametrize("width", [8, 12, 18], ids=lambda w: f"W{w}")
@pytest.mark.parametrize("size", [(64, 64), (64, 96), (96, 64), (128, 32)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_output_is_stride4_branch0(width, size):
    net = HRNetBackbone(width).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, *size))
    assert out.shape == (2, width, size[0] // 4, size[1] // 4)


def test_three_stages_for_transpose_h():
    net = HRNetBackbone(8, num_stages=3).eval()
    assert not hasattr(net, "stage4") and not hasattr(net, "transition3")
    assert len(net.stage3[-1].fuse_layers) == 1  # last module fuses into branch 0 only
    assert len(net.stage3[0].fuse_layers) == 3
    with torch.no_grad():
        out = net(torch.randn(1, 3, 48, 80))  # multiples of 16 suffice with 3 stages
    assert out.shape == (1, 8, 12, 20)


def test_last_stage4_module_fuses_branch0_only():
    net = HRNetBackbone(8)
    assert [len(m.fuse_layers) for m in net.stage4] == [4, 4, 1]
    assert len(net.stage4[-1].branches) == 4


@pytest.mark.parametrize("num_stages", [1, 5])
def test_rejects_unsupported_stage_count(num_stages):
    with pytest.raises(ValueError, match="num_stages"):
        HRNetBackbone(8, num_stages=num_stages)


def test_names_match_official_pre_feature_keys():
    with torch.device("meta"):
        net = HRNetBackbone(32)
    ours = {f"pre_feature.{k}": tuple(v.shape) for k, v in net.state_dict().items()}
    official = {k: s for k, s in _tsv_shapes().items()
                if k.startswith("pre_feature.") and ".final_layer." not in k}
    assert ours == official


@pytest.mark.parametrize("width,million", [(32, 28.5), (48, 63.6)], ids=["W32", "W48"])
def test_parameter_count_matches_hrnet_paper(width, million):
    with torch.device("meta"):
        net = HRNetBackbone(width)
        head = nn.Conv2d(width, 17, 1)
    count = sum(p.numel() for p in [*net.parameters(), *head.parameters()])
    assert abs(count / 1e6 - million) / million < 0.005


def test_w32_with_head_matches_spec_breakdown_exactly():
    # KITPOSE_SPEC.md section 8: HRNet-W32 (K=17) = 28,536,113 parameters
    with torch.device("meta"):
        count = sum(p.numel() for p in HRNetBackbone(32).parameters())
    assert count + 32 * 17 + 17 == 28_536_113


def test_init_conv_normal_bn_identity():
    torch.manual_seed(0)
    net = HRNetBackbone(16)
    convs = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.Conv2d)])
    assert abs(convs.std().item() - 0.001) < 5e-5 and abs(convs.mean().item()) < 5e-5
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
            assert m.momentum == 0.1


def test_gradients_reach_the_stem():
    net = HRNetBackbone(8)
    net(torch.randn(2, 3, 64, 64)).square().sum().backward()
    assert net.conv1.weight.grad is not None and net.conv1.weight.grad.abs().sum() > 0
    # the lowest branch feeds branch 0 through the fusion of the last module
    assert net.transition3[3][0][0].weight.grad.abs().sum() > 0
