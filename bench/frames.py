"""Synthetic frames holding exactly N animals, as JPEG bytes plus their boxes (the pipeline's input)."""
from __future__ import annotations

import math

import cv2
import numpy as np

from kitpose.data.quadruped import draw_animal, sample_animal
from kitpose.data.synthetic import background, mask_box


def synthetic_frame(count: int, size: tuple[int, int] = (720, 1280), seed: int = 0
                    ) -> tuple[bytes, np.ndarray]:
    """A frame with `count` quadrupeds on a grid (one per cell, drawn with kitpose.data.synthetic).

    Args:
        count: animals in the frame (>= 1).
        size: (h, w) of the frame.
        seed: generator seed; the same arguments give the same bytes.
    Returns:
        JPEG bytes (quality 90), boxes (count, 4) x, y, w, h around each animal's silhouette.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1 animals per frame, got {count}")
    rng = np.random.default_rng([seed, count])
    h, w = size
    cols = math.ceil(math.sqrt(count * w / h))
    rows = math.ceil(count / cols)
    cell_h, cell_w = h / rows, w / cols
    img = background(rng, size)
    boxes = []
    for i in range(count):
        r, c = divmod(i, cols)
        center = ((c + 0.5) * cell_w, (r + 0.5) * cell_h)
        animal = sample_animal(rng, size, length=0.55 * min(cell_h, cell_w), center=center)
        _, mask = draw_animal(img, animal, phase=float(rng.uniform(0, 2 * np.pi)))
        box = mask_box(mask)
        if box is None:  # drawn entirely outside (cannot happen for a cell centre; kept explicit)
            raise RuntimeError(f"animal {i} of {count} fell outside the {size} frame")
        boxes.append(box)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("JPEG encoding of the synthetic frame failed")
    return buf.tobytes(), np.asarray(boxes, np.float64).reshape(-1, 4)
