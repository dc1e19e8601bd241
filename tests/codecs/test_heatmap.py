"""Heatmap codec: targets by hand, encode -> decode round trip on real fixture keypoints."""
import numpy as np
import pytest
from helpers import FIXTURES

from kitpose.codecs.heatmap import HeatmapCodec, to_image_coords
from kitpose.data.dataset import TopDownDataset

REAL_SETS = [("ap10k", "test_ap10k.json", "ap10k"), ("animalpose", "test_animalpose.json",
             "animalpose"), ("ak", "test_animalkingdom.json", "animalkingdom"),
             ("coco", "test_coco.json", "coco")]


def test_encode_hand_case():
    codec = HeatmapCodec((256, 256), (64, 64), sigma=2.0)
    # input pixel 127.5 is the crop centre -> heatmap 31.5; 255 -> 63
    hm, w = codec.encode(np.array([[127.5, 127.5], [255.0, 0.0]]), np.array([2, 1]))
    assert hm.shape == (2, 64, 64) and hm.dtype == np.float32 and np.all(w == 1)
    assert np.isclose(hm[0, 31, 31], np.exp(-0.5 / 8.0))
    assert np.isclose(hm[1, 0, 63], 1.0) and np.isclose(hm[1, 0, 61], np.exp(-4 / 8.0))


def test_encode_weight_zero_outside_and_invisible():
    codec = HeatmapCodec((256, 256), (64, 64), sigma=2.0)
    # heatmap x = -7.1 -> rounded -6, ul = -12, br = 1 >= 0: still inside; x = -30 -> outside
    kp = np.array([[-28.5, 100.0], [-120.0, 100.0], [100.0, 100.0]])
    hm, w = codec.encode(kp, np.array([2, 2, 0]))
    assert list(w) == [1.0, 0.0, 0.0]
    assert hm[1].max() == 0 and hm[2].max() == 0 and hm[0].max() > 0


def test_rectangular_sizes_use_the_width_ratio():
    codec = HeatmapCodec((256, 192), (64, 48), sigma=2.0)
    pts = np.array([[95.5, 127.5], [191.0, 255.0]])
    hm_pts = codec.input_to_heatmap(pts)
    k = 47.0 / 191.0
    assert np.allclose(hm_pts[0], [23.5, 31.5])
    assert np.allclose(hm_pts[1], [23.5 + k * 95.5, 31.5 + k * 127.5])
    assert np.allclose(codec.heatmap_to_input(hm_pts), pts)


@pytest.mark.parametrize("folder,file,name", REAL_SETS, ids=[r[0] for r in REAL_SETS])
def test_round_trip_on_real_fixtures(folder, file, name):
    from kitpose.data.metadata import DATASETS
    real = str(FIXTURES / folder)
    ds = TopDownDataset(f"{real}/{file}", real, DATASETS[name], (256, 256), (64, 64), 2.0)
    checked = 0
    for i in range(len(ds)):
        s = ds[i]
        joints, weight = s["joints"].astype(np.float64), s["target_weight"].numpy()
        decoded, scores = ds.codec.decode(s["target"].numpy()[None])
        hm = ds.codec.input_to_heatmap(joints)
        interior = (weight > 0) & np.all((hm >= 6) & (hm <= 57), axis=1)  # 3 sigma from borders
        err = np.abs(decoded[0] - joints)[interior]
        assert err.size and err.max() < 0.1, f"{file} instance {s['ann_id']}: {err.max()}"
        back = to_image_coords(decoded[0], s["center"], s["scale"], 0.0, (256, 256))
        orig = s["keypoints"][:, :2]
        assert np.abs(back - orig)[interior].max() < 0.1 * s["scale"][0] * 200 / 255 + 1e-6
        checked += int(interior.sum())
    assert checked > 5
