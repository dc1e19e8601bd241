"""Box handling, the UDP size-1 affine and the augmentations."""
import cv2
import numpy as np
import pytest

from kitpose.data.dataset import warp_crop
from kitpose.data.metadata import DATASETS
from kitpose.data.transforms import (affine_points, box_to_center_scale, flip_keypoints,
                                     get_affine_transform, half_body_box, random_scale_rotation,
                                     sanitize_box)


def test_sanitize_box_hand_case():
    # x1 = 0, x2 = min(99, 0 + 29) = 29 -> w = 29; y2 = min(79, 70 + 19) = 79 -> h = 9
    assert np.allclose(sanitize_box([-5, 70, 30, 20], (80, 100)), [0, 70, 29, 9])
    assert np.allclose(sanitize_box([-5, 70, 30, 20], (80, 100), inclusive_width=True),
                       [0, 70, 30, 10])
    assert sanitize_box([120, 10, 5, 5], (80, 100)) is None


def test_box_to_center_scale_hand_case():
    center, scale = box_to_center_scale([10, 20, 100, 50], aspect_ratio=1.0)
    assert np.allclose(center, [60, 45]) and np.allclose(scale, [100 / 200 * 1.25] * 2)
    _, scale = box_to_center_scale([0, 0, 30, 120], aspect_ratio=0.75)
    assert np.allclose(scale, [90 / 200 * 1.25, 120 / 200 * 1.25])


def _official_three_point(center, scale, rot, size):
    """The three-point construction of spec 10.3, solved by OpenCV (oracle)."""
    out_h, out_w = size
    src_w = scale[0] * 200.0
    r = np.deg2rad(rot)
    src_dir = np.array([(src_w - 1) * -0.5 * -np.sin(r), (src_w - 1) * -0.5 * np.cos(r)])
    dst_dir = np.array([0.0, (out_w - 1) * -0.5])
    src0, dst0 = np.asarray(center, float), np.array([(out_w - 1) * 0.5, (out_h - 1) * 0.5])
    src = [src0, src0 + src_dir]
    dst = [dst0, dst0 + dst_dir]
    third = lambda a, b: b + np.array([-(a - b)[1], (a - b)[0]])  # noqa: E731
    src.append(third(*src))
    dst.append(third(*dst))
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


@pytest.mark.parametrize("rot", [0.0, 30.0, -75.0], ids=["r0", "r30", "r-75"])
@pytest.mark.parametrize("size", [(256, 256), (256, 192)], ids=["256x256", "256x192"])
def test_affine_matches_three_point_construction(rot, size):
    center, scale = np.array([310.5, 207.25]), np.array([1.6, 1.6 * size[0] / size[1]])
    ours = get_affine_transform(center, scale, rot, size)
    assert np.allclose(ours, _official_three_point(center, scale, rot, size), atol=1e-3)
    inv = get_affine_transform(center, scale, rot, size, inverse=True)
    pts = np.random.default_rng(0).uniform(0, 500, (20, 2))
    assert np.allclose(affine_points(affine_points(pts, ours), inv), pts, atol=1e-9)


def test_affine_maps_centre_to_crop_centre_size_minus_one():
    m = get_affine_transform([100.0, 50.0], [1.0, 1.0], 0.0, (64, 64))
    assert np.allclose(affine_points([[100.0, 50.0]], m), [[31.5, 31.5]])
    assert np.isclose(m[0, 0], 63.0 / 199.0)


@pytest.mark.parametrize("rot,zoom", [(0.0, 1.0), (37.0, 0.7), (-80.0, 1.4)],
                         ids=["plain", "rot37", "rot-80"])
def test_dot_lands_where_affine_says(rot, zoom):
    """Draw a blurred dot, warp the image, find the dot's centroid in the crop."""
    dot = np.array([173.3, 121.8])
    ys, xs = np.mgrid[0:240, 0:320]
    blob = np.exp(-((xs - dot[0]) ** 2 + (ys - dot[1]) ** 2) / (2 * 4.0 ** 2))
    image = np.repeat((blob * 255).astype(np.float32)[..., None], 3, axis=2)
    center, scale = np.array([160.0, 120.0]), np.array([1.2, 1.2]) * zoom
    crop = warp_crop(image, center, scale, rot, (256, 256))[..., 0].astype(np.float64)
    cy, cx = np.mgrid[0:256, 0:256]
    found = np.array([(crop * cx).sum(), (crop * cy).sum()]) / crop.sum()
    expected = affine_points(dot, get_affine_transform(center, scale, rot, (256, 256)))
    assert np.allclose(found, expected, atol=0.05)


@pytest.mark.parametrize("name", ["ap10k", "animalpose", "animalkingdom", "coco"])
def test_flip_twice_is_identity(name):
    info = DATASETS[name]
    kp = np.random.default_rng(1).uniform(0, 300, (info.num_keypoints, 3))
    once = flip_keypoints(kp, 320, info.flip_pairs)
    assert not np.allclose(once, kp)
    assert np.allclose(flip_keypoints(once, 320, info.flip_pairs), kp)


def test_flip_hand_case():
    kp = np.array([[10.0, 5.0, 2], [90.0, 7.0, 1], [50.0, 1.0, 2]])
    out = flip_keypoints(kp, 100, [(0, 1)])
    assert np.allclose(out, [[9.0, 7.0, 1], [89.0, 5.0, 2], [49.0, 1.0, 2]])


def test_half_body_uses_the_chosen_joints():
    kp = np.zeros((17, 3))
    kp[[4, 10, 11, 12, 13], :] = [[0, 0, 2], [10, 40, 2], [20, 20, 2], [30, 30, 2], [40, 40, 2]]
    info = DATASETS["ap10k"]  # only lower-body joints visible -> the lower set is chosen
    center, scale = half_body_box(kp, info.upper_body, info.lower_body, 1.0,
                                  np.random.default_rng(0))
    assert np.allclose(center, kp[[4, 10, 11, 12, 13], :2].mean(0))
    assert np.allclose(scale, [41 / 200 * 1.5] * 2)


def test_random_scale_rotation_bounds_and_determinism():
    def draws(seed):
        rng = np.random.default_rng(seed)
        return [random_scale_rotation(np.ones(2), rng, 0.5, 40.0) for _ in range(300)]

    a, b = draws(5), draws(5)
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b))
    scales = np.array([s[0] for s, _ in a])
    rots = np.array([r for _, r in a])
    assert scales.min() >= 0.5 and scales.max() <= 1.5 and np.abs(rots).max() <= 80
    assert 0.3 < np.mean(rots == 0.0) < 0.5  # rotation applied with probability 0.6
