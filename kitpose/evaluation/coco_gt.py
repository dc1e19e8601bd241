"""Loading a COCO-keypoints ground-truth JSON for pycocotools, filling the fields it needs.

Animal-pose conversions often omit fields that COCOeval reads ('area', 'iscrowd', 'num_keypoints',
'info'). They are filled here, each with one log line saying how, so a metric never silently
depends on a guessed value.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pycocotools.coco import COCO

from kitpose.errors import UserInputError

_LOG = logging.getLogger(__name__)
_REQUIRED_ANN_FIELDS = ("image_id", "category_id", "keypoints", "bbox")


class EvaluationError(UserInputError):
    """Ground truth, results or sigmas that cannot be scored; the message names the file and entry."""


@dataclass(frozen=True)
class GroundTruth:
    """A pycocotools COCO index plus what evaluation checks results against."""

    coco: COCO
    num_keypoints: int     # K, from the length of every annotation's keypoint list
    source: str            # file path or "<dict>", for error messages


def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file, naming the file and its role in any error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise EvaluationError(f"{what} file {path} is not valid JSON: {err}") from err


def load_coco_gt(gt: str | Path | Mapping, check_categories: bool = True) -> GroundTruth:
    """Load and sanitise a COCO-keypoints ground truth (file path or already-parsed dict).

    Args:
        gt: path to the JSON or its dict (the dict is deep-copied, never modified).
        check_categories: require every annotation's category in 'categories' (COCOeval would
            silently skip the others); PCK, which ignores categories, turns this off.
    Returns:
        GroundTruth with the pycocotools index and the keypoint count K.
    """
    if isinstance(gt, Mapping):
        data, source = copy.deepcopy(dict(gt)), "<dict>"
    else:
        data, source = read_json(gt, "ground-truth"), str(gt)
    _check_sections(data, source)
    _check_annotations(data, source, check_categories)
    _fill_missing(data, source)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return GroundTruth(coco, _num_keypoints(data, source), source)


def _check_sections(data: Any, source: str) -> None:
    if not isinstance(data, dict):
        raise EvaluationError(f"ground truth {source}: expected a JSON object with 'images', "
                         f"'annotations' and 'categories'; got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise EvaluationError(f"ground truth {source}: field '{key}' is missing or not a list")
    if not data["annotations"]:
        raise EvaluationError(f"ground truth {source}: 'annotations' is empty; nothing to evaluate")


def _check_annotations(data: dict, source: str, check_categories: bool) -> None:
    image_ids = {img["id"] for img in data["images"]}
    category_ids = {cat["id"] for cat in data["categories"]}
    for i, ann in enumerate(data["annotations"]):
        for field in _REQUIRED_ANN_FIELDS:
            if field not in ann:
                raise EvaluationError(f"ground truth {source}: annotations[{i}] has no '{field}'")
        if ann["image_id"] not in image_ids:
            raise EvaluationError(f"ground truth {source}: annotations[{i}].image_id="
                             f"{ann['image_id']!r} is not in 'images'")
        if check_categories and ann["category_id"] not in category_ids:
            raise EvaluationError(f"ground truth {source}: annotations[{i}].category_id="
                             f"{ann['category_id']!r} is not in 'categories'")
        if len(ann["bbox"]) != 4:
            raise EvaluationError(f"ground truth {source}: annotations[{i}].bbox must be [x, y, w, h]")


def _num_keypoints(data: dict, source: str) -> int:
    lengths = {len(ann["keypoints"]) for ann in data["annotations"]}
    if len(lengths) != 1 or next(iter(lengths)) % 3 or next(iter(lengths)) == 0:
        raise EvaluationError(f"ground truth {source}: every annotation's 'keypoints' must hold the "
                         f"same number 3K > 0 of values; found lengths {sorted(lengths)}")
    return lengths.pop() // 3


def _fill_missing(data: dict, source: str) -> None:
    anns = data["annotations"]
    if "info" not in data:
        data["info"] = {}
        _LOG.info("ground truth %s: no 'info'; using an empty one", source)
    fillers = {
        "area": (lambda a: float(a["bbox"][2]) * float(a["bbox"][3]), "bbox w*h"),
        "iscrowd": (lambda a: 0, "0"),
        "num_keypoints": (lambda a: sum(1 for v in a["keypoints"][2::3] if v > 0),
                          "the count of keypoints with v > 0"),
    }
    for field, (make, how) in fillers.items():
        missing = [a for a in anns if field not in a]
        for ann in missing:
            ann[field] = make(ann)
        if missing:
            _LOG.warning("ground truth %s: '%s' missing in %d of %d annotations; filled with %s",
                         source, field, len(missing), len(anns), how)
    _fill_ids(anns, source)


def _fill_ids(anns: list, source: str) -> None:
    if all("id" in a for a in anns):
        ids = [a["id"] for a in anns]
        if len(set(ids)) != len(ids):
            raise EvaluationError(f"ground truth {source}: annotation 'id' values are not unique; "
                             "COCOeval matches by id, so make them unique")
        return
    if any("id" in a for a in anns):
        raise EvaluationError(f"ground truth {source}: some annotations have an 'id' and some do not; "
                         "give every annotation a unique 'id' (or none)")
    for i, ann in enumerate(anns):
        ann["id"] = i + 1
    _LOG.warning("ground truth %s: no annotation 'id'; numbered them 1..%d", source, len(anns))
