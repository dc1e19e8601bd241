"""The demo's category-agnostic part: one annotated frame as the support, then the whole video.

The embedded CAPE model (`default-cape`, FMMP trained on synthetic procedural categories only) has
never seen a quadruped. Frame 0 of the demo video with its ground truth (one animal, 17 AP-10K
keypoints and skeleton) is written as a support file, exactly what a user passes to
`kitpose infer VIDEO --support IMG --support-keypoints JSON`, and the torch-free CapePipeline then
finds those 17 keypoints on every animal of every frame, the support encoded once.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def write_support(video: Path, frames: list, out: Path) -> tuple[Path, Path]:
    """Frame 0 as support.jpg and its largest animal as support.json (COCO style, 1-based skeleton).

    Returns:
        (support image, support file).
    """
    from kitpose.data.metadata import DATASETS

    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"{video}: cannot read frame 0 for the support")
    out.mkdir(parents=True, exist_ok=True)
    image = out / "support.jpg"
    cv2.imwrite(str(image), frame)
    animal = max(frames[0]["instances"], key=lambda i: i["bbox"][2] * i["bbox"][3])
    info = DATASETS["ap10k"]
    doc = {"images": [{"id": 1, "file_name": image.name, "height": frame.shape[0], "width": frame.shape[1]}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": animal["bbox"],
                            "keypoints": animal["keypoints"]}],
           "categories": [{"id": 1, "name": "quadruped", "keypoints": list(info.keypoint_names),
                           "skeleton": [[a + 1, b + 1] for a, b in info.skeleton]}]}
    support = out / "support.json"
    support.write_text(json.dumps(doc))
    return image, support


def run_cape_part(video: Path, frames: list, boxes: dict[str, np.ndarray], out: Path) -> dict[str, Any]:
    """Support from frame 0, then CapePipeline on the video; writes OUT/cape/{demo_cape.mp4, poses_cape.jsonl}.

    Returns:
        {"stats": the loop's stats, "error_px": mean keypoint error vs ground truth, paths...}.
    """
    from kitpose.demo import keypoint_error
    from kitpose.runtime.cape_pipeline import CapePipeline
    from kitpose.runtime.cape_support import read_support_file
    from kitpose.runtime.loop import Sinks, run_loop
    from kitpose.runtime.model_files import DEFAULT_CAPE, resolve_cape_model
    from kitpose.runtime.outputs import JsonlSink, VideoSink
    from kitpose.runtime.sources import open_source
    from kitpose.runtime.tracker import FixedBoxes

    image, support = write_support(video, frames, out)
    shot, category = read_support_file(support, image)
    folder = resolve_cape_model(DEFAULT_CAPE, shots=1)
    sinks = Sinks(video=VideoSink(out / "demo_cape.mp4", fps=15.0), jsonl=JsonlSink(out / "poses_cape.jsonl"))
    with CapePipeline.from_folder(folder, [shot], category) as cape:
        stats = run_loop(open_source(str(video)), cape, FixedBoxes(by_name=boxes), sinks)
    return {"stats": stats, "error_px": keypoint_error(frames, out / "poses_cape.jsonl"), "support": support,
            "support_image": image, "video": out / "demo_cape.mp4", "poses": out / "poses_cape.jsonl",
            "onnx": folder}
