"""FMMP's model: deformable sampling against a direct bilinear reference, the recurrence's shapes and
invariances, the loss, and the paper-size parameter count."""
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kitpose.cape.loss import fmmp_loss  # noqa: E402
from kitpose.models.deformable import MSDeformAttn, sample_level  # noqa: E402
from kitpose.models.fmmp import FMMP, FMMPConfig  # noqa: E402

SMALL = FMMPConfig(input_size=(64, 64), dim=32, heads=4, ffn=64, planes=(8, 8, 16, 16), blocks=(1, 1, 1, 1))


def _bilinear(img: np.ndarray, x: float, y: float) -> np.ndarray:
    """Direct bilinear sample of (C, H, W) at normalised (x, y), pixel centres at (i + 0.5) / W, zeros outside."""
    c, h, w = img.shape
    px, py = x * w - 0.5, y * h - 0.5
    x0, y0 = int(np.floor(px)), int(np.floor(py))
    out = np.zeros(c)
    for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= xx < w and 0 <= yy < h:
                out += wy * wx * img[:, yy, xx]
    return out


def test_sample_level_matches_direct_bilinear_sampling():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((3, 5, 7)).astype(np.float32)
    locs = rng.uniform(-0.1, 1.1, (4, 2))  # some outside the image: zero padding
    got = sample_level(torch.from_numpy(img)[None], torch.from_numpy(locs).float()[None, :, None, :])
    for q, (x, y) in enumerate(locs):
        np.testing.assert_allclose(got[0, :, q, 0].numpy(), _bilinear(img, x, y), atol=1e-5)


def test_deformable_attention_equals_a_hand_computed_weighted_sum():
    torch.manual_seed(0)
    attn = MSDeformAttn(dim=8, heads=2, levels=3, points=2).eval()
    pyramid = [torch.randn(1, 8, s, s) for s in (2, 4, 8)]
    query, ref = torch.randn(1, 3, 8), torch.rand(1, 3, 2)
    got = attn(query, ref, attn.project_values(pyramid))  # (1, 3, 8)
    # by hand: per head, softmax weights over (level, point), bilinear samples at ref + offset / size
    off = attn.sampling_offsets(query).view(1, 3, 2, 3, 2, 2)
    wts = attn.attention_weights(query).view(1, 3, 2, 6).softmax(-1).view(1, 3, 2, 3, 2)
    values = [attn.value_proj(p.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(1, 8, p.shape[2], p.shape[3])
              for p in pyramid]
    expect = np.zeros((3, 8))
    for q in range(3):
        for h in range(2):
            for lv, v in enumerate(values):
                size = v.shape[-1]
                for p in range(2):
                    x, y = (ref[0, q] + off[0, q, h, lv, p] / size).tolist()
                    sample = _bilinear(v[0, h * 4:(h + 1) * 4].detach().numpy(), x, y)
                    expect[q, h * 4:(h + 1) * 4] += wts[0, q, h, lv, p].item() * sample
    expect = attn.output_proj(torch.from_numpy(expect).float()).detach().numpy()
    np.testing.assert_allclose(got[0].detach().numpy(), expect, atol=1e-5)


def _episode(b=2, s=2, k=70, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = SMALL.input_size
    return (torch.randn(b, 3, h, w, generator=g), torch.randn(b, s, 3, h, w, generator=g),
            torch.rand(b, s, k, 2, generator=g), torch.rand(b, s, k, generator=g) > 0.3,
            torch.randint(0, k, (b, k, 8), generator=g))


def test_recurrence_shapes_and_start():
    torch.manual_seed(0)
    model = FMMP(SMALL).eval()
    out = model(*_episode())
    assert out.points.shape == (3, 2, 70, 2)
    # the update MLPs end in zero-initialised layers: a fresh model leaves P at the start (0.5, 0.5)
    torch.testing.assert_close(out.points, torch.full_like(out.points, 0.5))
    for update in model.updates:
        torch.nn.init.normal_(update.mlp[-1].weight)
    moved = model(*_episode()).points
    assert ((moved > 0) & (moved < 1)).all() and not torch.allclose(moved, out.points)


def test_cached_support_equals_the_one_call_forward_and_shots_unseen_do_not_matter():
    torch.manual_seed(1)
    model = FMMP(SMALL).eval()
    for update in model.updates:
        torch.nn.init.normal_(update.mlp[-1].weight, std=0.1)
    query, images, points, visible, table = _episode(b=1, s=2)
    with torch.no_grad():
        state = model.encode_support(images, points, visible, table)
        direct = model(query, images, points, visible, table).points
        torch.testing.assert_close(model.forward_query(query, state).points, direct)
        # a shot that sees no keypoint gets zero weight wherever another shot sees it (with every
        # keypoint's structure list holding only itself, nothing else links seen and unseen points)
        table = torch.arange(70).view(1, 70, 1).repeat(1, 1, 8)
        hidden = visible.clone()
        hidden[:, 1] = False
        one_shot = model(query, images[:, :1], points[:, :1], visible[:, :1], table).points
        two = model(query, images, points, hidden, table).points
        seen = visible[0, 0]
        torch.testing.assert_close(two[:, :, seen], one_shot[:, :, seen], atol=1e-5, rtol=1e-5)


def test_loss_weights_real_and_padded_points_and_trains():
    target = torch.full((1, 4, 2), 0.5)
    points = target.clone()[None].repeat(2, 1, 1, 1)  # (L=2, B, K, 2)
    points[:, 0, 0] += 0.2   # real, visible: |0.2| + |0.2| over 2 coordinates -> L_raw = 0.1 (2 real)
    points[:, 0, 2] += 0.4   # padded, visible: L_mix = 0.4
    points[:, 0, 3] += 9.0   # padded, invisible: ignored
    visible = torch.tensor([[True, True, True, False]])
    real = torch.tensor([True, True, False, False])
    assert fmmp_loss(points, target, visible, real).item() == pytest.approx(2 * (0.1 + 0.5 * 0.4))
    model = FMMP(SMALL)
    query, images, pts, vis, table = _episode(b=2, s=1)
    loss = fmmp_loss(model(query, images, pts, vis, table).points, pts[:, 0], vis[:, 0], torch.arange(70) < 20)
    loss.backward()
    assert model.updates[0].mlp[-1].weight.grad.abs().sum() > 0


def test_paper_size_parameter_count():
    model = FMMP(FMMPConfig())
    total = sum(p.numel() for p in model.parameters())
    outside = total - sum(p.numel() for p in model.backbone.parameters())
    # the spec estimates ~41 M with ResNet-50 and ~17 M outside it
    assert 40e6 < total < 42e6 and 16e6 < outside < 17.5e6


def test_similarity_start_finds_the_matching_feature_and_is_supervised_as_a_layer():
    """start="similarity" (ours, for from-scratch training): P_q^0 is the soft-argmax of cosine
    similarity over the query's finest level, returned before the 3 layers' points."""
    torch.manual_seed(0)
    model = FMMP(dataclasses.replace(SMALL, start="similarity")).eval()
    level = torch.randn(1, 32, 8, 8) * 0.01  # (B, d, H, W): near-zero everywhere...
    feats = torch.randn(1, 3, 32)  # (B, K, d)
    for k, (y, x) in enumerate([(1, 6), (4, 4), (7, 0)]):
        level[0, :, y, x] = feats[0, k] * 5  # ...but keypoint k's own feature at (y, x)
    with torch.no_grad():
        model.match_scale.fill_(torch.log(torch.tensor(200.0)))  # sharp: the argmax, softened a little
        points = model.match_points(feats, level)  # (1, 3, 2)
    want = torch.tensor([[[6.5, 1.5], [4.5, 4.5], [0.5, 7.5]]]) / 8
    torch.testing.assert_close(points, want, atol=0.02, rtol=0)
    out = model(*_episode())
    assert out.points.shape == (4, 2, 70, 2)  # P_q^0 first, then the 3 layers
