"""COCO keypoint results: instance scores (spec 12.4), writing, reading and checking result files.

A result is one dict per instance: image_id, category_id (the GT category of the box it came
from), keypoints [x1, y1, s1, ..., xK, yK, sK] with s the heatmap maxval, and score. An optional
"ann_id" names the GT annotation whose box was used (top-down with GT boxes); pycocotools ignores
it, PCK uses it to pair predictions with ground truth.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kitpose.evaluation.coco_gt import EvaluationError, GroundTruth, read_json

PIXEL_STD = 200.0   # HRNet's box-scale unit: scale = box size / 200


def instance_scores(box_scores: np.ndarray, maxvals: np.ndarray, thr: float = 0.2) -> np.ndarray:
    """Instance score = box score x mean of the joint maxvals above thr (0 when none is).

    Args:
        box_scores: (N,) detector scores (1 for GT boxes).
        maxvals: (N, K) heatmap maxima per joint.
        thr: IN_VIS_THRE, 0.2 in every official config.
    Returns:
        (N,) float64 scores.
    """
    maxvals = np.asarray(maxvals, dtype=np.float64)
    box_scores = np.asarray(box_scores, dtype=np.float64)
    if maxvals.ndim != 2 or box_scores.shape != maxvals.shape[:1]:
        raise EvaluationError(f"instance_scores: need box_scores (N,) and maxvals (N, K); got "
                         f"{box_scores.shape} and {maxvals.shape}")
    above = maxvals > thr                                          # (N, K)
    count = above.sum(axis=1)                                      # (N,)
    total = np.where(above, maxvals, 0.0).sum(axis=1)              # (N,)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return box_scores * mean


def scale_areas(scales: np.ndarray) -> np.ndarray:
    """OKS-NMS area of each instance: the product of its crop size (scale * 200), spec 12.5.

    Args:
        scales: (N, 2) crop scales (s_w, s_h) in units of 200 px (after the 1.25 padding).
    Returns:
        (N,) areas in px^2.
    """
    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 2 or scales.shape[1] != 2:
        raise EvaluationError(f"scale_areas: scales must be (N, 2); got {scales.shape}")
    return np.prod(scales * PIXEL_STD, axis=1)


def to_coco_results(keypoints: np.ndarray, scores: np.ndarray, image_ids: Sequence,
                    category_ids: Sequence, ann_ids: Sequence | None = None) -> list[dict]:
    """COCO result dicts from decoded keypoints.

    Args:
        keypoints: (N, K, 3) image-space x, y and maxval.
        scores: (N,) instance scores.
        image_ids: N image ids.
        category_ids: N GT category ids (of the boxes the poses came from).
        ann_ids: N GT annotation ids, or None.
    Returns:
        N result dicts.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    n = keypoints.shape[0]
    if keypoints.ndim != 3 or keypoints.shape[2] != 3:
        raise EvaluationError(f"to_coco_results: keypoints must be (N, K, 3); got {keypoints.shape}")
    columns = {"scores": scores, "image_ids": image_ids, "category_ids": category_ids}
    if ann_ids is not None:
        columns["ann_ids"] = ann_ids
    for name, column in columns.items():
        if len(column) != n:
            raise EvaluationError(f"to_coco_results: {name} has {len(column)} entries for {n} instances")
    results = []
    for i in range(n):
        res = {"image_id": _plain(image_ids[i]), "category_id": _plain(category_ids[i]),
               "keypoints": [float(v) for v in keypoints[i].reshape(-1)],
               "score": float(scores[i])}
        if ann_ids is not None:
            res["ann_id"] = _plain(ann_ids[i])
        results.append(res)
    return results


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so ids compare equal to the JSON's ints and serialise."""
    return value.item() if isinstance(value, np.generic) else value


def write_results(results: list[dict], path: str | Path) -> Path:
    """Write result dicts as a JSON list; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f)
    return path


def load_results(results: str | Path | list, source: str | None = None) -> tuple[list[dict], str]:
    """Result dicts from a JSON file or a list (deep-copied: pycocotools edits them in place).

    Args:
        results: a results JSON file or the list read from one.
        source: what error messages call a list (e.g. the file it came from); default "<list>".
    Returns:
        (results, source) where source names the file or the list for error messages.
    """
    if isinstance(results, (str, Path)):
        data, source = read_json(results, "results"), str(results)
    else:
        data, source = copy.deepcopy(results), source or "<list>"
    if not isinstance(data, list):
        raise EvaluationError(f"results {source}: expected a JSON list of result objects; "
                         f"got {type(data).__name__}")
    if not data:
        raise EvaluationError(f"results {source}: the list is empty; nothing to evaluate")
    for i, res in enumerate(data):
        if not isinstance(res, dict):
            raise EvaluationError(f"results {source}: entry [{i}] is a {type(res).__name__}, "
                             "not an object")
    return data, source


def check_results(results: list[dict], truth: GroundTruth, source: str,
                  check_categories: bool = True) -> None:
    """Raise a ValueError naming the entry and field of the first bad result (and how many are bad).

    check_categories=False skips the category_id test (PCK ignores categories).
    """
    image_ids = set(truth.coco.getImgIds())
    category_ids = set(truth.coco.getCatIds())
    length = 3 * truth.num_keypoints
    checks = (
        ("image_id", lambda r: _is_member(r["image_id"], image_ids),
         f"is not an image id of the ground truth {truth.source} (check the id type too)"),
        ("category_id", lambda r: _is_member(r["category_id"], category_ids),
         f"is not a category id of the ground truth {truth.source}; write the GT box's category"),
        ("keypoints", lambda r: _is_number_list(r["keypoints"], length),
         f"must be a list of {length} finite numbers (K={truth.num_keypoints} x [x, y, score])"),
        ("score", lambda r: _is_number(r["score"]), "must be a finite number"),
    )
    if not check_categories:
        checks = tuple(c for c in checks if c[0] != "category_id")
    for field, ok, what in checks:
        missing = [i for i, r in enumerate(results) if field not in r]
        if missing:
            raise EvaluationError(f"results {source}: {len(missing)} entries have no '{field}', "
                             f"first [{missing[0]}]")
        bad = [i for i, r in enumerate(results) if not ok(r)]
        if bad:
            value = results[bad[0]][field]
            shown = f"a list of {len(value)} values" if isinstance(value, list) else repr(value)
            raise EvaluationError(f"results {source}: [{bad[0]}].{field} ({shown}) {what}; "
                             f"{len(bad)} of {len(results)} entries are affected")


def _is_member(value: Any, ids: set) -> bool:
    try:
        return value in ids
    except TypeError:   # unhashable, e.g. a list where an id belongs
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_number_list(value: Any, length: int) -> bool:
    return isinstance(value, list) and len(value) == length and all(map(_is_number, value))
