"""Calibration images for the int8 stage: given arrays, or synthetic normalised crops."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def calibration_batch(images: Sequence[np.ndarray] | None, input_size: tuple[int, int],
                      count: int, seed: int) -> np.ndarray:
    """Stack preprocessed images into one float32 batch, or crop synthetic animals.

    Args:
        images: preprocessed (3, h, w) arrays, or None for synthetic ones.
        input_size: (h, w) the model expects.
        count: number of synthetic crops.
        seed: generator seed of the synthetic images.
    Returns:
        (N, 3, h, w) float32.
    """
    h, w = input_size
    if images is None:
        return synthetic_crops(input_size, count, seed)
    batch = np.stack([np.asarray(im, dtype=np.float32) for im in images])
    if batch.ndim != 4 or batch.shape[1:] != (3, h, w):
        raise ValueError(f"calibration images must be (3, {h}, {w}) arrays, got {batch.shape[1:]}")
    return batch


def synthetic_crops(input_size: tuple[int, int], count: int, seed: int) -> np.ndarray:
    """`count` normalised crops of `kitpose synth` quadrupeds around their boxes, as training crops
    them (UDP affine, ImageNet normalisation): activations like a real animal dataset's, which
    random blobs did not give (int8 AP drop on the default model: 3.4 points with 8 blob images).

    Returns:
        (count, 3, h, w) float32.
    """
    from kitpose.data.dataset import normalize, warp_crop
    from kitpose.data.synthetic import mask_box, render_image
    from kitpose.data.transforms import box_to_center_scale

    crops, index = [], 0
    aspect = input_size[1] / input_size[0]
    while len(crops) < count:
        image, animals = render_image(seed, index, size=(256, 256))  # BGR, [(kp, vis, mask)]
        for box in filter(None, (mask_box(mask) for _, _, mask in animals)):
            center, scale = box_to_center_scale(box, aspect)
            crops.append(normalize(warp_crop(image[:, :, ::-1], center, scale, 0.0, input_size)))
        index += 1
    return np.stack(crops[:count])  # (count, 3, h, w)
