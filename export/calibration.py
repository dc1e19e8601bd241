"""Calibration images for the int8 stage: given arrays, or synthetic normalised crops."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def calibration_batch(images: Sequence[np.ndarray] | None, input_size: tuple[int, int],
                      count: int, seed: int) -> np.ndarray:
    """Stack preprocessed images into one float32 batch, or draw a synthetic one.

    Synthetic crops are smooth blobs on a noisy background in normalised units (mean 0, std ~1),
    which gives activation ranges of the same order as real normalised images.

    Args:
        images: preprocessed (3, h, w) arrays, or None for synthetic ones.
        input_size: (h, w) the model expects.
        count: number of synthetic images.
        seed: RNG seed of the synthetic images.
    Returns:
        (N, 3, h, w) float32.
    """
    h, w = input_size
    if images is not None:
        batch = np.stack([np.asarray(im, dtype=np.float32) for im in images])
        if batch.ndim != 4 or batch.shape[1:] != (3, h, w):
            raise ValueError(f"calibration images must be (3, {h}, {w}) arrays, got {batch.shape[1:]}")
        return batch
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    batch = rng.normal(0.0, 0.3, size=(count, 3, h, w)).astype(np.float32)  # (N, 3, h, w)
    for n in range(count):
        for _ in range(4):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.4) * min(h, w)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))  # (h, w)
            batch[n] += rng.normal(0.0, 1.5, size=(3, 1, 1)).astype(np.float32) * blob
    return batch
