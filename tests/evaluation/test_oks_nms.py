"""OKS-NMS and OKS on hand-computed cases (spec 12.5)."""
import math

import numpy as np
import pytest

from kitpose.evaluation import oks_iou, oks_nms, oks_nms_per_image

SIGMAS = [0.5, 0.5]   # variance (2 sigma)^2 = 1 makes the hand arithmetic easy


def _inst(x0, score, area=100.0, image_id=1, flat=False):
    kpts = np.array([[x0, 0.0, 0.9], [0.0, 10.0, 0.9]])
    return {"keypoints": kpts.reshape(-1).tolist() if flat else kpts, "score": score,
            "area": area, "image_id": image_id}


@pytest.mark.parametrize("shift,expected", [
    (0.0, 1.0),
    (10.0, (math.exp(-0.5) + 1) / 2),   # e = 10^2 / 1 / 100 / 2 = 0.5 on joint 0 only
    (2.0, (math.exp(-0.02) + 1) / 2),
], ids=["same", "shift10", "shift2"])
def test_oks_hand_values(shift, expected):
    ref = _inst(0.0, 1.0)["keypoints"]
    other = _inst(shift, 1.0)["keypoints"][None]
    assert oks_iou(ref, other, 100.0, np.array([100.0]), SIGMAS)[0] == pytest.approx(expected)


def test_oks_uses_mean_area():
    ref, other = _inst(0.0, 1)["keypoints"], _inst(10.0, 1)["keypoints"][None]
    # areas 50 and 150 average to 100: same as the equal-area case
    got = oks_iou(ref, other, 50.0, np.array([150.0]), SIGMAS)[0]
    assert got == pytest.approx((math.exp(-0.5) + 1) / 2)


def test_near_identical_instances_keep_the_better_one():
    assert oks_nms([_inst(0.0, 0.6), _inst(2.0, 0.8)], SIGMAS) == [1]


def test_far_apart_instances_are_both_kept():
    assert oks_nms([_inst(0.0, 0.6), _inst(10.0, 0.8)], SIGMAS) == [1, 0]   # OKS 0.80 <= 0.9


def test_threshold_is_a_strict_greater_than():
    oks = (math.exp(-0.5) + 1) / 2
    assert oks_nms([_inst(0.0, 0.9), _inst(10.0, 0.8)], SIGMAS, thr=oks) == [0, 1]
    assert oks_nms([_inst(0.0, 0.9), _inst(10.0, 0.8)], SIGMAS, thr=oks - 1e-9) == [0]


def test_chain_suppression_is_greedy():
    # 0 suppresses 1 (2 px, OKS 0.99); 2 is 12 px from 0, OKS (e^-0.72 + 1) / 2 = 0.74: kept.
    keep = oks_nms([_inst(0.0, 0.9), _inst(2.0, 0.8), _inst(12.0, 0.7)], SIGMAS)
    assert keep == [0, 2]


def test_ties_keep_the_lower_index_and_flat_keypoints_work():
    assert oks_nms([_inst(0.0, 0.5, flat=True), _inst(0.0, 0.5, flat=True)], SIGMAS) == [0]


def test_per_image_grouping():
    instances = [_inst(0.0, 0.6, image_id=1), _inst(0.0, 0.7, image_id=2),
                 _inst(1.0, 0.9, image_id=1), _inst(40.0, 0.1, image_id=2)]
    kept = oks_nms_per_image(instances, SIGMAS)
    assert kept == [instances[1], instances[2], instances[3]]


def test_empty_and_bad_inputs():
    assert oks_nms([], SIGMAS) == []
    with pytest.raises(ValueError, match="needs 'area'"):
        oks_nms([{"keypoints": np.zeros((2, 3)), "score": 1.0}], SIGMAS)
    with pytest.raises(ValueError, match="K=2 joints"):
        oks_nms([{"keypoints": np.zeros(7), "score": 1.0, "area": 1.0}], SIGMAS)
    with pytest.raises(ValueError, match=r"instance \[0\] has no 'image_id'"):
        oks_nms_per_image([{"keypoints": np.zeros((2, 3)), "score": 1.0, "area": 1.0}], SIGMAS)
