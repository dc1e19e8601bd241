"""Keypoint padding to 70: both modes, visibility of new points, chains, and the edge cases."""
import numpy as np
import pytest

from kitpose.cape.padding import PADDED_K, equal_padding, mixup_padding

# a 4-keypoint chain 0-1-2 and a lone keypoint 3 (on no edge); two point sets (a shot and a query)
PTS = np.array([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]],
                [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.4, 0.4]]], np.float32)
VIS = np.array([[True, True, True, True], [True, False, True, True]])
SKELETON = [[0, 1], [1, 2]]


def test_equal_division_spaces_points_evenly_on_every_edge():
    padded = equal_padding(PTS, VIS, SKELETON)
    per_edge = (PADDED_K - 4) // 2  # 33
    assert padded.points.shape == (2, 70, 2) and padded.real.sum() == 4 and padded.real[:4].all()
    np.testing.assert_array_equal(padded.points[:, :4], PTS)  # real keypoints unchanged, first
    first = padded.points[0, 4:4 + per_edge]  # edge 0 -> 1 in the first set: x = k / 34, y = 0
    np.testing.assert_allclose(first[:, 0], np.arange(1, per_edge + 1) / (per_edge + 1), atol=1e-6)
    np.testing.assert_allclose(first[:, 1], 0.0)
    # visible only where both ends are: keypoint 1 is hidden in the second set
    assert padded.visible[0, 4:4 + 2 * per_edge].all() and not padded.visible[1, 4:4 + 2 * per_edge].any()
    assert not padded.visible[:, 4 + 2 * per_edge:].any() and (padded.points[:, 4 + 2 * per_edge:] == 0).all()
    links = set(padded.links)
    assert {(0, 1), (1, 2)} <= links and (0, 4) in links and (4 + per_edge - 1, 1) in links


def test_mixup_padding_draws_one_padding_for_every_set():
    padded = mixup_padding(PTS, VIS, SKELETON, np.random.default_rng(0))
    new = padded.points[:, 4:]  # (2, 66, 2): every new point lies on edge 0-1 or 1-2 of its own set
    on_first = np.isclose(new[0, :, 1], 0.0) & (new[0, :, 0] <= 1.0)
    on_second = np.isclose(new[0, :, 0], 1.0)
    assert (on_first | on_second).all() and on_first.any() and on_second.any()
    # the same edge and lambda in both sets: the second set's point is the same mix of its own ends
    lam = 1.0 - new[0, on_first, 0]
    np.testing.assert_allclose(new[1, on_first, 0], lam * 0.2 + (1 - lam) * 0.8, atol=1e-6)
    again = mixup_padding(PTS, VIS, SKELETON, np.random.default_rng(0))
    np.testing.assert_array_equal(again.points, padded.points)


def test_a_class_without_edges_pads_with_invisible_points():
    for padded in (equal_padding(PTS, VIS, []), mixup_padding(PTS, VIS, [], np.random.default_rng(1))):
        np.testing.assert_array_equal(padded.points[:, :4], PTS)
        assert not padded.visible[:, 4:].any() and padded.links == ()


def test_seventy_keypoints_need_no_padding_and_more_are_refused():
    pts, vis = np.zeros((1, 70, 2)), np.ones((1, 70), bool)
    assert equal_padding(pts, vis, [[0, 1]]).visible.all()
    assert mixup_padding(pts, vis, [[0, 1]], np.random.default_rng(0)).visible.all()
    with pytest.raises(ValueError, match="1 to 70 keypoints"):
        equal_padding(np.zeros((1, 71, 2)), np.ones((1, 71), bool), [])


def test_skeleton_index_out_of_range_is_named():
    with pytest.raises(ValueError, match=r"skeleton\[1\] = \[1, 4\]: index out of range for 4 keypoints"):
        equal_padding(PTS, VIS, [[0, 1], [1, 4]])
