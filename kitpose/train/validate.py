"""Validation: predict COCO keypoint results on GT-box crops and score them with OKS AP."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from kitpose.train.state import unwrap


def _heatmaps(model: nn.Module, images: torch.Tensor, flip_pairs, flip_test: bool) -> np.ndarray:
    """Heatmaps (B, K, H, W) as float32 numpy; with flip_test averaged with the mirrored pass."""
    from kitpose.data.transforms import flip_heatmaps

    heatmaps = model(images).heatmaps.float().cpu().numpy()                # (B, K, H, W)
    if flip_test:
        mirrored = model(images.flip(3)).heatmaps.float().cpu().numpy()    # (B, K, H, W)
        # UDP "size - 1" convention: x -> W - 1 - x needs no extra one-pixel shift.
        heatmaps = 0.5 * (heatmaps + flip_heatmaps(mirrored, flip_pairs))
    return heatmaps


def _category_ids(dataset) -> dict[int, int]:
    """ann_id -> category_id from the dataset's raw COCO JSON (1 when absent)."""
    return {a["id"]: a.get("category_id", 1) for a in dataset.raw.get("annotations", [])}


@torch.no_grad()
def predict(model: nn.Module, dataset, batch_size: int, device: torch.device,
            flip_test: bool = True, workers: int = 0) -> list[dict[str, Any]]:
    """COCO keypoint results for every instance of a (non-training) TopDownDataset.

    Args:
        model: trained model (DDP wrapper or bare); run in eval mode.
        dataset: TopDownDataset with train=False (crops from GT boxes).
        batch_size, workers: loader settings.
        device: where the model lives.
        flip_test: average with the horizontally flipped input.
    Returns:
        One result dict per instance (image_id, category_id, keypoints of length 3K, score, ann_id).
    """
    from kitpose.codecs.heatmap import to_image_coords
    from kitpose.evaluation.results import instance_scores, to_coco_results

    bare = unwrap(model)
    was_training = bare.training
    bare.eval()
    categories, results = _category_ids(dataset), []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    for batch in loader:
        heatmaps = _heatmaps(bare, batch["image"].to(device), dataset.info.flip_pairs, flip_test)
        coords, maxvals = dataset.codec.decode(heatmaps)  # (B, K, 2) crop px, (B, K)
        points = np.stack([to_image_coords(coords[i], batch["center"][i].numpy(),
                                           batch["scale"][i].numpy(), 0.0, dataset.input_size)
                           for i in range(len(coords))])                  # (B, K, 2) image px
        keypoints = np.concatenate([points, maxvals[..., None]], axis=-1)  # (B, K, 3)
        scores = instance_scores(batch["score"].numpy(), maxvals)
        ann_ids = batch["ann_id"].tolist()
        results += to_coco_results(keypoints, scores, batch["image_id"].tolist(),
                                   [categories.get(a, 1) for a in ann_ids], ann_ids)
    bare.train(was_training)
    return results


def evaluate(model: nn.Module, dataset, batch_size: int, device: torch.device,
             flip_test: bool = True, workers: int = 0) -> dict[str, float]:
    """OKS AP/AR of the model on a validation TopDownDataset (the dataset's sigmas).

    Returns:
        dict with AP, AP50, AP75, APM, APL, AR, ... (fractions).
    """
    from kitpose.evaluation.coco_eval import evaluate_coco

    results = predict(model, dataset, batch_size, device, flip_test, workers)
    return evaluate_coco(dataset.raw, results, dataset.info.sigmas)
