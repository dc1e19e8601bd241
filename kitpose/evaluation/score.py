"""Score a COCO results file against annotations with the dataset's metric (backs `kitpose eval`).

AP-10K, AnimalPose and COCO use OKS AP with the dataset sigmas; Animal Kingdom uses PCK@0.05 of
the longest box side (spec 12.6-12.8). Animal Kingdom boxes and joints are read from the
COCO-format annotation file (the official MPII-style `annot/test.json` is not read).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kitpose.evaluation.coco_eval import evaluate_coco
from kitpose.evaluation.coco_gt import EvaluationError, GroundTruth, load_coco_gt
from kitpose.evaluation.pck import pck
from kitpose.evaluation.results import check_results, load_results

METRICS = {"ap10k": "oks_ap", "animalpose": "oks_ap", "coco": "oks_ap", "animalkingdom": "pck"}


def score_results_file(annotations: str | Path, predictions: str | Path, dataset: str,
                       json_out: str | Path | None = None, sigmas: Sequence[float] | None = None,
                       pck_thr: float = 0.05, ak_plus_one: bool = False) -> dict[str, Any]:
    """Evaluate a results JSON and optionally write the metrics JSON.

    Args:
        annotations: COCO-keypoints ground-truth JSON.
        predictions: COCO results JSON (for PCK, each result may carry "ann_id").
        dataset: "ap10k", "animalpose", "coco" (OKS AP) or "animalkingdom" (PCK); another name
            is scored with OKS AP when `sigmas` is given.
        json_out: where to write the report, or None.
        sigmas: (K,) OKS sigmas overriding the dataset's (kitpose.data.metadata.DATASETS).
        pck_thr: PCK threshold; ak_plus_one: add the official +1 px to AK predictions.
    Returns:
        Report dict: dataset, metric, file names, num_predictions, metrics (and PCK details).
    """
    metric = METRICS.get(dataset, "oks_ap" if sigmas is not None else None)
    if metric is None:
        raise EvaluationError(f"unknown dataset {dataset!r}: choose one of {sorted(METRICS)} or pass "
                         "sigmas to score another COCO-keypoints dataset with OKS AP")
    preds, source = load_results(predictions)
    report = {"dataset": dataset, "metric": metric, "annotations": str(annotations),
              "predictions": str(predictions), "num_predictions": len(preds)}
    if metric == "oks_ap":
        sigma_values = sigmas if sigmas is not None else dataset_sigmas(dataset)
        report["metrics"] = evaluate_coco(annotations, preds, sigma_values, source)
    else:
        report.update(_pck_report(annotations, preds, source, pck_thr, ak_plus_one))
    if json_out is not None:
        write_json(report, json_out)
    return report


def dataset_sigmas(dataset: str) -> np.ndarray:
    """OKS sigmas of a named dataset from kitpose.data.metadata (imported only when needed)."""
    from kitpose.data.metadata import DATASETS
    if dataset not in DATASETS:
        raise EvaluationError(f"no metadata for dataset {dataset!r} in kitpose.data.metadata.DATASETS "
                         f"({sorted(DATASETS)}); pass sigmas explicitly")
    return np.asarray(DATASETS[dataset].sigmas, dtype=np.float64)


def _pck_report(annotations, preds: list[dict], source: str, thr: float, plus_one: bool) -> dict:
    truth = load_coco_gt(annotations, check_categories=False)
    check_results(preds, truth, source, check_categories=False)
    anns = truth.coco.dataset["annotations"]
    paired = _pair_predictions(truth, preds, source)
    k = truth.num_keypoints
    gt = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, k, 3)
    pred = np.array([p["keypoints"] for p in paired], dtype=np.float64).reshape(-1, k, 3)
    boxes = np.array([a["bbox"] for a in anns], dtype=np.float64)
    result = pck(pred[..., :2], gt[..., :2], gt[..., 2] > 0, boxes, thr, add_one=plus_one)
    return {"metrics": {"PCK": result.mean, **result.groups},
            "per_joint": result.per_joint.tolist(), "counts": result.counts.tolist(),
            "pck_thr": thr, "plus_one": plus_one}


def _pair_predictions(truth: GroundTruth, preds: list[dict], source: str) -> list[dict]:
    """One prediction per GT annotation, by "ann_id" or, without it, one instance per image."""
    anns = truth.coco.dataset["annotations"]
    if all("ann_id" in p for p in preds):
        by_ann = _unique_index(preds, "ann_id", source)
        missing = [a["id"] for a in anns if a["id"] not in by_ann]
        if missing:
            raise EvaluationError(f"results {source}: no prediction with ann_id={missing[0]!r} "
                             f"({len(missing)} GT annotations have none)")
        return [by_ann[a["id"]] for a in anns]
    per_image = {}
    for ann in anns:
        per_image[ann["image_id"]] = per_image.get(ann["image_id"], 0) + 1
    crowded = [img for img, n in per_image.items() if n > 1]
    if crowded:
        raise EvaluationError(f"results {source}: image {crowded[0]!r} has {per_image[crowded[0]]} GT "
                         "instances; give each result an 'ann_id' (the GT annotation id) for PCK")
    by_image = _unique_index(preds, "image_id", source)
    missing = [a["image_id"] for a in anns if a["image_id"] not in by_image]
    if missing:
        raise EvaluationError(f"results {source}: no prediction for image_id={missing[0]!r} "
                         f"({len(missing)} GT instances have none)")
    return [by_image[a["image_id"]] for a in anns]


def _unique_index(preds: list[dict], key: str, source: str) -> dict:
    index = {}
    for i, p in enumerate(preds):
        if p[key] in index:
            raise EvaluationError(f"results {source}: [{i}].{key}={p[key]!r} appears twice; PCK needs "
                             "exactly one prediction per GT instance")
        index[p[key]] = p
    return index


def write_json(report: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(_finite(report), f, indent=2)


def _finite(value: Any) -> Any:
    """NaN -> None recursively, so the report is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
