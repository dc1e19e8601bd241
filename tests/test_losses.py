"""Losses against hand-computed values and an independent loop-based numpy GHRL (spec 9)."""
import math

import numpy as np
import pytest
import torch

from kitpose.losses import (adaptive_weight_loss, gaussian_blur, ghrl_loss, kitpose_loss,
                            loss_for, mse_loss, sharpen)
from kitpose.models.output import PoseOutput

LAPLACE_3 = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=np.float64)
LAPLACE_5 = 0.25 * np.array([[0, 0, -1, 0, 0], [0, -1, -2, -1, 0], [-1, -2, 16, -2, -1],
                             [0, -1, -2, -1, 0], [0, 0, -1, 0, 0]], dtype=np.float64)


def _np_blur(g):
    """13x13 sigma-4 normalised Gaussian, reflect padding, explicit loops over a 2-D map."""
    offsets = np.arange(-6, 7)
    taps = np.exp(-0.5 * (offsets / 4.0) ** 2)
    kernel = np.outer(taps, taps) / taps.sum() ** 2
    padded = np.pad(g, 6, mode="reflect")
    out = np.zeros_like(g)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[i, j] = np.sum(padded[i:i + 13, j:j + 13] * kernel)
    return out


def _np_sharpen(g, kernel):
    """Correlation with a symmetric stencil, zero padding, explicit loops."""
    p = kernel.shape[0] // 2
    padded = np.pad(g, p, mode="constant")
    out = np.zeros_like(g)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[i, j] = np.sum(padded[i:i + 2 * p + 1, j:j + 2 * p + 1] * kernel)
    return out


def _np_ghrl(h0, g, kernel):
    smooth, sharp = _np_blur(g), _np_sharpen(g, kernel)
    w_l, w_r = np.abs(sharp - g), np.abs(g - smooth)
    return np.mean((w_l * (h0 - sharp) ** 2 + w_r * (h0 - smooth) ** 2) * (h0 - g) ** 2)


def _gaussian_map(size, centre, sigma):
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    return np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * sigma ** 2))


def _t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


# ---------------------------------------------------------------- adaptive-weight loss (9.1)

def test_adaptive_loss_hand_value():
    pred = torch.zeros(1, 2, 2, 2, dtype=torch.float64)
    pred[0, 0, 0, 0] = 0.5     # |d|^3 = 0.125
    pred[0, 0, 1, 1] = -2.0    # |d|^3 = 8
    pred[0, 1, 0, 1] = 3.0     # joint 1 has weight 0: ignored
    target = torch.zeros_like(pred)
    weight = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    loss = adaptive_weight_loss(pred, target, weight)
    assert loss.item() == pytest.approx((0.125 + 8.0) / 8)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0], ids=["gamma0", "gamma1", "gamma2"])
def test_adaptive_loss_gamma(gamma):
    pred = torch.full((1, 1, 1, 2), 0.5, dtype=torch.float64)
    target = torch.tensor([[[[0.0, 1.5]]]], dtype=torch.float64)   # |d| = 0.5 and 1.0
    loss = adaptive_weight_loss(pred, target, torch.ones(1, 1, dtype=torch.float64), gamma)
    assert loss.item() == pytest.approx((0.5 ** (gamma + 2) + 1.0) / 2)


def test_adaptive_loss_gradient_flows_through_weight_map():
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    weight = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    adaptive_weight_loss(pred, target, weight).backward()
    d = (pred - target).detach()
    v = weight[:, :, None, None]
    # d/dP of v |d|^3 is 3 v |d| d; a detached weight map would give 2 v |d| d.
    expected = 3 * v * d.abs() * d / d.numel()
    torch.testing.assert_close(pred.grad, expected)


def test_adaptive_loss_accepts_hrnet_weight_shape():
    pred, target = torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    a = adaptive_weight_loss(pred, target, torch.ones(2, 3))
    b = adaptive_weight_loss(pred, target, torch.ones(2, 3, 1))
    assert a.item() == b.item() == 1.0


@pytest.mark.parametrize("pred_shape,weight_shape,match", [
    ((1, 2, 4, 4), (1, 2), "equal shapes"),
    ((1, 2, 5, 5), (1, 3), "target_weight must be"),
], ids=["map-shape-mismatch", "weight-shape-mismatch"])
def test_adaptive_loss_bad_shapes(pred_shape, weight_shape, match):
    with pytest.raises(ValueError, match=match):
        adaptive_weight_loss(torch.zeros(pred_shape), torch.zeros(1, 2, 5, 5),
                             torch.ones(weight_shape))


# ---------------------------------------------------------------- GHRL (9.2)

def test_sharpen_single_one_by_hand():
    g = np.zeros((9, 9))
    g[4, 4] = 1.0
    sharp = sharpen(_t(g)[None, None])[0, 0].numpy()
    expected = np.zeros((9, 9))
    expected[4, 4] = 4.0
    expected[3, 4] = expected[5, 4] = expected[4, 3] = expected[4, 5] = -1.0
    np.testing.assert_array_equal(sharp, expected)


def test_sharpen_uses_zero_padding_at_border():
    g = np.zeros((9, 9))
    g[0, 0] = 1.0
    sharp = sharpen(_t(g)[None, None])[0, 0].numpy()
    assert sharp[0, 0] == 4.0 and sharp[0, 1] == -1.0 and sharp[1, 0] == -1.0
    assert sharp.sum() == 2.0   # two of the four neighbours fall outside the map


def test_blur_single_one_by_hand():
    g = np.zeros((9, 9))
    g[4, 4] = 1.0
    blurred = gaussian_blur(_t(g)[None, None])[0, 0].numpy()
    taps = np.exp(-0.5 * (np.arange(-6, 7) / 4.0) ** 2)
    taps /= taps.sum()
    # The centre pixel sees the one only at offset 0. With reflect padding (index -i -> i) the
    # corner (0, 0) sees it at offsets -4 and +4 in each axis: (2 * tap(4))^2.
    assert blurred[4, 4] == pytest.approx(taps[6] ** 2, rel=1e-12)
    assert blurred[0, 0] == pytest.approx((2 * taps[6 + 4]) ** 2, rel=1e-12)
    np.testing.assert_allclose(blurred, _np_blur(g), rtol=1e-12, atol=1e-15)


def test_blur_rejects_too_small_maps():
    with pytest.raises(ValueError, match=r"\(h, w\)=\(5, 5\)"):
        ghrl_loss(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 5, 5))


def test_ghrl_single_one_against_numpy_loops():
    g = np.zeros((9, 9))
    g[4, 4] = 1.0
    h0 = np.full((9, 9), 0.1)
    h0[4, 4] = 0.6
    loss = ghrl_loss(_t(h0)[None, None], _t(g)[None, None]).item()
    assert loss == pytest.approx(_np_ghrl(h0, g, LAPLACE_3), rel=1e-12)


@pytest.mark.parametrize("laplacian,kernel", [("3x3", LAPLACE_3), ("5x5", LAPLACE_5)],
                         ids=["laplace3", "laplace5"])
def test_ghrl_random_against_numpy_loops(laplacian, kernel):
    rng = np.random.default_rng(3)
    g = np.stack([_gaussian_map(12, (3.3, 7.8), 2.0), _gaussian_map(12, (10.5, 0.4), 2.0)])
    h0 = g + 0.2 * rng.standard_normal(g.shape)
    loss = ghrl_loss(_t(h0)[None], _t(g)[None], laplacian).item()
    expected = np.mean([_np_ghrl(h0[k], g[k], kernel) for k in range(2)])
    assert loss == pytest.approx(expected, rel=1e-12)


def test_ghrl_spec_values_for_sigma2_target():
    g = _t(_gaussian_map(64, (32, 32), 2.0))[None, None]
    smooth, sharp = gaussian_blur(g)[0, 0], sharpen(g)[0, 0]
    w_l, w_r = (sharp - g[0, 0]).abs(), (g[0, 0] - smooth).abs()
    assert g[0, 0, 32, 32].item() == 1.0
    assert round(smooth[32, 32].item(), 3) == 0.249
    assert round(sharp[32, 32].item(), 3) == 0.470
    assert round(w_l[32, 32].item(), 3) == 0.530
    assert round(w_r[32, 32].item(), 3) == 0.751
    assert round(w_l[32, 36].item(), 2) == 0.20
    assert round(w_r[32, 36].item(), 3) == 0.026
    # spec: sharp(4 px) = 4 e^-2 - e^-9/8 - e^-25/8 - 2 e^-17/8, by hand
    hand = 4 * math.exp(-2) - math.exp(-9 / 8) - math.exp(-25 / 8) - 2 * math.exp(-17 / 8)
    assert sharp[32, 36].item() == pytest.approx(hand, rel=1e-12)


def test_ghrl_zero_when_prediction_equals_target():
    g = _t(_gaussian_map(16, (5.5, 9.0), 2.0))[None, None].repeat(2, 3, 1, 1)
    assert ghrl_loss(g, g).item() == 0.0


def test_ghrl_zero_for_empty_target_any_prediction():
    pred = torch.rand(1, 2, 10, 10, generator=torch.Generator().manual_seed(1))
    assert ghrl_loss(pred, torch.zeros_like(pred)).item() == 0.0


def test_ghrl_unknown_laplacian_names_choices():
    with pytest.raises(ValueError, match=r"7x7.*\['3x3', '5x5'\]"):
        ghrl_loss(torch.zeros(1, 1, 9, 9), torch.zeros(1, 1, 9, 9), laplacian="7x7")


def test_ghrl_float32_matches_float64():
    g = _gaussian_map(20, (8.2, 11.7), 2.0)[None, None]
    h0 = g * 0.7 + 0.05
    l64 = ghrl_loss(_t(h0), _t(g)).item()
    l32 = ghrl_loss(_t(h0).float(), _t(g).float()).item()
    assert l32 == pytest.approx(l64, rel=1e-5)


# ---------------------------------------------------------------- MSE and totals (9.3)

def test_mse_hand_value():
    pred = torch.zeros(1, 2, 1, 2)
    pred[0, 0, 0, 0] = 2.0
    pred[0, 1, 0, 1] = 5.0    # weight 0: ignored
    weight = torch.tensor([[1.0, 0.0]])
    # 0.5 * mean over 4 elements of (v d)^2 = 0.5 * 4 / 4
    assert mse_loss(pred, torch.zeros_like(pred), weight).item() == pytest.approx(0.5)


def _kit_case(seed=0):
    gen = torch.Generator().manual_seed(seed)
    heatmaps = torch.rand(2, 3, 9, 9, generator=gen, dtype=torch.float64)
    inter = torch.rand(2, 3, 9, 9, generator=gen, dtype=torch.float64)
    target = torch.rand(2, 3, 9, 9, generator=gen, dtype=torch.float64)
    weight_a = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
    weight_b = 1.0 - weight_a
    return PoseOutput(heatmaps, inter), target, weight_a, weight_b


def test_kitpose_loss_is_weighted_sum_of_parts():
    out, target, wa, wb = _kit_case()
    lam = 0.3
    expected = (lam * adaptive_weight_loss(out.heatmaps, target, wa)
                + (1 - lam) * adaptive_weight_loss(out.heatmaps, target, wb)
                + ghrl_loss(out.intermediate, target))
    got = kitpose_loss(out, target, wa, wb, lam)
    assert got.item() == pytest.approx(expected.item(), rel=1e-14)


def test_kitpose_loss_without_cutmix_is_adaptive_plus_ghrl():
    out, target, wa, _ = _kit_case(1)
    expected = adaptive_weight_loss(out.heatmaps, target, wa) + ghrl_loss(out.intermediate, target)
    got = loss_for(out, target, wa)
    assert got.item() == pytest.approx(expected.item(), rel=1e-14)


def test_kitpose_loss_accepts_tensor_lam_and_backpropagates():
    out, target, wa, wb = _kit_case(2)
    heat = out.heatmaps.clone().requires_grad_(True)
    inter = out.intermediate.clone().requires_grad_(True)
    loss = kitpose_loss(PoseOutput(heat, inter), target, wa, wb, torch.tensor(0.6))
    loss.backward()
    assert heat.grad.abs().sum() > 0 and inter.grad.abs().sum() > 0


def test_loss_for_single_head_uses_mse():
    out, target, wa, wb = _kit_case(3)
    single = PoseOutput(out.heatmaps)
    assert loss_for(single, target, wa).item() == pytest.approx(
        mse_loss(out.heatmaps, target, wa).item(), rel=1e-14)
    mixed = loss_for(single, target, wa, wb, 0.25)
    expected = 0.25 * mse_loss(out.heatmaps, target, wa) + 0.75 * mse_loss(out.heatmaps, target, wb)
    assert mixed.item() == pytest.approx(expected.item(), rel=1e-14)


@pytest.mark.parametrize("call,match", [
    (lambda o, t, a, b: kitpose_loss(PoseOutput(o.heatmaps), t, a, b, 0.5), "intermediate"),
    (lambda o, t, a, b: kitpose_loss(o, t, a, b, 1.5), r"lam must lie in \[0, 1\]"),
    (lambda o, t, a, b: loss_for(o, t, a, None, 0.5), "needs weight_b"),
], ids=["no-intermediate", "lam-out-of-range", "lam-without-partner"])
def test_total_loss_errors(call, match):
    out, target, wa, wb = _kit_case()
    with pytest.raises(ValueError, match=match):
        call(out, target, wa, wb)


@pytest.mark.cuda
def test_losses_on_cuda_match_cpu():
    out, target, wa, wb = _kit_case(4)
    cpu = kitpose_loss(out, target, wa, wb, 0.4).item()
    cuda_out = PoseOutput(out.heatmaps.cuda(), out.intermediate.cuda())
    cuda = kitpose_loss(cuda_out, target.cuda(), wa.cuda(), wb.cuda(), 0.4).item()
    assert cuda == pytest.approx(cpu, rel=1e-10)
