"""The served model's tensors, their names and the check every request passes (numpy only).

Imported by the server (server.py, batching.py), the client (client.py) and the guard that runs in
Triton's Python-backend stub in front of PyTriton's proxy (triton_guard.py), so the three agree.
"""
from __future__ import annotations

import numpy as np

MODEL_NAME = "kitpose_pose"          # the model `kitpose serve` binds
READY_PATH = f"/v2/models/{MODEL_NAME}/ready"  # the readiness probe (HTTP 200 once the model is loaded)
IMAGE, BOXES = "image", "boxes"        # inputs: (b, h, w, 3) uint8 BGR, (b, N, 4) float32 x, y, w, h
KEYPOINTS, KEPT = "keypoints", "kept"  # outputs: (b, N, K, 3) float32, (b, N) bool
# Largest frame side: the serve env's OpenCV 4.11 (pinned by numpy < 2) asserts src.cols < SHRT_MAX
# in warpAffine, so a 32767 px side failed deep inside the crop.
MAX_SIDE = 32766
# The check's settings in the served model's folder ({"max_boxes": N}), for the guard (triton_guard.py).
GUARD_SETTINGS = "kitpose_guard.json"


class RequestError(ValueError):
    """A request the model cannot run; the message names the input, its shape and the fix."""


def validate_request(inputs: dict[str, np.ndarray], max_boxes: int) -> tuple[np.ndarray, np.ndarray]:
    """Check one request (Triton has already checked dtypes, ranks and the last dims); RequestError
    with a one-line message naming the input, its shape and the fix otherwise.

    Args:
        inputs: IMAGE (b, h, w, 3) uint8 and BOXES (b, N, 4) float32.
        max_boxes: most boxes per image.
    Returns:
        image (b, h, w, 3), boxes (b, N, 4) as float64.
    """
    image, boxes = np.asarray(inputs[IMAGE]), np.asarray(inputs[BOXES])
    if image.ndim != 4 or image.shape[3] != 3 or image.dtype != np.uint8:
        raise RequestError(f"{IMAGE}: expected (b, h, w, 3) uint8 BGR, got {image.shape} {image.dtype}")
    if image.shape[1] < 1 or image.shape[2] < 1:
        raise RequestError(f"{IMAGE}: empty image of shape {image.shape[1:]}; send an (h, w, 3) uint8 "
                           f"BGR image with h, w >= 1")
    if max(image.shape[1:3]) > MAX_SIDE:
        raise RequestError(f"{IMAGE}: (h, w) = {image.shape[1:3]}: OpenCV crops frames under 32767 px a side; "
                           f"downscale the frame (and its boxes) to at most {MAX_SIDE} px")
    if boxes.ndim != 3 or boxes.shape[2] != 4:
        raise RequestError(f"{BOXES}: expected (b, N, 4) x, y, w, h, got {boxes.shape}")
    if boxes.shape[0] != image.shape[0]:
        raise RequestError(f"{BOXES}: batch of {boxes.shape[0]} box lists for {image.shape[0]} images; "
                           f"send one box list per image")
    if boxes.shape[1] > max_boxes:
        raise RequestError(f"{BOXES}: {boxes.shape[1]} boxes for one image, more than the server's "
                           f"--max-boxes {max_boxes}; split the boxes over several requests")
    return image, boxes.astype(np.float64)
