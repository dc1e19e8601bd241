"""Cutmix: the keypoint test uses the box that was pasted (the official code transposes it)."""
import numpy as np
import torch

from kitpose.codecs.heatmap import HeatmapCodec
from kitpose.data.cutmix import CutmixBox, cutmix_batch, keypoints_in_box


def _targets(points, size=(64, 64)):
    codec = HeatmapCodec((256, 256), size, 2.0)
    maps = [codec.encode(np.asarray(p, float), np.ones(len(p)))[0] for p in points]
    return torch.from_numpy(np.stack(maps))


def test_inside_test_hand_case_not_transposed():
    # Box: rows 0..128, columns 128..256 (top-right quadrant). Keypoint A at x=200, y=40 is
    # inside; keypoint B at x=40, y=200 would be "inside" under the official transposed test.
    t = _targets([[[200.0, 40.0], [40.0, 200.0]]])
    inside = keypoints_in_box(t, CutmixBox(y1=0, y2=128, x1=128, x2=256), (256, 256))
    assert inside.tolist() == [[True, False]]


def test_cutmix_pastes_and_masks_the_same_region():
    b = 6
    images = torch.arange(b, dtype=torch.float32).view(b, 1, 1, 1).expand(b, 3, 256, 256).clone()
    pts = np.random.default_rng(0).uniform(20, 236, (b, 4, 2))
    targets, weights = _targets(pts), torch.ones(b, 4)
    for seed in range(5):
        out_img, _, wa, wb, lam = cutmix_batch(images, targets, weights,
                                               torch.Generator().manual_seed(seed))
        again = cutmix_batch(images, targets, weights, torch.Generator().manual_seed(seed))
        assert torch.equal(out_img, again[0]) and torch.equal(wa, again[2]) and lam == again[4]
        pasted = (out_img[:, 0] != images[:, 0]).any(0)  # (h, w)
        if not pasted.any():
            continue
        rows, cols = torch.nonzero(pasted, as_tuple=True)
        y1, y2, x1, x2 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        assert abs((1 - lam) - (y2 - y1) * (x2 - x1) / 256 ** 2) < 1e-9
        hm = np.floor(HeatmapCodec((256, 256), (64, 64), 2.0).input_to_heatmap(pts) + 0.5)
        inside = ((hm[..., 0] >= x1 // 4) & (hm[..., 0] < x2 // 4)
                  & (hm[..., 1] >= y1 // 4) & (hm[..., 1] < y2 // 4))
        assert np.array_equal(wa.numpy(), (~inside).astype(np.float32))


def test_weights_partition_keypoints_when_partner_is_self():
    """Where the partner is the sample itself, each keypoint is outside (A) xor inside (B)."""
    t = _targets(np.random.default_rng(3).uniform(10, 246, (4, 17, 2)))
    seen_self = 0
    for seed in range(20):
        _, _, wa, wb, _ = cutmix_batch(torch.zeros(4, 3, 256, 256), t, torch.ones(4, 17),
                                       torch.Generator().manual_seed(seed))
        replay = torch.Generator().manual_seed(seed)  # same draw order as cutmix_batch
        torch.rand((), generator=replay)
        torch.randint(256, (1,), generator=replay)
        torch.randint(256, (1,), generator=replay)
        perm = torch.randperm(4, generator=replay)
        for i in torch.nonzero(perm == torch.arange(4)).flatten():
            assert torch.equal(wa[i] + wb[i], torch.ones(17))
            seen_self += 1
    assert seen_self > 0
