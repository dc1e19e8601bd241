"""COCO-style OKS keypoint AP through pycocotools with per-dataset sigmas (spec 12.6, 12.8).

Plain pycocotools COCOeval with `params.kpt_oks_sigmas` replaced: category-aware matching, AP
averaged over categories with ground truth, maxDets 20, medium/large area ranges. This equals the
KITPose repo's patched pycocotools and MMPose/xtcocotools given the same sigmas. Any K works.
"""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from pycocotools.cocoeval import COCOeval

from kitpose.evaluation.coco_gt import EvaluationError, load_coco_gt
from kitpose.evaluation.results import check_results, load_results

_LOG = logging.getLogger(__name__)

# COCOeval.stats order for iouType "keypoints"; -1 means "no ground truth in that range".
STAT_NAMES = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")


def check_sigmas(sigmas: Sequence[float], num_keypoints: int, source: str) -> np.ndarray:
    """Sigmas as a (K,) float64 array, or a ValueError naming the mismatch."""
    array = np.asarray(sigmas, dtype=np.float64)
    if array.shape != (num_keypoints,):
        raise EvaluationError(f"sigmas: got shape {array.shape} but ground truth {source} has "
                         f"K={num_keypoints} keypoints; pass one OKS sigma per keypoint")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise EvaluationError(f"sigmas must be finite and > 0; got {array.tolist()}")
    return array


def evaluate_coco(gt: str | Path | Mapping, results: str | Path | list,
                  sigmas: Sequence[float], source: str | None = None) -> dict[str, float]:
    """OKS keypoint AP/AR of COCO results against a COCO-keypoints ground truth.

    Args:
        gt: ground-truth JSON path or dict (missing 'area'/'iscrowd'/'num_keypoints'/'info' are
            filled, with a log line each).
        results: result JSON path or list of result dicts (image_id, category_id, keypoints
            of length 3K, score). Result category ids must be the GT categories.
        sigmas: (K,) per-keypoint OKS sigmas of the dataset (not divided by 10 again).
        source: what error messages call a results list (the file it was read from).
    Returns:
        dict with AP, AP50, AP75, APM, APL, AR, AR50, AR75, ARM, ARL (fractions; -1 = undefined).
    """
    truth = load_coco_gt(gt)
    dets, source = load_results(results, source)
    check_results(dets, truth, source)
    sigma_array = check_sigmas(sigmas, truth.num_keypoints, truth.source)
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        coco_dt = truth.coco.loadRes(dets)
        evaluator = COCOeval(truth.coco, coco_dt, "keypoints")
        evaluator.params.kpt_oks_sigmas = sigma_array
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    _LOG.debug("pycocotools output:\n%s", log.getvalue())
    return {name: float(value) for name, value in zip(STAT_NAMES, evaluator.stats)}
