"""PCK for Animal Kingdom (spec 12.7): distance / longest box side <= thr, visible joints only.

The per-group table follows the Animal Kingdom evaluation code that KITPose inherits: each group
is the plain (unweighted) mean of its joints' PCK, and Mean is the visibility-count-weighted mean
over all K joints. One deviation: a group member with no visible GT is left out of the group mean
instead of turning the group into NaN (identical whenever every joint is visible somewhere).
Head is Head_Mid_Top alone; the eyes (1, 2) and Torso_Mid_Back (13) belong to no group and count
only in Mean.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Animal Kingdom keypoint order (spec 10.1): group -> joint indices.
AK_GROUPS = {
    "Head": (0,),                   # Head_Mid_Top
    "Shoulder": (7, 8),             # Shoulder_Left, Shoulder_Right
    "Elbow": (9, 10),
    "Wrist": (11, 12),
    "Hip": (14, 15),
    "Knee": (16, 17),
    "Ankle": (18, 19),
    "Mouth": (3, 4, 5, 6),          # Mouth_Front_Top, _Back_Left, _Back_Right, _Front_Bottom
    "Tail": (20, 21, 22),           # Tail_Top_Back, Tail_Mid_Back, Tail_End_Back
}
AK_NUM_KEYPOINTS = 23


@dataclass(frozen=True)
class PCKResult:
    """PCK as fractions in [0, 1]; NaN where a joint (or a group member) is never visible."""

    per_joint: np.ndarray                 # (K,) PCK of each joint
    counts: np.ndarray                    # (K,) number of visible ground-truth joints
    mean: float                           # hits / visible over all joints
    groups: dict = field(default_factory=dict)  # AK group -> PCK, filled when K == 23

    def table(self) -> dict[str, float]:
        """Groups then Mean, the layout of the paper's Animal Kingdom table."""
        return {**self.groups, "Mean": self.mean}


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, boxes: np.ndarray,
        thr: float = 0.05, add_one: bool = False) -> PCKResult:
    """Percentage of correct keypoints normalised by the longest side of each box.

    Args:
        pred: (N, K, 2) predicted x, y in image pixels.
        gt: (N, K, 2) ground-truth x, y.
        visible: (N, K) visibility; joints with visible > 0 are scored.
        boxes: (N, 4) ground-truth boxes x, y, w, h.
        thr: normalised distance threshold (0.05 for PCK@0.05); a hit is distance <= thr.
        add_one: add the official +1.0 px to the predictions (reproduces the AK/KITPose numbers).
    Returns:
        PCKResult; groups are filled when K == 23 (Animal Kingdom).
    """
    pred, gt, visible, boxes = _check_inputs(pred, gt, visible, boxes)
    if add_one:
        pred = pred + 1.0
    side = np.max(boxes[:, 2:4], axis=1)                                    # (N,)
    counts = visible.sum(axis=0)                                            # (K,)
    # Boxes without a positive side have no visible joints (checked), so their NaNs are masked.
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.linalg.norm(pred - gt, axis=2) / side[:, None]           # (N, K)
        hits = (dist <= thr) & visible                                      # (N, K)
        per_joint = hits.sum(axis=0) / counts                               # (K,)
    total = counts.sum()
    mean = float(hits.sum() / total) if total > 0 else float("nan")
    groups = _group_table(per_joint) if pred.shape[1] == AK_NUM_KEYPOINTS else {}
    return PCKResult(per_joint, counts, mean, groups)


def _group_table(per_joint: np.ndarray) -> dict[str, float]:
    """Mean PCK of each group's joints that have visible GT (NaN only if none has any)."""
    table = {}
    for name, idx in AK_GROUPS.items():
        values = per_joint[list(idx)]
        values = values[~np.isnan(values)]
        table[name] = float(values.mean()) if values.size else float("nan")
    return table


def _check_inputs(pred, gt, visible, boxes):
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    visible = np.asarray(visible) > 0
    boxes = np.asarray(boxes, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[2] != 2 or gt.shape != pred.shape:
        raise ValueError(f"pck: pred and gt must both be (N, K, 2); got {pred.shape} and "
                         f"{gt.shape}")
    if visible.shape != pred.shape[:2]:
        raise ValueError(f"pck: visible must be (N, K)={pred.shape[:2]}; got {visible.shape}")
    if boxes.shape != (pred.shape[0], 4):
        raise ValueError(f"pck: boxes must be (N, 4) x, y, w, h with N={pred.shape[0]}; "
                         f"got {boxes.shape}")
    side = np.max(boxes[:, 2:4], axis=1)
    bad = np.flatnonzero(~(side > 0) & visible.any(axis=1))
    if bad.size:
        size = tuple(boxes[bad[0], 2:])
        raise ValueError(f"pck: boxes[{bad[0]}] has no positive side (w, h)={size} but visible "
                         f"joints; {bad.size} boxes are affected")
    return pred, gt, visible, boxes
