"""ImageNet normalisation, the one definition: every kitpose model takes RGB / 255 inputs normalised
with this mean and std (training crops, export metadata, the runtimes' crops, the CUDA warp).

Torch-free (numpy only), so `kitpose.runtime` can use it.
"""
from __future__ import annotations

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # of RGB / 255
IMAGENET_STD = (0.229, 0.224, 0.225)

_MEAN = np.array(IMAGENET_MEAN, np.float32)  # (3,) broadcast over (h, w, 3)
_STD = np.array(IMAGENET_STD, np.float32)


def normalize(crop: np.ndarray) -> np.ndarray:
    """ImageNet-normalise an RGB crop and put channels first.

    Args:
        crop: (h, w, 3) uint8 RGB.
    Returns:
        (3, h, w) float32, contiguous: (crop / 255 - IMAGENET_MEAN) / IMAGENET_STD.
    """
    x = (crop.astype(np.float32) / 255.0 - _MEAN) / _STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))
