"""KITPose model: shapes, presets, parameter counts, sine table, biases, gradients, op routing."""
import math

import numpy as np
import pytest
import torch

import kitpose.ops
from kitpose.models import MODELS, create_model
from kitpose.models import kitpose as kp
from kitpose.models.kitpose import KITPose, KITPoseConfig, body_part_biases
from kitpose.models.layers import sine_table_1d

# paper Table 2 / spec section 8, millions of parameters
PAPER_PARAMS = {"kitpose-w32-256": 68.41, "kitpose-w48-256": 103.47, "kitpose-w32-384": 115.60}
SMALL = dict(width=8, input_size=(64, 96), num_keypoints=5, num_clusters=2, dim=64, depth=2)


def _small(**overrides) -> KITPose:
    torch.manual_seed(0)
    return KITPose(KITPoseConfig(**{**SMALL, **overrides}))


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_parameter_count_matches_paper(name):
    with torch.device("meta"):
        model = create_model(name)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(count - PAPER_PARAMS[name]) / PAPER_PARAMS[name] < 0.005


def test_preset_table_has_the_paper_presets_and_the_default_shape():
    # the three AP-10K presets of the paper plus the embedded default model's architecture
    assert {n for n in MODELS if n.startswith("kitpose")} == set(PAPER_PARAMS) | {"kitpose-w8-128"}


def test_default_preset_forward_shapes():
    model = create_model("kitpose-w8-128").eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 128, 128))
    assert out.heatmaps.shape == out.intermediate.shape == (2, 17, 32, 32)


@pytest.mark.parametrize("name", ["kitpose-w32-256", "kitpose-w48-256",
                                  pytest.param("kitpose-w32-384", marks=pytest.mark.slow)])
def test_preset_forward_shapes(name):
    model = create_model(name).eval()
    h, w = model.config.input_size
    with torch.no_grad():
        out = model(torch.randn(1, 3, h, w))
    assert out.heatmaps.shape == out.intermediate.shape == (1, 17, h // 4, w // 4)
    assert out.assign.shape == (1, 17) and out.assign.dtype == torch.int64
    assert set(out.assign.unique().tolist()) == set(range(4))


@pytest.mark.parametrize("size", [(64, 96), (96, 64), (32, 128)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_non_square_inputs(size):
    model = _small(input_size=size).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, *size))
    assert model.config.heatmap_size == (size[0] // 4, size[1] // 4)
    assert out.heatmaps.shape == (3, 5, size[0] // 4, size[1] // 4)
    assert out.assign.shape == (3, 5) and int(out.assign.max()) < 2


@pytest.mark.parametrize("field,value", [("input_size", (64, 80)), ("num_clusters", 6),
                                         ("dim", 0), ("heads", 3)])
def test_config_rejects_bad_fields(field, value):
    with pytest.raises(ValueError, match=field):
        KITPoseConfig(**{**SMALL, field: value})


def test_sine_table_matches_formula_in_numpy():
    k, d = 17, 10
    table = np.zeros((k, d))
    for p in range(1, k + 1):
        e = 2 * np.pi * p / (k + 1e-6)
        for i in range(d):
            tau = 10000.0 ** (2 * (i // 2) / d)
            table[p - 1, i] = np.sin(e / tau) if i % 2 == 0 else np.cos(e / tau)
    np.testing.assert_allclose(sine_table_1d(k, d).numpy(), table, atol=1e-6)


def test_sine_table_hand_values():
    t = sine_table_1d(2, 2)  # e_1 = pi (up to 1e-6), e_2 = 2 pi; tau = 1 for both channels
    assert torch.allclose(t, torch.tensor([[0.0, -1.0], [0.0, 1.0]]), atol=1e-5)


def test_body_part_biases_hand_case():
    h0 = torch.tensor([[[1.0, 2.0], [10.0, 20.0], [3.0, 6.0]]])  # (1, 3, 2)
    assign = torch.tensor([[0, 1, 0]])
    expected = torch.tensor([[[2.0, 4.0], [10.0, 20.0]]])
    assert torch.equal(body_part_biases(h0, assign, 2), expected)


def test_body_part_biases_empty_cluster_is_zero_not_nan():
    out = body_part_biases(torch.ones(2, 3, 4), torch.zeros(2, 3, dtype=torch.long), 3)
    assert torch.equal(out[:, 1:], torch.zeros(2, 2, 4))
    assert torch.equal(out[:, 0], torch.ones(2, 4))


def test_gradient_reaches_hrnet_head_through_biases_only(monkeypatch):
    model = _small()
    seen = []
    real = kitpose.ops.kmedoids

    def spy(x, c, iters):
        seen.append(x.requires_grad)
        return real(x, c, iters)

    monkeypatch.setattr(kitpose.ops, "kmedoids", spy)
    with torch.no_grad():  # cut the token path: P now depends on H0 only through the biases
        model.token_embed.weight.zero_()
    out = model(torch.randn(2, 3, 64, 96))
    out.heatmaps.square().sum().backward()
    assert seen == [False]  # clustering sees a detached tensor
    assert not out.assign.requires_grad
    grad = model.keypoint_head.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_bias_gradient_is_one_over_cluster_size():
    # d(sum of biases)/d(h0[k]) = 1 / |cluster of k|: gradient through the means, labels fixed
    h0 = torch.randn(1, 3, 2, requires_grad=True)
    body_part_biases(h0, torch.tensor([[0, 1, 0]]), 2).sum().backward()
    assert torch.equal(h0.grad, torch.tensor([[[0.5, 0.5], [1.0, 1.0], [0.5, 0.5]]]))


def test_model_uses_the_labels_the_clustering_returns(monkeypatch):
    model = _small().eval()
    h0 = torch.randn(1, 5, 16, 24)  # O(1) heatmaps: HRNet's N(0, 0.001) init gives ~0 biases
    model.keypoint_head.register_forward_hook(lambda module, args, output: h0)
    fixed = torch.tensor([[0, 1, 1, 0, 1]])
    monkeypatch.setattr(kp, "_cluster", lambda h, c, n: fixed)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        out = model(x)
        # another partition (a mere label swap would permute the prompt tokens: same output)
        other = torch.tensor([[0, 0, 1, 1, 1]])
        monkeypatch.setattr(kp, "_cluster", lambda h, c, n: other)
        changed = model(x)
    assert torch.equal(out.assign, fixed) and torch.equal(changed.assign, other)
    assert not torch.allclose(out.heatmaps, changed.heatmaps)  # prompts follow the labels


def test_eval_is_deterministic_and_batch_independent():
    model = _small().eval()
    x = torch.randn(3, 3, 64, 96)
    with torch.no_grad():
        a, b, single = model(x), model(x), model(x[1:2])
    assert torch.equal(a.heatmaps, b.heatmaps) and torch.equal(a.assign, b.assign)
    assert torch.allclose(a.heatmaps[1:2], single.heatmaps, atol=1e-5)
    assert torch.equal(a.assign[1:2], single.assign)


def test_sine_table_readded_before_later_layers():
    model = _small(depth=2).eval()
    z = torch.randn(2, 2 + 5, 64)
    pos = model.pos_embed
    manual = model.encoder[0](z)
    manual = torch.cat([manual[:, :2], manual[:, 2:] + pos], dim=1)
    manual = model.encoder[1](manual)
    with torch.no_grad():
        assert torch.allclose(model._encode(z), manual, atol=1e-6)
    assert "pos_embed" not in model.state_dict()  # recomputed, never stored


def test_attention_scale_uses_full_dim():
    model = _small(heads=4)
    assert math.isclose(model.encoder[0].attn.scale, 64 ** -0.5)


def test_traced_forward_uses_the_fixed_iteration_twin(monkeypatch):
    calls = []
    for name in ("kmedoids", "kmedoids_fixed"):
        real = getattr(kitpose.ops, name)
        monkeypatch.setattr(kitpose.ops, name,
                            lambda x, c, n, _r=real, _n=name: calls.append(_n) or _r(x, c, n))
    model = _small().eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        eager = model(x)
        assert calls == ["kmedoids"]
        traced = torch.jit.trace(model, x, check_trace=False)
    assert calls[1:] == ["kmedoids_fixed"]
    with torch.no_grad():
        replay = traced(x)
    assert torch.allclose(replay[0], eager.heatmaps, atol=1e-5)
    assert torch.equal(replay[2], eager.assign)


def test_train_mode_forward_and_config_exposed():
    model = _small().train()
    out = model(torch.randn(2, 3, 64, 96))
    assert model.config == KITPoseConfig(**SMALL)
    assert out.heatmaps.requires_grad and out.intermediate.requires_grad
