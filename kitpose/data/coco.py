"""COCO keypoint JSON loading with per-annotation validation.

Malformed annotations never crash a long run and are never dropped silently: each one becomes a
`Problem` naming the file and the annotation id, the loader warns with the full list, and
`strict=True` raises the first one instead.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kitpose.data.transforms import sanitize_box
from kitpose.errors import UserInputError


class AnnotationError(UserInputError):
    """A malformed annotation; the message names the file and the annotation id."""


@dataclass(frozen=True)
class Problem:
    """One skipped sample and why."""

    source: str
    ann_id: object
    message: str

    def __str__(self) -> str:
        return f"{self.source}: annotation id {self.ann_id}: {self.message}"


@dataclass(frozen=True)
class Instance:
    """One annotated animal/person: image reference, sanitised box and keypoints."""

    image_id: int
    ann_id: int
    file_name: str
    image_size: tuple[int, int]  # (h, w)
    box: np.ndarray  # (4,) sanitised x, y, w, h
    keypoints: np.ndarray  # (K, 3) x, y, visibility in {0, 1, 2}
    category_id: int = 1
    score: float = 1.0


@dataclass
class CocoKeypoints:
    """A parsed COCO keypoint file: its raw JSON, valid instances and the reported problems."""

    source: str
    raw: dict
    instances: list[Instance]
    problems: list[Problem]
    num_unlabelled: int = 0


_REQUIRED = ("id", "image_id", "bbox", "keypoints")


def _parse_annotation(ann: dict, images: dict, num_keypoints: int, aspect_wide: bool) -> Instance:
    """Validate one annotation dict; raise ValueError with a readable reason."""
    missing = [k for k in _REQUIRED if k not in ann]
    if missing:
        raise ValueError(f"missing field(s) {missing}; every annotation needs {list(_REQUIRED)}")
    if ann["image_id"] not in images:
        raise ValueError(f"image_id {ann['image_id']} is not listed in 'images'")
    image = images[ann["image_id"]]
    if "width" not in image or "height" not in image or "file_name" not in image:
        raise ValueError(f"image {ann['image_id']} lacks file_name/width/height")
    kpts = np.asarray(ann["keypoints"], dtype=np.float64)
    if kpts.size != 3 * num_keypoints:
        raise ValueError(f"'keypoints' has {kpts.size} values, expected 3 x {num_keypoints} "
                         "(x, y, v per keypoint of the category)")
    bbox = np.asarray(ann["bbox"], dtype=np.float64)
    if bbox.shape != (4,) or not np.all(np.isfinite(bbox)):
        raise ValueError(f"'bbox' must be 4 finite numbers [x, y, w, h], got {ann['bbox']}")
    h_img, w_img = int(image["height"]), int(image["width"])
    box = sanitize_box(bbox, (h_img, w_img), inclusive_width=aspect_wide)
    if box is None:
        raise ValueError(f"bbox {ann['bbox']} lies outside the {w_img}x{h_img} image or is empty")
    kpts = _finite_keypoints(kpts.reshape(num_keypoints, 3))
    kpts[:, 2] = np.clip(kpts[:, 2], 0, 2)  # AK writes -1 coordinates with v=0; v stays in {0,1,2}
    return Instance(image_id=int(ann["image_id"]), ann_id=int(ann["id"]),
                    file_name=str(image["file_name"]), image_size=(h_img, w_img), box=box,
                    keypoints=kpts, category_id=int(ann.get("category_id", 1)))


def _finite_keypoints(kpts: np.ndarray) -> np.ndarray:
    """(K, 3) keypoints with every labelled one finite; unlabelled (v = 0) non-finite x, y become 0.

    NaN coordinates used to pass and end training much later in a NaN loss.
    """
    labelled = np.nan_to_num(kpts[:, 2], nan=1.0) != 0  # a NaN visibility is reported below
    bad = np.flatnonzero(~np.all(np.isfinite(kpts), axis=1) & (labelled | ~np.isfinite(kpts[:, 2])))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"keypoint {k} is {kpts[k].tolist()}: x, y and v of a labelled keypoint must be "
                         f"finite numbers ({bad.size} such keypoint(s))")
    kpts[~labelled, :2] = np.nan_to_num(kpts[~labelled, :2], nan=0.0, posinf=0.0, neginf=0.0)
    return kpts


def load_coco_keypoints(path, num_keypoints: int, strict: bool = False,
                        keep_unlabelled: bool = False, inclusive_width: bool = False
                        ) -> CocoKeypoints:
    """Read a COCO keypoint JSON and validate every annotation.

    Args:
        path: annotation JSON file.
        num_keypoints: K expected per annotation.
        strict: raise AnnotationError on the first malformed annotation instead of skipping it.
        keep_unlabelled: keep annotations whose keypoints are all unlabelled (training skips them).
        inclusive_width: Animal Kingdom's box width x2 - x1 + 1 (spec 10.2).
    Returns:
        CocoKeypoints with the valid instances and one Problem per skipped annotation.
    """
    source = str(path)
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise AnnotationError(f"{source}: cannot read annotation JSON ({err})") from err
    if not isinstance(raw, dict) or "annotations" not in raw or "images" not in raw:
        raise AnnotationError(f"{source}: not a COCO keypoint file (needs 'images' and "
                              "'annotations'; a detection-results list needs load_detections)")
    images = {img.get("id"): img for img in raw["images"]}
    instances, problems, unlabelled = [], [], 0
    for ann in raw["annotations"]:
        ann_id = ann.get("id", "<missing id>")
        try:
            inst = _parse_annotation(ann, images, num_keypoints, inclusive_width)
        except (ValueError, TypeError) as err:
            problem = Problem(source, ann_id, str(err))
            if strict:
                raise AnnotationError(str(problem)) from err
            problems.append(problem)
            continue
        if not keep_unlabelled and not np.any(inst.keypoints[:, 2] > 0):
            unlabelled += 1
            continue
        instances.append(inst)
    report_problems(problems)
    return CocoKeypoints(source, raw, instances, problems, unlabelled)


def report_problems(problems) -> None:
    """Warn once with every skipped sample listed."""
    if problems:
        lines = "\n  ".join(str(p) for p in problems)
        warnings.warn(f"skipped {len(problems)} bad sample(s):\n  {lines}", stacklevel=3)


def load_detections(path, raw_gt: dict, num_keypoints: int, score_threshold: float = 0.0
                    ) -> list[Instance]:
    """Turn a COCO detection-results list into instances (keypoints all unlabelled).

    Args:
        path: JSON list of {"image_id", "bbox", "score", "category_id"}.
        raw_gt: the ground-truth JSON, for image file names and sizes.
        num_keypoints: K.
        score_threshold: drop detections scoring below this.
    Returns:
        One Instance per kept detection, ann_id = its index in the list.
    """
    dets = json.loads(Path(path).read_text())
    images = {img["id"]: img for img in raw_gt["images"]}
    out = []
    for idx, det in enumerate(dets):
        image = images.get(det.get("image_id"))
        if image is None or det.get("score", 1.0) < score_threshold:
            continue
        h_img, w_img = int(image["height"]), int(image["width"])
        box = sanitize_box(np.asarray(det["bbox"], np.float64), (h_img, w_img))
        if box is None:
            continue
        out.append(Instance(int(det["image_id"]), idx, image["file_name"], (h_img, w_img), box,
                            np.zeros((num_keypoints, 3)), int(det.get("category_id", 1)),
                            float(det.get("score", 1.0))))
    return out
