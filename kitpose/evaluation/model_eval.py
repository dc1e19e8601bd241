"""`kitpose eval --model M`: run a model on a COCO keypoints set and score it.

Crops come from the ground-truth boxes (no augmentation), heatmaps are averaged with the flipped
pass when `flip_test`, decoded with DARK, optionally thinned with OKS-NMS, written as a COCO results
JSON, and scored by the same code that scores any results file (`score_results_file`), so a model
run and a re-score of its results file give the same numbers.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn


def predict_results(model: nn.Module, annotations: str | Path, images: str | Path,
                    dataset: str = "ap10k", flip_test: bool = True, batch_size: int = 32,
                    oks_nms_thr: float | None = None, sigmas=None) -> list[dict[str, Any]]:
    """COCO results (one per ground-truth instance, or fewer after OKS-NMS) of `model` on a set
    (`sigmas`: a custom dataset's OKS sigmas, see kitpose.data.metadata.dataset_info)."""
    from kitpose.evaluation.nms import oks_nms_per_image
    from kitpose.export.eval_run import load_eval_set
    from kitpose.train.validate import predict

    data = load_eval_set(annotations, images, model, dataset, sigmas)
    results = predict(model, data, batch_size, torch.device("cpu"), flip_test)
    if oks_nms_thr is None:
        return results
    areas = {a["id"]: float(a.get("area") or a["bbox"][2] * a["bbox"][3])
             for a in data.raw.get("annotations", [])}
    with_area = [{**r, "area": areas[r["ann_id"]]} for r in results]
    kept = oks_nms_per_image(with_area, data.info.sigmas, oks_nms_thr)
    return [{k: v for k, v in r.items() if k != "area"} for r in kept]


def evaluate_model(model: nn.Module, annotations: str | Path, images: str | Path,
                   dataset: str = "ap10k", flip_test: bool = True, batch_size: int = 32,
                   oks_nms_thr: float | None = None, results_out: str | Path | None = None,
                   json_out: str | Path | None = None, sigmas=None) -> dict[str, Any]:
    """Run, write the results JSON (a temp file when `results_out` is None), score it.

    Returns:
        The score_results_file report plus "results" (its path or None) and "flip_test".
    """
    from kitpose.evaluation.score import score_results_file, write_json

    results = predict_results(model, annotations, images, dataset, flip_test, batch_size, oks_nms_thr,
                              sigmas)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(results_out) if results_out is not None else Path(scratch) / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results))
        report = score_results_file(annotations, path, dataset, sigmas=sigmas)
    report.update(results=str(results_out) if results_out is not None else None, flip_test=flip_test,
                  oks_nms_thr=oks_nms_thr)
    if json_out is not None:
        write_json(report, json_out)
    return report
