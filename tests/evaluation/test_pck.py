"""PCK (Animal Kingdom protocol) on hand-computed cases."""
import numpy as np
import pytest

from kitpose.evaluation import AK_GROUPS, pck


def _one_instance(offsets, box=(10.0, 20.0, 100.0, 40.0), visible=None):
    gt = np.full((1, len(offsets), 2), 50.0)
    pred = gt + np.asarray(offsets, dtype=np.float64)[None]
    vis = np.ones((1, len(offsets))) if visible is None else np.asarray([visible])
    return pred, gt, vis, np.asarray([box])


def test_hand_case_longest_side_and_inclusive_threshold():
    # longest side 100 -> threshold 5 px; (3, 4) is exactly 5 px (a hit), (0, 6) is 6 px (a miss)
    result = pck(*_one_instance([(3.0, 4.0), (0.0, 6.0)]), thr=0.05)
    np.testing.assert_array_equal(result.per_joint, [1.0, 0.0])
    np.testing.assert_array_equal(result.counts, [1, 1])
    assert result.mean == 0.5
    assert result.groups == {}   # groups only for the 23 Animal Kingdom joints


def test_height_is_used_when_it_is_the_longest_side():
    # box 40 x 200 -> threshold 10 px at 0.05
    result = pck(*_one_instance([(6.0, 8.0), (0.0, 10.5)], box=(0, 0, 40, 200)))
    np.testing.assert_array_equal(result.per_joint, [1.0, 0.0])


def test_invisible_joints_are_not_scored():
    result = pck(*_one_instance([(0.0, 0.0), (90.0, 0.0), (0.0, 0.0)], visible=[1, 0, 2]))
    np.testing.assert_array_equal(result.counts, [1, 0, 1])
    assert result.mean == 1.0
    assert np.isnan(result.per_joint[1])


def test_plus_one_quirk():
    pred, gt, vis, box = _one_instance([(-1.0, -1.0), (-4.0, -4.0)])
    # box side 100: without the quirk, 1.41 px and 5.66 px; with +1 px, 0 px and 4.24 px
    assert pck(pred, gt, vis, box, thr=0.014).mean == 0.0
    assert pck(pred, gt, vis, box, thr=0.014, add_one=True).mean == 0.5
    assert pck(pred, gt, vis, box, thr=0.05, add_one=True).mean == 1.0


def test_mean_is_weighted_by_visible_counts():
    gt = np.zeros((3, 2, 2))
    pred = gt.copy()
    pred[:, 1] = 50.0                       # joint 1 always misses
    vis = np.array([[1, 1], [1, 0], [1, 0]])
    result = pck(pred, gt, vis, np.tile([0, 0, 100, 100], (3, 1)))
    np.testing.assert_array_equal(result.per_joint, [1.0, 0.0])
    assert result.mean == pytest.approx(3 / 4)   # not (1 + 0) / 2


def test_animal_kingdom_groups():
    offsets = np.full((23, 2), 30.0)        # every joint misses ...
    for joint in (0, 7, 3, 4, 20, 13):      # ... except these
        offsets[joint] = 0.0
    visible = np.ones(23)
    visible[8] = 0                          # Shoulder_Right unlabelled: the group uses the left one
    result = pck(*_one_instance(offsets, visible=visible))
    assert result.groups == {"Head": 1.0, "Shoulder": 1.0, "Elbow": 0.0, "Wrist": 0.0, "Hip": 0.0,
                             "Knee": 0.0, "Ankle": 0.0, "Mouth": 0.5, "Tail": pytest.approx(1 / 3)}
    assert result.mean == pytest.approx(6 / 22)
    assert list(result.table()) == list(AK_GROUPS) + ["Mean"]


def test_group_members_cover_the_named_joints():
    members = sorted(j for idx in AK_GROUPS.values() for j in idx)
    assert members == sorted(set(range(23)) - {1, 2, 13})   # eyes and torso: Mean only


@pytest.mark.parametrize("args,match", [
    ((np.zeros((2, 3, 2)), np.zeros((2, 4, 2)), np.ones((2, 3)), np.ones((2, 4))),
     r"pred and gt must both be \(N, K, 2\)"),
    ((np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), np.ones((2, 4)), np.ones((2, 4))),
     r"visible must be \(N, K\)=\(2, 3\)"),
    ((np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), np.ones((2, 3)), np.ones((3, 4))),
     r"boxes must be \(N, 4\)"),
    ((np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), np.ones((2, 3)),
      np.array([[0, 0, 5, 5], [0, 0, 0, 0]])),
     r"boxes\[1\] has no positive side"),
], ids=["gt-shape", "visible-shape", "box-count", "empty-box"])
def test_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        pck(*args)


def test_empty_box_without_visible_joints_is_fine():
    result = pck(np.zeros((2, 1, 2)), np.zeros((2, 1, 2)), np.array([[1], [0]]),
                 np.array([[0, 0, 5, 5], [0, 0, 0, 0]]))
    assert result.mean == 1.0
