"""OKS-based non-maximum suppression per image (spec 12.5, HRNet's `oks_nms` semantics).

With GT boxes this is nearly a no-op; with detector boxes it removes duplicate poses of one animal.
An instance is a mapping with "keypoints" ((K, 3) or flat 3K: x, y, maxval), "score", "area"
(crop area, `results.scale_areas`) and, for `oks_nms_per_image`, "image_id".
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

_EPS = np.spacing(1)


def oks_iou(ref: np.ndarray, others: np.ndarray, ref_area: float, other_areas: np.ndarray,
            sigmas: Sequence[float]) -> np.ndarray:
    """OKS of one pose against M others; all joints count (the HRNet validate path passes no
    visibility threshold), and the area is the mean of the two instances' areas.

    Args:
        ref: (K, 2+) reference pose. others: (M, K, 2+) poses.
        ref_area: area of ref; other_areas: (M,) areas.
        sigmas: (K,) OKS sigmas; variances are (2 sigma)^2.
    Returns:
        (M,) OKS values in [0, 1].
    """
    var = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2                   # (K,)
    d2 = np.sum((others[:, :, :2] - ref[None, :, :2]) ** 2, axis=2)          # (M, K)
    scale = (ref_area + np.asarray(other_areas, dtype=np.float64)) / 2 + _EPS  # (M,)
    e = d2 / var[None, :] / scale[:, None] / 2                               # (M, K)
    return np.mean(np.exp(-e), axis=1)


def _as_arrays(instances: Sequence[Mapping], sigmas: Sequence[float]):
    k = len(sigmas)
    try:
        kpts = np.stack([np.asarray(inst["keypoints"], dtype=np.float64).reshape(k, -1)
                         for inst in instances])                               # (N, K, 3)
        scores = np.array([float(inst["score"]) for inst in instances])       # (N,)
        areas = np.array([float(inst["area"]) for inst in instances])         # (N,)
    except KeyError as err:
        raise ValueError(f"oks_nms: every instance needs {err.args[0]!r} "
                         "(keypoints, score, area)") from err
    except ValueError as err:
        raise ValueError(f"oks_nms: keypoints must hold K={k} joints (one per sigma): "
                         f"{err}") from err
    if kpts.shape[2] < 2:
        raise ValueError(f"oks_nms: keypoints need x and y per joint; got shape {kpts.shape}")
    return kpts, scores, areas


def oks_nms(instances: Sequence[Mapping], sigmas: Sequence[float], thr: float = 0.9) -> list[int]:
    """Greedy OKS-NMS: keep the best-scoring pose, drop others whose OKS with it is > thr, repeat.

    Ties in score keep the lower index first (stable sort), so results are deterministic.

    Args:
        instances: N instance mappings (see module docstring) of one image.
        sigmas: (K,) dataset OKS sigmas.
        thr: OKS above which a pose is suppressed (OKS_THRE 0.9).
    Returns:
        Indices of kept instances, best score first.
    """
    if len(instances) == 0:
        return []
    kpts, scores, areas = _as_arrays(instances, sigmas)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size > 0:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        overlap = oks_iou(kpts[best], kpts[rest], areas[best], areas[rest], sigmas)  # (M,)
        order = rest[overlap <= thr]
    return keep


def oks_nms_per_image(instances: Sequence[Mapping], sigmas: Sequence[float],
                      thr: float = 0.9) -> list[Mapping]:
    """OKS-NMS within each image ("image_id" key); returns the kept instances in input order."""
    by_image: dict = {}
    for index, inst in enumerate(instances):
        if "image_id" not in inst:
            raise ValueError(f"oks_nms_per_image: instance [{index}] has no 'image_id'")
        by_image.setdefault(inst["image_id"], []).append(index)
    kept = []
    for indices in by_image.values():
        kept.extend(indices[i] for i in oks_nms([instances[j] for j in indices], sigmas, thr))
    return [instances[i] for i in sorted(kept)]
