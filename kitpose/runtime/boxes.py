"""Where boxes come from: COCO JSON, a CLI list, the whole frame, or the previous frame's poses.

One rule for every path (infer, serve, the ensemble client): a box with a NaN or infinite value is
dropped, exactly like a box outside the frame (`finite_boxes`, applied in preprocess.boxes_to_crops).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def finite_boxes(boxes: np.ndarray) -> np.ndarray:
    """Which boxes (N, 4) have four finite values. Returns (N,) bool; the others are dropped."""
    return np.isfinite(np.asarray(boxes, np.float64).reshape(-1, 4)).all(axis=1)


def parse_box_list(text: str) -> np.ndarray:
    """'x,y,w,h;x,y,w,h' -> (N, 4) float64; raises naming the bad entry."""
    boxes = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            values = [float(v) for v in part.split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or not np.isfinite(values).all() or values[2] <= 0 or values[3] <= 0:
            raise ValueError(f"--boxes entry {part!r}: expected x,y,w,h of finite numbers with w, h > 0, "
                             f"entries separated by ';'")
        boxes.append(values)
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def load_image_ids(path: str | Path) -> dict[str, int]:
    """file name -> image id from the "images" of a COCO annotation file; raises naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable COCO JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{path}: expected a COCO annotation file with an \"images\" list "
                         f"(id, file_name per image)")
    return {img["file_name"]: int(img["id"]) for img in data["images"]}


def image_id_of(name: str, image_ids: dict[str, int]) -> int | None:
    """The COCO image id of a frame: from `image_ids` (file name -> id), else a numeric file stem
    (000000000785.jpg -> 785, as COCO names its files), else None."""
    if name in image_ids:
        return image_ids[name]
    stem = Path(name).stem
    return int(stem) if stem.isdigit() else None


def load_coco_boxes(path: str | Path, min_score: float = 0.0) -> dict[int, np.ndarray]:
    """Boxes per image id from COCO annotations or COCO detection results.

    Args:
        path: a COCO JSON with "images" + "annotations" (GT boxes), or a detection results list
            ([{"image_id", "bbox", "score"}, ...]); frames find their id with `image_id_of`.
        min_score: drop detections scoring below it.
    Returns:
        image id -> (N, 4) x, y, w, h.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable COCO JSON ({err})") from None
    if isinstance(data, dict) and "annotations" in data and "images" in data:
        anns = data["annotations"]
    elif isinstance(data, list):
        anns = data
    else:
        raise ValueError(f"{path}: expected COCO annotations (images + annotations) or a detection "
                         f"results list")
    out: dict[int, list] = {}
    for ann in anns:
        if "bbox" not in ann or ann.get("score", 1.0) < min_score or "image_id" not in ann:
            continue
        out.setdefault(int(ann["image_id"]), []).append(ann["bbox"])
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
