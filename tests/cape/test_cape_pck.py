"""PCK@t for CAPE on hand-computed pairs."""
import numpy as np
import pytest

from kitpose.cape.pck import pair_pck, pck, pck_table

GT = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 0.0]])
PRED = GT + np.array([[1.0, 0.0], [2.0, 0.0], [20.0, 0.0], [0.0, 0.0]])  # errors 1, 2, 20, 0 px
BOX = (100.0, 40.0)  # normalised by the longer side: 100


def test_counts_only_where_query_and_every_shot_see_the_keypoint():
    q = np.array([True, True, True, False])
    shots = np.array([[True, True, True, True], [True, False, True, True]])
    # counted: 0 and 2 (1 hidden in a shot, 3 hidden in the query); distances 0.01 and 0.2
    assert pair_pck(PRED, GT, q, shots, BOX, 0.2) == 0.5  # 0.2 is not < 0.2: strict
    assert pair_pck(PRED, GT, q, shots, BOX, 0.21) == 1.0
    assert pair_pck(PRED, GT, q, shots, BOX, 0.01) == 0.0  # 0.01 is not < 0.01


def test_a_pair_with_nothing_counted_scores_zero_and_the_mean_is_over_pairs():
    none = (PRED, GT, np.zeros(4, bool), np.ones((1, 4), bool), BOX)
    full = (PRED, GT, np.ones(4, bool), np.ones((1, 4), bool), BOX)  # 0.01, 0.02, 0.2, 0 vs 0.05: 3/4
    assert pck([none, full], 0.05) == pytest.approx(0.375)
    table = pck_table([full])
    assert table["PCK@0.05"] == 0.75 and table["PCK@0.2"] == 0.75 and table["PCK@0.1"] == 0.75
    assert table["mPCK"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="no \\(support, query\\) pairs"):
        pck([])
