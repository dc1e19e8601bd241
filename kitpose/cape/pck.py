"""PCK@t for CAPE (FMMP_SPEC.md, "The metric") and mPCK over t in {0.05, 0.1, 0.15, 0.2}.

Per (support, query) pair: a keypoint counts only when visible in the query and in every support
shot; the pair's score is the fraction of counted keypoints with ||pred - gt|| / max(box w, box h)
strictly below t, and a pair with nothing to count scores 0. The result is the mean over pairs.
"""
from __future__ import annotations

import numpy as np

MPCK_THRESHOLDS = (0.05, 0.1, 0.15, 0.2)


def pair_pck(pred, gt, query_visible, support_visible, box_wh, threshold: float) -> float:
    """PCK of one pair.

    Args:
        pred, gt: (K, 2) image coordinates of the query.
        query_visible: (K,) bool.
        support_visible: (S, K) bool, every shot of the pair.
        box_wh: (w, h) of the query's box.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    counted = np.asarray(query_visible, bool) & np.asarray(support_visible, bool).reshape(-1, len(gt)).all(0)
    if not counted.any():
        return 0.0
    scale = float(max(box_wh[0], box_wh[1]))
    if scale <= 0:
        raise ValueError(f"pair_pck: the query box {tuple(box_wh)} has no size")
    dist = np.linalg.norm(pred[counted] - gt[counted], axis=1) / scale
    return float(np.mean(dist < threshold))


def pck(pairs, threshold: float = 0.2) -> float:
    """Mean pair PCK. `pairs`: iterable of (pred, gt, query_visible, support_visible, box_wh)."""
    scores = [pair_pck(*pair, threshold) for pair in pairs]
    if not scores:
        raise ValueError("pck: no (support, query) pairs to score")
    return float(np.mean(scores))


def pck_table(pairs) -> dict[str, float]:
    """{"PCK@0.05": .., "PCK@0.1": .., "PCK@0.15": .., "PCK@0.2": .., "mPCK": ..}."""
    pairs = list(pairs)
    table = {f"PCK@{t:g}": pck(pairs, t) for t in MPCK_THRESHOLDS}
    table["mPCK"] = float(np.mean(list(table.values())))
    return table
