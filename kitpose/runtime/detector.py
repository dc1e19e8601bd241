"""Person/animal detector from an ONNX file (YOLO-style export), run with ONNX Runtime.

Expected layout: one float input (1, 3, S, S) of RGB / 255 after a letterbox to S (114 grey
padding), and one output holding, per anchor, cx, cy, w, h in input pixels followed by nc class
scores, as (1, 4 + nc, A) (Ultralytics YOLOv8+ default) or (1, A, 4 + nc); the layout is told
apart by which axis is 4 + nc (A > 4 + nc is assumed). A YOLOv5-style objectness column is not
read: export without it. Boxes go through class-agnostic NMS (cv2.dnn.NMSBoxes).

Where one comes from: any detector exported in this layout, e.g. Ultralytics
`yolo export model=yolov8n.pt format=onnx` (COCO classes: 0 person, 14-23 animals; pick them with
`kitpose infer --classes`). The file is checked when it is opened: one run on a blank frame.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from kitpose.runtime.metadata import ModelFileError


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping aspect into (size, size) with grey borders. Returns (image, ratio, (dx, dy))."""
    h, w = frame.shape[:2]
    ratio = min(size / h, size / w)
    nh, nw = round(h * ratio), round(w * ratio)
    dy, dx = (size - nh) / 2, (size - nw) / 2
    out = np.full((size, size, 3), 114, np.uint8)
    top, left = int(round(dy - 0.1)), int(round(dx - 0.1))
    out[top:top + nh, left:left + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, ratio, (float(left), float(top))


def parse_yolo(output: np.ndarray, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(1, 4+nc, A) or (1, A, 4+nc) -> boxes (A, 4) cx, cy, w, h and class scores (A, nc)."""
    out = np.asarray(output, np.float32)
    if out.ndim == 3:
        out = out[0]
    if out.ndim != 2 or min(out.shape) < 5:
        raise ValueError(f"detector output must be (1, 4+nc, A) or (1, A, 4+nc), got {output.shape}")
    if num_classes is not None:
        rows_first = out.shape[0] == 4 + num_classes
    else:
        rows_first = out.shape[0] < out.shape[1]
    rows = out.T if rows_first else out  # (A, 4 + nc)
    return rows[:, :4], rows[:, 4:]


def nms_boxes(xywh: np.ndarray, scores: np.ndarray, conf: float, iou: float, max_det: int) -> np.ndarray:
    """Indices kept by class-agnostic NMS over boxes (A, 4) x, y, w, h with scores (A,)."""
    if len(xywh) == 0:
        return np.zeros(0, np.int64)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), float(conf), float(iou), top_k=max_det)
    return np.asarray(keep, np.int64).reshape(-1)[:max_det]


class Detector:
    """Boxes of chosen classes in a frame from a YOLO-style detector ONNX."""

    def __init__(self, path: str | Path, classes: tuple[int, ...] | None = None, conf: float = 0.3,
                 iou: float = 0.5, max_det: int = 20, device: str = "cpu"):
        """Args:
            path: detector ONNX (layout in the module docstring).
            classes: class indices to keep (e.g. (0,) for COCO person); None keeps all.
            conf / iou: score threshold and NMS IoU threshold.
            max_det: most boxes per frame.
            device: "cpu" or "cuda".
        """
        import onnxruntime as ort

        from kitpose.runtime.ort_runner import choose_providers

        if not Path(path).is_file():
            raise ModelFileError(f"{path}: detector file not found; pass a YOLO-layout detector ONNX, "
                                 f"e.g. an Ultralytics export")
        try:
            self.session = ort.InferenceSession(str(path), providers=choose_providers(
                device, ort.get_available_providers()))
        except Exception as err:  # noqa: BLE001
            reason = " ".join(str(err).split())
            raise ModelFileError(f"{path}: ONNX Runtime cannot load the detector ({reason})") from None
        inp = self.session.get_inputs()[0]
        side = inp.shape[-1]
        self.input_name, self.size = inp.name, int(side) if isinstance(side, int) else 640
        self.classes, self.conf, self.iou, self.max_det = classes, conf, iou, max_det
        self._check(path)

    def _check(self, path: str | Path) -> None:
        """One run on a blank frame, so a file of another layout fails here, not on the first frame."""
        try:
            self(np.zeros((self.size, self.size, 3), np.uint8))
        except Exception as err:  # noqa: BLE001 - wrong input size, output layout or class index
            reason = " ".join(str(err).split())
            raise ModelFileError(f"{path}: not a detector in the YOLO layout kitpose reads ({reason}); "
                                 f"see kitpose.runtime.detector") from None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Detect in a BGR frame (h, w, 3) uint8. Returns (N, 4) x, y, w, h in frame pixels."""
        image, ratio, (dx, dy) = letterbox(frame, self.size)
        blob = image[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0  # (1, 3, S, S)
        cxcywh, cls = parse_yolo(self.session.run(None, {self.input_name: blob})[0])
        if self.classes is not None:
            cls = cls[:, list(self.classes)]
        scores = cls.max(axis=1) if cls.shape[1] else np.zeros(len(cls), np.float32)
        xywh = np.column_stack([cxcywh[:, 0] - cxcywh[:, 2] / 2 - dx, cxcywh[:, 1] - cxcywh[:, 3] / 2 - dy,
                                cxcywh[:, 2], cxcywh[:, 3]]) / ratio
        keep = nms_boxes(xywh, scores, self.conf, self.iou, self.max_det)
        return xywh[keep].astype(np.float64)

    def close(self) -> None:
        self.session = None
