"""One backend over the evaluation set: the same crops, flip test, DARK decode and OKS AP as
validation (`kitpose.train.validate.predict`), so only the forward pass differs between backends.

The reference is the PyTorch model itself; every exported file runs through the runtime's own
runners (`kitpose.runtime.runners.open_runner`), wrapped by `runner_forward` to the model's call
convention.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from kitpose.config import ASSIGN_NAME, HEATMAPS_NAME
from kitpose.export.files import ExportFileError, require_file
from kitpose.models.output import PoseOutput
from kitpose.runtime.base import RunnerBase


@dataclass
class BackendRun:
    """What one backend produced on the evaluation set."""

    results: list[dict]             # COCO results, one per instance
    heatmaps: np.ndarray            # (N, K, H, W) every forward pass (flip passes included)
    assign: np.ndarray | None       # (N, K) or None for non-clustering models
    ap: float                       # points


def runner_forward(runner: RunnerBase) -> Callable[[Tensor], PoseOutput]:
    """A runtime Runner with the PyTorch model's call convention: images -> PoseOutput.

    Args:
        runner: OrtRunner or TrtRunner (its `outputs` gives heatmaps and, for clustering models,
            assign).
    Returns:
        images (B, 3, h, w) -> PoseOutput(heatmaps (B, K, H, W) float32, assign (B, K) or None).
    """
    def forward(images: Tensor) -> PoseOutput:
        out = runner.outputs(images.float().cpu().numpy())
        assign = out.get(ASSIGN_NAME)
        return PoseOutput(torch.from_numpy(out[HEATMAPS_NAME]),
                          assign=None if assign is None else torch.from_numpy(assign))

    return forward


class _Recorder(nn.Module):
    """Wraps a forward callable for `predict` and keeps every output it returns."""

    def __init__(self, forward: Callable[[Tensor], PoseOutput]):
        super().__init__()
        self.fn, self.heatmaps, self.assign = forward, [], []
        self.eval()  # predict() restores this flag afterwards; eval keeps a wrapped model in eval

    def forward(self, images: Tensor) -> PoseOutput:
        out = self.fn(images)
        self.heatmaps.append(out.heatmaps.detach().float().cpu().numpy())  # (B, K, H, W)
        if out.assign is not None:
            self.assign.append(out.assign.detach().cpu().numpy())          # (B, K)
        return out


def run_backend(forward: Callable[[Tensor], PoseOutput], dataset: Any, batch_size: int = 32,
                flip_test: bool = True) -> BackendRun:
    """Predict and score the dataset with one forward callable (a model or `runner_forward`).

    Args:
        forward: images (B, 3, h, w) -> PoseOutput.
        dataset: TopDownDataset with train=False.
        batch_size: crops per forward pass.
        flip_test: average with the mirrored pass, as validation does.
    Returns:
        BackendRun with results, raw outputs and AP in points.
    """
    from kitpose.evaluation.coco_eval import evaluate_coco
    from kitpose.train.validate import predict

    recorder = _Recorder(forward)
    results = predict(recorder, dataset, batch_size, torch.device("cpu"), flip_test)
    metrics = evaluate_coco(dataset.raw, results, dataset.info.sigmas)
    assign = np.concatenate(recorder.assign) if recorder.assign else None
    return BackendRun(results, np.concatenate(recorder.heatmaps), assign, 100.0 * metrics["AP"])


def load_eval_set(annotations: str | Path, images: str | Path, model: nn.Module,
                  dataset: str = "ap10k", sigmas=None) -> Any:
    """Validation crops (GT boxes, no augmentation) at the model's input and heatmap size.

    Args:
        annotations: COCO keypoints JSON.
        images: folder its file_name entries are relative to.
        model: the reference model (its config.input_size and heatmap output size are used).
        dataset: kitpose.data.metadata.DATASETS key (keypoints, flip pairs, OKS sigmas), or a custom
            dataset's name with `sigmas`.
        sigmas: (K,) OKS sigmas (required for a custom dataset).
    Returns:
        TopDownDataset with train=False.
    """
    from kitpose.data.dataset import TopDownDataset
    from kitpose.data.metadata import dataset_info
    from kitpose.errors import UserInputError

    require_file(annotations, "annotations JSON")
    if not Path(images).is_dir():
        raise ExportFileError(f"{images}: image folder not found")
    info = dataset_info(dataset, annotations, sigmas)
    h, w = model.config.input_size
    with torch.no_grad():
        probe = model(torch.zeros(1, 3, h, w)).heatmaps  # (1, K, H, W)
    if probe.shape[1] != info.num_keypoints:
        raise UserInputError(f"the model predicts {probe.shape[1]} keypoints, dataset {dataset} "
                             f"({annotations}) has {info.num_keypoints}; evaluate a model trained on "
                             "this keypoint layout")
    return TopDownDataset(annotations, images, info, input_size=(h, w),
                          heatmap_size=tuple(probe.shape[2:]), train=False)
