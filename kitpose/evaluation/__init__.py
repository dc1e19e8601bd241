"""Evaluation: COCO OKS AP (pycocotools, dataset sigmas), Animal Kingdom PCK, OKS-NMS, results I/O.

Torch-free: numpy and pycocotools only.
"""
from kitpose.evaluation.coco_eval import STAT_NAMES, evaluate_coco
from kitpose.evaluation.coco_gt import GroundTruth, load_coco_gt
from kitpose.evaluation.nms import oks_iou, oks_nms, oks_nms_per_image
from kitpose.evaluation.pck import AK_GROUPS, PCKResult, pck
from kitpose.evaluation.results import (check_results, instance_scores, load_results, scale_areas,
                                        to_coco_results, write_results)
from kitpose.evaluation.score import score_results_file

__all__ = [
    "AK_GROUPS", "GroundTruth", "PCKResult", "STAT_NAMES", "check_results", "evaluate_coco",
    "instance_scores", "load_coco_gt", "load_results", "oks_iou", "oks_nms", "oks_nms_per_image",
    "pck", "scale_areas", "score_results_file", "to_coco_results", "write_results",
]
