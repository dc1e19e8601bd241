"""Keypoint padding to a fixed K = 70 (FMMP_SPEC.md section 3), for every shot and the query at once.

Training uses *mixup padding* (new points at random places on randomly drawn skeleton edges), test
uses *equal division* (evenly spaced points on every edge). Either way the real keypoints come
first, unchanged, and each new point is visible only where both ends of its edge are. A class with
no skeleton edges is padded with invisible points; a keypoint on no edge is simply kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PADDED_K = 70


@dataclass(frozen=True)
class Padded:
    """Padded point sets of one episode (N = shots + queries sharing one padding)."""

    points: np.ndarray    # (N, 70, 2) float32, normalised xy; padding rows past the new points are 0
    visible: np.ndarray   # (N, 70) bool
    real: np.ndarray      # (70,) bool: the first K_c rows are the class's own keypoints
    links: tuple[tuple[int, int], ...]  # extended undirected links: original edges + chains through new points


def check_class(num_keypoints: int, skeleton) -> tuple[tuple[int, int], ...]:
    """The skeleton as int pairs, after checking K_c and every index; raises ValueError naming them."""
    if not 1 <= num_keypoints <= PADDED_K:
        raise ValueError(f"a class needs 1 to {PADDED_K} keypoints (FMMP pads to {PADDED_K}), got {num_keypoints}")
    edges = []
    for n, edge in enumerate(skeleton):
        if len(edge) != 2:
            raise ValueError(f"skeleton[{n}] = {list(edge)}: a link is a pair of keypoint indices")
        i, j = int(edge[0]), int(edge[1])
        if not (0 <= i < num_keypoints and 0 <= j < num_keypoints):
            raise ValueError(f"skeleton[{n}] = [{i}, {j}]: index out of range for {num_keypoints} keypoints "
                             f"(0-indexed)")
        if i != j:
            edges.append((i, j))
    return tuple(edges)


def _check_points(points: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points, np.float32)
    visible = np.asarray(visible, bool)
    if points.ndim != 3 or points.shape[2] != 2 or visible.shape != points.shape[:2]:
        raise ValueError(f"points must be (N, K, 2) and visible (N, K), got {points.shape} and {visible.shape}")
    return points, visible


def _assemble(points, visible, edges, new_edges: np.ndarray, lam: np.ndarray) -> Padded:
    """Points at lam along each of new_edges (lam = weight of the edge's first end), then zeros."""
    n, k, _ = points.shape
    out = np.zeros((n, PADDED_K, 2), np.float32)
    vis = np.zeros((n, PADDED_K), bool)
    out[:, :k], vis[:, :k] = points, visible
    links = list(edges)
    for e in range(len(edges)):
        # this edge's new points, ordered from its first end to its second, chained i -> ... -> j
        rows = np.flatnonzero(new_edges == e)
        rows = rows[np.argsort(-lam[rows], kind="stable")]
        i, j = edges[e]
        chain = [i, *(k + r for r in rows), j]
        if len(rows):
            links += list(zip(chain[:-1], chain[1:]))
        for r in rows:
            out[:, k + r] = lam[r] * points[:, i] + (1.0 - lam[r]) * points[:, j]
            vis[:, k + r] = visible[:, i] & visible[:, j]
    real = np.zeros(PADDED_K, bool)
    real[:k] = True
    return Padded(out, vis, real, tuple(links))


def mixup_padding(points, visible, skeleton, rng: np.random.Generator) -> Padded:
    """Training padding: 70 - K_c edges drawn uniformly with replacement, lam ~ U(0, 1) each.

    Args:
        points: (N, K_c, 2) normalised keypoints of every shot and the query (one draw serves all).
        visible: (N, K_c) bool.
        skeleton: the class's links, 0-indexed pairs.
        rng: the episode's generator.
    """
    points, visible = _check_points(points, visible)
    edges = check_class(points.shape[1], skeleton)
    extra = PADDED_K - points.shape[1]
    if not edges or extra == 0:
        return _assemble(points, visible, edges, np.zeros(0, int), np.zeros(0))
    new_edges = rng.integers(0, len(edges), extra)
    return _assemble(points, visible, edges, new_edges, rng.uniform(0.0, 1.0, extra))


def equal_padding(points, visible, skeleton) -> Padded:
    """Test padding: floor((70 - K_c) / #edges) evenly spaced points on every edge, the rest zero."""
    points, visible = _check_points(points, visible)
    edges = check_class(points.shape[1], skeleton)
    per_edge = (PADDED_K - points.shape[1]) // len(edges) if edges else 0
    new_edges = np.repeat(np.arange(len(edges)), per_edge)
    step = np.tile(np.arange(1, per_edge + 1), len(edges))
    return _assemble(points, visible, edges, new_edges, 1.0 - step / (per_edge + 1.0))
