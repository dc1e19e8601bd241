"""The BFS structure table on hand-drawn graphs."""
import numpy as np

from kitpose.cape.structure import structure_table


def test_bfs_order_visibility_and_self_padding():
    # 0 - 1 - 2 - 3, and 1 - 4; node 2 invisible; node 5 isolated
    links = [(0, 1), (1, 2), (2, 3), (1, 4)]
    visible = np.array([True, True, False, True, True, True])
    table = structure_table(links, visible, m=4)
    assert table.shape == (6, 4) and table.dtype == np.int64
    assert table[0].tolist() == [0, 1, 4, 3]   # BFS 0, 1, (2 hidden: walked through), 4, 3
    assert table[1].tolist() == [1, 0, 4, 3]
    assert table[2].tolist() == [2, 2, 2, 2]   # invisible: only itself
    assert table[3].tolist() == [3, 1, 0, 4]   # through the hidden 2
    assert table[5].tolist() == [5, 5, 5, 5]   # no links: itself, padded with itself


def test_eight_columns_by_default():
    chain = [(i, i + 1) for i in range(19)]
    table = structure_table(chain, np.ones(20, bool))
    assert table.shape == (20, 8) and table[10].tolist() == [10, 9, 11, 8, 12, 7, 13, 6]
