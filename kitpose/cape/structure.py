"""The structure table (FMMP_SPEC.md section 4): for every keypoint, the nodes its miner samples around.

For a visible keypoint, a breadth-first search over the extended, undirected link graph lists up to
16 nodes, itself first; only visible nodes are listed (an invisible one has no place to sample,
[ours]), and the list is padded with the keypoint itself. An invisible keypoint lists only itself.
The first M = 8 columns are the table the network takes.
"""
from __future__ import annotations

from collections import deque

import numpy as np

BFS_NODES = 16
STRUCTURE_M = 8


def structure_table(links, visible, m: int = STRUCTURE_M) -> np.ndarray:
    """(K, m) int64 node indices.

    Args:
        links: undirected (i, j) pairs over the K keypoints (padded ones included).
        visible: (K,) bool.
        m: columns kept (<= 16).
    """
    visible = np.asarray(visible, bool)
    k = len(visible)
    neighbours: list[list[int]] = [[] for _ in range(k)]
    for i, j in links:
        neighbours[i].append(j)
        neighbours[j].append(i)
    table = np.repeat(np.arange(k)[:, None], m, axis=1)  # (K, m): itself everywhere
    for start in np.flatnonzero(visible):
        order = _bfs(neighbours, int(start), visible)[:min(m, BFS_NODES)]
        table[start, :len(order)] = order
    return table


def _bfs(neighbours: list[list[int]], start: int, visible: np.ndarray) -> list[int]:
    """Visible nodes reachable from start in breadth-first order (neighbours in ascending index)."""
    seen, order, queue = {start}, [], deque([start])
    while queue and len(order) < BFS_NODES:
        node = queue.popleft()
        if visible[node]:
            order.append(node)
        for nxt in sorted(neighbours[node]):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order
