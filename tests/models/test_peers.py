"""TransPose and BTranspose: building blocks against hand cases and torch oracles, presets against
the papers' parameter counts, forward shapes at small inputs, determinism, ONNX parity."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from kitpose.models import create_model
from kitpose.models.btranspose import BTranspose, BTransposeConfig, RelPosSelfAttention
from kitpose.models.output import PoseOutput
from kitpose.models.transpose import SelfAttention, TransPose, TransPoseConfig, sine_position_table

# Paper figures (TransPose Table 1, BTranspose Table 1).
PAPER_PARAMS = {
    "transpose-r-a3": 5.2e6, "transpose-r-a4": 6.0e6, "transpose-h-s": 8.0e6,
    "transpose-h-a4": 17.3e6, "transpose-h-a6": 17.5e6, "btranspose-c3a1": 10.1e6,
}
PEERS = sorted(PAPER_PARAMS)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _small(name: str, input_size=(64, 48)) -> nn.Module:
    torch.manual_seed(0)
    return create_model(name, input_size=input_size).eval()


# ---- sine table ------------------------------------------------------------------------------

def test_sine_table_single_cell_dim4():
    # y = x = 1/(1+eps) * 2pi, frequency 1: (sin 2pi, cos 2pi) per axis.
    table = sine_position_table((1, 1), 4)
    torch.testing.assert_close(table, torch.tensor([[0.0, 1.0, 0.0, 1.0]]), atol=1e-5, rtol=0)


def test_sine_table_two_rows_dim8():
    # half = 4 channels per axis, frequencies (1, 1, 100, 100); y in {pi, 2pi}, x = 2pi.
    pi = math.pi
    expected = torch.tensor([
        [math.sin(pi), math.cos(pi), math.sin(pi / 100), math.cos(pi / 100),
         math.sin(2 * pi), math.cos(2 * pi), math.sin(2 * pi / 100), math.cos(2 * pi / 100)],
        [math.sin(2 * pi), math.cos(2 * pi), math.sin(2 * pi / 100), math.cos(2 * pi / 100),
         math.sin(2 * pi), math.cos(2 * pi), math.sin(2 * pi / 100), math.cos(2 * pi / 100)],
    ])
    torch.testing.assert_close(sine_position_table((2, 1), 8), expected, atol=1e-5, rtol=0)


def test_sine_table_rows_are_row_major():
    table = sine_position_table((3, 4), 16)  # (12, 16)
    assert table.shape == (12, 16)
    # Same row y -> same y half; same column x -> same x half.
    torch.testing.assert_close(table[4, :8], table[7, :8])
    torch.testing.assert_close(table[1, 8:], table[9, 8:])


def test_sine_table_rejects_dim_not_multiple_of_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        sine_position_table((2, 2), 6)


# ---- attention blocks against oracles ---------------------------------------------------------

@pytest.mark.parametrize("heads", [1, 4], ids=["1head", "4heads"])
def test_self_attention_matches_torch_multihead_attention(heads):
    torch.manual_seed(0)
    ours = SelfAttention(16, heads).eval()
    ref = nn.MultiheadAttention(16, heads, batch_first=True).eval()
    ref.load_state_dict(ours.state_dict())  # same parameter names by design
    x, pos = torch.randn(2, 10, 16), torch.randn(1, 10, 16)
    with torch.no_grad():
        expected = ref(x + pos, x + pos, x, need_weights=False)[0]
        torch.testing.assert_close(ours(x, pos), expected, atol=1e-5, rtol=1e-5)


def test_relpos_attention_matches_explicit_formula():
    torch.manual_seed(0)
    attn = RelPosSelfAttention(8, heads=2, size=(3, 2)).eval()
    x = torch.randn(2, 8, 3, 2)
    with torch.no_grad():
        convs = (attn.query, attn.key, attn.value)
        q, k, v = (conv(x).reshape(2, 2, 4, 6) for conv in convs)  # (B, heads, D/heads, N)
        rel = (attn.rel_h + attn.rel_w).reshape(2, 4, 6)  # (h, d, N): embedding of each key position
        logits = torch.einsum("bhdi,bhdj->bhij", q, k) + torch.einsum("bhdi,hdj->bhij", q, rel)
        weights = (logits / math.sqrt(4)).softmax(-1)
        expected = torch.einsum("bhij,bhdj->bhdi", weights, v).reshape(2, 8, 3, 2)
        torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)


def test_relpos_attention_rejects_other_grid():
    attn = RelPosSelfAttention(8, heads=2, size=(3, 2))
    with pytest.raises(ValueError, match="input_size"):
        attn(torch.randn(1, 8, 4, 2))


# ---- presets ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PEERS)
def test_preset_parameter_count_within_2_percent_of_paper(name):
    n = _count(create_model(name))
    paper = PAPER_PARAMS[name]
    assert abs(n / paper - 1) < 0.02, f"{name}: {n} parameters vs paper {paper:.0f}"


@pytest.mark.parametrize("fields,paper", [
    (dict(blocks=(3, 4, 6), planes=(64, 96, 128), strides=(1, 2, 1), attention_groups=(2,)), 6.8e6),
    (dict(attention_groups=(2, 3)), 9.55e6),
    (dict(depth=6), 11.67e6),
    (dict(planes=(64, 128, 256, 512)), 23.82e6),
], ids=["C2A1(4)", "C2A2(4)", "C3A1(4)-N6", "C3A1(4)-Large"])
def test_btranspose_variants_match_paper_counts(fields, paper):
    # The other rows of the BTranspose table pin down the layout reading used for C3A1(4).
    n = _count(BTranspose(BTransposeConfig(**fields)))
    assert abs(n / paper - 1) < 0.005, f"{fields}: {n} parameters vs paper {paper:.0f}"


@pytest.mark.parametrize("name", PEERS)
def test_preset_forward_shape_and_output_convention(name):
    model = _small(name)
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 48))
    assert isinstance(out, PoseOutput)
    assert out.heatmaps.shape == (2, 17, 16, 12)
    assert out.intermediate is None and out.assign is None
    assert torch.isfinite(out.heatmaps).all()


@pytest.mark.parametrize("name", ["transpose-r-a3", "transpose-h-s", "btranspose-c3a1"])
@pytest.mark.parametrize("size", [(48, 80), (96, 64)], ids=["wide", "tall"])
def test_non_square_inputs(name, size):
    model = _small(name, input_size=size)
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
    assert out.heatmaps.shape == (1, 17, size[0] // 4, size[1] // 4)


def test_transpose_runs_at_other_sizes_with_the_same_table():
    # A model built for 64x48 fed 96x64 must rebuild exactly the table a 96x64 model stores.
    small = TransPose(TransPoseConfig(input_size=(64, 48), dim=32, depth=1, heads=2, ffn_dim=64)).eval()
    big = TransPose(TransPoseConfig(input_size=(96, 64), dim=32, depth=1, heads=2, ffn_dim=64)).eval()
    weights = {k: v for k, v in small.state_dict().items() if k != "pos_embedding"}
    missing, unexpected = big.load_state_dict(weights, strict=False)
    assert missing == ["pos_embedding"] and not unexpected
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        torch.testing.assert_close(small(x).heatmaps, big(x).heatmaps)


def test_btranspose_attention_in_a_strided_group():
    # MHSA at the input grid, then 2x2 average pooling carries the group's stride.
    config = BTransposeConfig(input_size=(64, 48), blocks=(1, 2, 1, 1), attention_groups=(1, 3),
                              dim=32, depth=1, heads=2, ffn_dim=64)
    model = BTranspose(config).eval()
    assert model.backbone[2][0].conv2[0].size == (16, 12) and model.backbone[2][1].conv2.size == (8, 6)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 48)).heatmaps.shape == (1, 17, 16, 12)


def test_btranspose_rejects_other_input_size():
    model = _small("btranspose-c3a1")
    with pytest.raises(ValueError, match="input_size"):
        model(torch.randn(1, 3, 96, 64))


@pytest.mark.parametrize("name", ["transpose-r-a3", "transpose-h-s", "btranspose-c3a1"])
def test_eval_is_deterministic_and_train_uses_dropout(name):
    model = _small(name)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        a, b = model(x).heatmaps, model(x).heatmaps
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        model.train()
        c, d = model(x).heatmaps, model(x).heatmaps
    assert not torch.equal(c, d)


@pytest.mark.parametrize("name,pos_trains", [("transpose-r-a3", False), ("btranspose-c3a1", True)],
                         ids=["transpose-sine-frozen", "btranspose-learned"])
def test_gradients_reach_backbone_and_encoder(name, pos_trains):
    model = _small(name).train()
    model(torch.randn(2, 3, 64, 48)).heatmaps.square().sum().backward()
    assert model.backbone[0].conv1.weight.grad.abs().sum() > 0
    assert model.encoder[0].linear1.weight.grad.abs().sum() > 0
    assert (model.pos_embedding.grad is not None) == pos_trains


@pytest.mark.parametrize("config,match", [
    (lambda: TransPoseConfig(backbone="vit"), "backbone"),
    (lambda: TransPoseConfig(backbone="hrnet", input_size=(72, 48)), "multiples of 16"),
    (lambda: TransPoseConfig(dim=100, heads=8), "dim=100"),
    (lambda: BTransposeConfig(planes=(64, 96, 128)), "one entry per group"),
    (lambda: BTransposeConfig(attention_groups=(4,)), "attention_groups"),
    (lambda: BTransposeConfig(input_size=(60, 48)), "multiples"),
    (lambda: BTransposeConfig(strides=(1, 4, 1, 1)), "strides"),
], ids=["unknown-backbone", "hrnet-size", "dim-heads", "group-lengths", "group-index", "bt-size",
        "bt-stride"])
def test_config_errors_name_the_field(config, match):
    with pytest.raises(ValueError, match=match):
        config()


# ---- ONNX -------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("build", [
    lambda: TransPose(TransPoseConfig(input_size=(64, 48), dim=32, depth=2, heads=4, ffn_dim=64)),
    lambda: TransPose(TransPoseConfig(backbone="hrnet", width=8, input_size=(64, 48), dim=16, depth=1,
                                      heads=1, ffn_dim=32)),
    lambda: BTranspose(BTransposeConfig(input_size=(64, 48), blocks=(1, 1, 1, 1), dim=32, depth=2,
                                        heads=4, ffn_dim=64, deconv_dim=32)),
], ids=["transpose-r", "transpose-h", "btranspose"])
def test_onnx_export_matches_pytorch(build):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = build().eval()
    final = [m for m in model.head.modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():
        final.weight.mul_(1000)  # the N(0, 0.001) init gives ~1e-4 maps; compare at O(1) magnitude
    x = torch.randn(2, 3, 64, 48)
    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, opset_version=17, dynamo=False,
                      input_names=["images"], output_names=["heatmaps"])
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"images": x.numpy()})
    with torch.no_grad():
        expected = model(x).heatmaps.numpy()
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
