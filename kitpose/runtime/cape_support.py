"""The support of category-agnostic pose (FMMP): annotated example images of one category, and the
reader of a support file. Torch-free.

A support file is COCO keypoints JSON holding one example:

    {"images": [{"id": 1, "file_name": "zebra.jpg", "width": 640, "height": 480}],
     "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [x, y, w, h],
                      "keypoints": [x1, y1, v1, x2, y2, v2, ...]}],
     "categories": [{"id": 1, "name": "zebra", "keypoints": ["nose", "tail", ...],
                     "skeleton": [[1, 2], ...]}]}

Skeleton links are 1-based, as in COCO; `v > 0` marks a keypoint as annotated. Every error names
the file and the field to fix.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kitpose.cape.padding import PADDED_K
from kitpose.errors import UserInputError


class SupportError(UserInputError):
    """A support image, support file or category that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Category:
    """The keypoint layout the support defines."""

    name: str
    keypoint_names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]  # 0-based links

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)


@dataclass(frozen=True)
class SupportShot:
    """One annotated example: a BGR image, its keypoints (K, 3) x, y, v in pixels and its box (4,) x, y, w, h."""

    image: np.ndarray
    keypoints: np.ndarray
    box: np.ndarray


def check_category(category: Category, where: str = "category") -> Category:
    """The category, after checking its keypoint count (1 to 70) and every (0-based) link."""
    k = category.num_keypoints
    if not 1 <= k <= PADDED_K:
        raise SupportError(f"{where}: 'keypoints' names {k} keypoints; FMMP takes 1 to {PADDED_K}")
    for n, link in enumerate(category.skeleton):
        if len(link) != 2 or not all(0 <= int(i) < k for i in link):
            raise SupportError(f"{where}: skeleton[{n}] = {list(link)} is out of range for {k} keypoints")
    return category


def check_shot(shot: SupportShot, category: Category, where: str = "support") -> SupportShot:
    """The shot, after checking its keypoint count against the category and its box."""
    kps = np.asarray(shot.keypoints, np.float64)
    if kps.ndim != 2 or kps.shape[1] != 3 or len(kps) != category.num_keypoints:
        raise SupportError(f"{where}: 'keypoints' holds {kps.size} values, the category "
                           f"{category.name!r} needs 3 x {category.num_keypoints} (x, y, v per keypoint)")
    if not np.isfinite(kps).all():
        raise SupportError(f"{where}: 'keypoints' holds NaN or inf")
    box = np.asarray(shot.box, np.float64).reshape(-1)
    if box.size != 4 or not np.isfinite(box).all() or box[2] <= 1 or box[3] <= 1:
        raise SupportError(f"{where}: 'bbox' must be [x, y, w, h] with w and h above 1 pixel, got {box.tolist()}")
    if not (kps[:, 2] > 0).any():
        raise SupportError(f"{where}: no visible keypoint (every v is 0); annotate at least one keypoint")
    return SupportShot(shot.image, kps, box)


def read_support_file(annotations: str | Path, image: str | Path) -> tuple[SupportShot, Category]:
    """The support example of a COCO-style file, with its image.

    Args:
        annotations: the support JSON (one image, one annotation, one category).
        image: the support image (the file the annotation was made on).
    Returns:
        (SupportShot, Category) with 0-based skeleton links.
    """
    path = Path(annotations)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SupportError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(doc, dict):
        raise SupportError(f"{path}: expected a JSON object with 'images', 'annotations' and 'categories'")
    entry = {key: _single(doc, key, path) for key in ("images", "annotations", "categories")}
    category = _category(entry["categories"], path)
    ann = entry["annotations"]
    kps = np.asarray(_field(ann, "keypoints", path, "annotations[0]"), dtype=object)
    try:
        kps = kps.astype(np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise SupportError(f"{path}: annotations[0].keypoints must be numbers (x, y, v per keypoint)") from None
    if kps.size != 3 * category.num_keypoints:
        raise SupportError(f"{path}: annotations[0].keypoints has {kps.size} values, categories[0] names "
                           f"{category.num_keypoints} keypoints (needs 3 x {category.num_keypoints})")
    frame = _read_image(image, entry["images"], path)
    shot = SupportShot(frame, kps.reshape(-1, 3), np.asarray(_field(ann, "bbox", path, "annotations[0]")))
    try:
        return check_shot(shot, category, f"{path}: annotations[0]"), category
    except SupportError:
        raise
    except (TypeError, ValueError):  # a bbox of non-numbers
        raise SupportError(f"{path}: annotations[0].bbox must be 4 numbers [x, y, w, h]") from None


def _single(doc: dict, key: str, path: Path) -> dict:
    """The one entry of doc[key]."""
    items = doc.get(key)
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        count = len(items) if isinstance(items, list) else "no list"
        raise SupportError(f"{path}: field {key!r} must be a list of exactly one object, got {count}")
    return items[0]


def _field(entry: dict, key: str, path: Path, where: str):
    if key not in entry:
        raise SupportError(f"{path}: {where} lacks field {key!r}")
    return entry[key]


def _category(cat: dict, path: Path) -> Category:
    """categories[0] with its 1-based COCO skeleton turned 0-based."""
    names = _field(cat, "keypoints", path, "categories[0]")
    if not isinstance(names, list) or not names:
        raise SupportError(f"{path}: categories[0].keypoints must be a non-empty list of keypoint names")
    k = len(names)
    if k > PADDED_K:
        raise SupportError(f"{path}: categories[0].keypoints names {k} keypoints; FMMP takes at most {PADDED_K}")
    links = []
    for n, link in enumerate(cat.get("skeleton") or []):
        if not (isinstance(link, list) and len(link) == 2 and all(isinstance(i, int) for i in link)
                and all(1 <= i <= k for i in link)):
            raise SupportError(f"{path}: categories[0].skeleton[{n}] = {link!r}: links are pairs of 1-based "
                               f"keypoint indices (COCO), 1 to {k}")
        links.append((link[0] - 1, link[1] - 1))
    return check_category(Category(str(cat.get("name", "category")), tuple(str(s) for s in names), tuple(links)),
                          f"{path}: categories[0]")


def _read_image(image: str | Path, entry: dict, path: Path) -> np.ndarray:
    """The support image (BGR), checked against the size the file's image entry gives."""
    frame = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if frame is None:
        raise SupportError(f"{image}: support image missing or unreadable")
    h, w = frame.shape[:2]
    want = entry.get("height", h), entry.get("width", w)
    if tuple(want) != (h, w):
        raise SupportError(f"{path}: images[0] is {want[1]}x{want[0]} (width x height) but the support image "
                           f"{image} is {w}x{h}; is it the image the keypoints were annotated on?")
    return frame
