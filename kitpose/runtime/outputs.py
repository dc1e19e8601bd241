"""Where results go: overlay drawing, an mp4 writer, a window, JSON Lines and COCO results."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from kitpose.runtime.boxes import image_id_of
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.pipeline import Poses
from kitpose.visualize import draw_pose, draw_text


def render(image: np.ndarray, poses: Poses, meta: ModelMetadata, stats: list[str],
           threshold: float = 0.2) -> np.ndarray:
    """A copy of a BGR frame with boxes, skeletons, per-keypoint confidence dots and stats text."""
    out = image.copy()
    for kp, box in zip(poses.keypoints, poses.boxes):
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(out, (x, y), (x + w, y + h), (200, 200, 200), 1)
        draw_pose(out, kp[:, :2], kp[:, 2], meta.skeleton, meta.keypoint_names, threshold)
    return draw_text(out, stats)


def rate_text(fps: float, latency_ms: float) -> str:
    """The overlay's speed line: frame rate and latency, or latency alone with no frame rate yet
    (a single image, the first frame of a stream)."""
    if fps > 0:
        return f"{fps:5.1f} fps  {latency_ms:6.1f} ms"
    return f"{latency_ms:6.1f} ms latency"


class VideoSink:
    """mp4 (mp4v) writer opened on the first frame, so the size comes from the frames.

    A live loop runs for days, and an mp4 muxer keeps every frame's index entry in memory until
    the file is closed (~0.25 MiB per 1,000 frames here), so the recording is split into segments
    of `segment_frames`: overlay.mp4, overlay_001.mp4, overlay_002.mp4, ...
    """

    def __init__(self, path: str | Path, fps: float = 15.0, segment_frames: int | None = 9000):
        """Args:
            path: first segment's file; later ones get _001, _002 ... before the suffix.
            fps: frame rate written into the files.
            segment_frames: frames per file (default 9000 = 10 min at 15 fps); None: one file.
        """
        if segment_frames is not None and segment_frames < 1:
            raise ValueError(f"VideoSink segment_frames must be >= 1 or None, got {segment_frames}")
        self.path, self.fps, self.segment_frames = Path(path), float(fps), segment_frames
        self.writer, self.size, self.frames, self.paths = None, None, 0, []

    def write(self, image: np.ndarray, name: str = "") -> None:
        """Append one BGR frame; frames of another size are resized to the first one's."""
        h, w = image.shape[:2]
        if self.size is None:
            self.size = (w, h)
        if self.writer is not None and self.segment_frames and self.frames % self.segment_frames == 0:
            self.writer.release()
            self.writer = None
        if self.writer is None:
            self.writer = self._open(len(self.paths))
        if (w, h) != self.size:
            image = cv2.resize(image, self.size)
        self.writer.write(image)
        self.frames += 1

    def _open(self, segment: int):
        """A writer for segment number `segment` (0: `path` itself)."""
        path = self.path if segment == 0 else self.path.with_name(
            f"{self.path.stem}_{segment:03d}{self.path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size)
        if not writer.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot write mp4v video here (FFMPEG backend "
                               f"missing?); drop --out video output or install opencv-python")
        self.paths.append(path)
        return writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


class ImageDirSink:
    """Overlay images of an image set, one file per input name, in a folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, image: np.ndarray, name: str = "") -> None:
        if not cv2.imwrite(str(self.folder / (Path(name).stem + ".jpg")), image):
            raise RuntimeError(f"{self.folder}: cannot write overlay image for {name!r}")

    def close(self) -> None:
        """Nothing to release."""


def display_available() -> bool:
    """True when a window can be opened (a display server and an OpenCV build with highgui)."""
    has_server = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not has_server:
        return False
    try:
        cv2.namedWindow("kitpose", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("kitpose")
        return True
    except cv2.error:
        return False


class Window:
    """An OpenCV window; `show` returns False once the user presses q or Esc."""

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow("kitpose", image)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        cv2.destroyAllWindows()


class JsonlSink:
    """One JSON object per frame: name, index, boxes, keypoints (x, y, score), latency."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("w")

    def write(self, index: int, name: str, poses: Poses, latency_ms: float) -> None:
        row = {"frame": index, "name": name, "latency_ms": round(latency_ms, 3),
               "instances": [{"bbox": [round(float(v), 2) for v in box],
                              "keypoints": np.round(kp.astype(np.float64), 3).tolist()}
                             for kp, box in zip(poses.keypoints, poses.boxes)]}
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class CocoResults:
    """COCO keypoint results for an image set ([{image_id, category_id, keypoints, score}, ...])."""

    def __init__(self, path: str | Path, image_ids: dict[str, int] | None = None, category_id: int = 1,
                 threshold: float = 0.2):
        """Args:
            path: the JSON written on close.
            image_ids: file name -> COCO image id; other files use a numeric stem (785 for
                000000000785.jpg), else their index in the image set.
            category_id: of every row.
            threshold: keypoint confidence counted in the instance score.
        """
        self.path, self.image_ids = Path(path), image_ids or {}
        self.category_id, self.threshold, self.rows = category_id, threshold, []

    def add(self, name: str, index: int, poses: Poses) -> None:
        """Record one image's poses; the score is the mean confidence of keypoints above threshold."""
        image_id = image_id_of(name, self.image_ids)
        image_id = index if image_id is None else image_id
        for kp in poses.keypoints:
            confident = kp[:, 2][kp[:, 2] > self.threshold]
            score = float(confident.mean()) if len(confident) else 0.0
            flat = np.column_stack([kp[:, :2], np.ones(len(kp))]).reshape(-1)
            self.rows.append({"image_id": image_id, "category_id": self.category_id,
                              "keypoints": [round(float(v), 3) for v in flat], "score": round(score, 5)})

    def close(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.rows))
