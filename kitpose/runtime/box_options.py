"""The box options of `kitpose infer` (--boxes, --detector, --classes, --annotations) as a box provider.

Their errors are click errors naming the option; what they leave implicit is said once per run as a
warning (the whole frame as the box, COCO image ids that match no frame).
"""
from __future__ import annotations

import logging
from pathlib import Path

import click

from kitpose.runtime.boxes import image_id_of, load_coco_boxes, load_image_ids, parse_box_list
from kitpose.runtime.metadata import ModelFileError
from kitpose.runtime.tracker import FixedBoxes, PoseTracker, WholeFrame

log = logging.getLogger("kitpose.runtime")

WHOLE_FRAME = ("no --boxes and no --detector: every frame is estimated as one instance, the whole frame; "
               "give --boxes (COCO JSON or 'x,y,w,h') or --detector YOLO.onnx (any YOLO-layout detector "
               "ONNX, e.g. an Ultralytics export)")


def box_provider(boxes: str | None, detector: str | None, every: int, classes: str | None, device: str,
                 image_ids: dict[str, int]):
    """COCO JSON / CLI list -> FixedBoxes; detector ONNX -> PoseTracker; nothing -> WholeFrame."""
    if boxes and detector:
        raise click.UsageError("give --boxes or --detector, not both")
    if detector:
        return PoseTracker(_detector(detector, classes, device), every=every)
    try:
        if boxes and Path(boxes).suffix.lower() == ".json":
            return FixedBoxes(by_name=load_coco_boxes(boxes), key=lambda name: image_id_of(name, image_ids))
        if boxes:
            return FixedBoxes(default=parse_box_list(boxes))
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--boxes") from None
    log.warning(WHOLE_FRAME)
    return WholeFrame()


def _detector(path: str, classes: str | None, device: str):
    """The Detector for --detector; a file it cannot use is one line naming the option and the file."""
    from kitpose.runtime.detector import Detector

    try:
        keep = tuple(int(c) for c in classes.split(",")) if classes else None
    except ValueError:
        raise click.BadParameter(f"{classes!r}: expected class indices like '0' or '0,16'",
                                 param_hint="--classes") from None
    try:
        return Detector(path, classes=keep, device=device)
    except (ModelFileError, ImportError) as err:  # the file, not the command line: no usage text
        raise click.ClickException(f"--detector {err}") from None


def image_ids_for(boxes: str | None, annotations: str | None) -> dict[str, int]:
    """file name -> COCO image id: from --annotations, else from --boxes when it is an annotation file."""
    if annotations:
        try:
            return load_image_ids(annotations)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--annotations") from None
    if boxes and Path(boxes).suffix.lower() == ".json":
        try:
            return load_image_ids(boxes)
        except ValueError:  # a detection results list: numeric file stems give the ids
            return {}
    return {}


def warn_unmatched(provider, boxes: str | None, stats) -> None:
    """Say so when a COCO --boxes file gave boxes to no frame (ids that match no file name)."""
    if isinstance(provider, FixedBoxes) and provider.by_name and not provider.matched and stats.frames:
        log.warning(f"--boxes {boxes}: its {len(provider.by_name)} image id(s) matched no frame (frames "
                    f"match by the file names of a COCO annotation file, or by a numeric file stem: "
                    f"000000000785.jpg is id 785); pass --annotations COCO.json to map ids to file names")
