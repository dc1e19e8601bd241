"""Where boxes come from: COCO JSON, a CLI list, the whole frame, or the previous frame's poses."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def parse_box_list(text: str) -> np.ndarray:
    """'x,y,w,h;x,y,w,h' -> (N, 4) float64; raises naming the bad entry."""
    boxes = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            values = [float(v) for v in part.split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or values[2] <= 0 or values[3] <= 0:
            raise ValueError(f"--boxes entry {part!r}: expected x,y,w,h with w, h > 0, "
                             f"entries separated by ';'")
        boxes.append(values)
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def load_coco_boxes(path: str | Path, min_score: float = 0.0) -> dict[str, np.ndarray]:
    """Boxes per image file name from COCO annotations or COCO detection results.

    Args:
        path: a COCO JSON with "images" + "annotations" (GT boxes), or a detection results list
            ([{"image_id", "bbox", "score"}, ...]) next to which no image names exist: then the keys
            are the image ids as strings.
        min_score: drop detections scoring below it.
    Returns:
        file name (or str(image_id)) -> (N, 4) x, y, w, h.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable COCO JSON ({err})") from None
    if isinstance(data, dict) and "annotations" in data and "images" in data:
        names = {img["id"]: img["file_name"] for img in data["images"]}
        anns, keys = data["annotations"], lambda a: names.get(a["image_id"])
    elif isinstance(data, list):
        anns, keys = data, lambda a: str(a["image_id"])
    else:
        raise ValueError(f"{path}: expected COCO annotations (images + annotations) or a detection "
                         f"results list")
    out: dict[str, list] = {}
    for ann in anns:
        if "bbox" not in ann or ann.get("score", 1.0) < min_score or keys(ann) is None:
            continue
        out.setdefault(keys(ann), []).append(ann["bbox"])
    return {k: np.asarray(v, np.float64).reshape(-1, 4) for k, v in out.items()}


def whole_frame_box(image_hw: tuple[int, int]) -> np.ndarray:
    """The frame as one box. Returns (1, 4) x, y, w, h."""
    return np.array([[0.0, 0.0, float(image_hw[1]), float(image_hw[0])]])


def boxes_from_keypoints(keypoints: np.ndarray, threshold: float = 0.3, margin: float = 0.15,
                         min_points: int = 3) -> np.ndarray:
    """Boxes around confident keypoints (tracking by pose); instances with too few are dropped.

    Args:
        keypoints: (N, K, 3) x, y, score.
        threshold: score above which a keypoint counts.
        margin: box growth on each side, as a fraction of its size.
        min_points: fewest confident keypoints to keep an instance.
    Returns:
        (N', 4) x, y, w, h.
    """
    boxes = []
    for inst in np.asarray(keypoints, np.float64).reshape(-1, *np.shape(keypoints)[1:]):
        pts = inst[inst[:, 2] > threshold, :2]
        if len(pts) < min_points:
            continue
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        size = np.maximum(hi - lo, 1.0)
        lo, size = lo - margin * size, size * (1 + 2 * margin)
        boxes.append([lo[0], lo[1], size[0], size[1]])
    return np.asarray(boxes, np.float64).reshape(-1, 4)
