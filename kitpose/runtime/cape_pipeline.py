"""CapePipeline: category-agnostic pose (FMMP) on frames, torch-free.

The support (annotated example images of one category) is encoded once: crops as in training
(kitpose.data.mp100.crop: box x 1.25, UDP affine, ImageNet mean/std), keypoints normalised to the
crop, equal-division padding to K = 70, the structure table, then support.onnx. Every frame's boxes
are then cropped the same way and run through query.onnx with the cached support outputs; the
points are cut back to the category's K_c keypoints and mapped to frame pixels.

    shot, category = read_support_file("support.json", "zebra.jpg")
    with CapePipeline.from_folder(cape_dir, [shot], category) as cape:
        poses = cape(frame, boxes)   # Poses: keypoints (N, K_c, 3) x, y, score
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kitpose.cape.padding import equal_padding
from kitpose.cape.structure import structure_table
from kitpose.closeable import Closeable
from kitpose.data.transforms import affine_points, get_affine_transform
from kitpose.runtime.cape_graphs import CapeGraphs, CapeMetadata
from kitpose.runtime.cape_support import Category, SupportError, SupportShot, check_category, check_shot
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.pipeline import Poses
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops


@dataclass(frozen=True)
class SupportInputs:
    """Host-side support tensors of one support set (S shots, K = 70 padded keypoints)."""

    images: np.ndarray   # (S, 3, h, w) float32 normalised crops
    points: np.ndarray   # (S, K, 2) float32 normalised, padded
    visible: np.ndarray  # (S, K) bool
    table: np.ndarray    # (K, M) int64 structure table
    seen: np.ndarray     # (K_c,) bool: real keypoints some shot sees (the others score 0)


def support_inputs(shots: list[SupportShot], category: Category, meta: CapeMetadata,
                   padding: float = 1.25) -> SupportInputs:
    """Crop, normalise and pad a support set as kitpose.data.mp100.episode_sample does at test time.

    Args:
        shots: the annotated examples, keypoints (K_c, 3) each.
        category: keypoint names and 0-based skeleton.
        meta: the graphs' metadata (input size, shots, mean/std, M).
        padding: box enlargement (1.25 as in training).
    Returns:
        SupportInputs.
    """
    if not shots:
        raise SupportError("support: the list of support shots is empty; give at least one annotated image")
    if len(shots) != meta.shots:
        raise SupportError(f"support: {len(shots)} support shot(s) given, the CAPE model was exported for "
                           f"{meta.shots}; give {meta.shots} or export the model again with shots={len(shots)}")
    check_category(category)
    shots = [check_shot(s, category, f"support[{i}]") for i, s in enumerate(shots)]
    crops, points, visible = zip(*(_crop_shot(s, meta, padding, f"support[{i}]") for i, s in enumerate(shots)))
    visible = np.stack(visible)  # (S, K_c)
    if not visible.any():
        raise SupportError("support: no visible keypoint lies inside its support box's crop; check 'bbox' "
                           "and 'keypoints' (x, y in image pixels, v > 0 for annotated ones)")
    padded = equal_padding(np.stack(points), visible, category.skeleton)
    table = structure_table(padded.links, padded.visible.any(0), meta.structure_m)  # (K, M)
    return SupportInputs(np.stack(crops), padded.points, padded.visible, table.astype(np.int64), visible.any(0))


def _crop_shot(shot: SupportShot, meta: CapeMetadata, padding: float, where: str):
    """(3, h, w) crop, (K_c, 2) normalised points, (K_c,) visible: those inside the crop with v > 0."""
    h, w = meta.input_size
    centers, scales, kept = boxes_to_crops(shot.box[None], shot.image.shape[:2], meta.input_size, padding)
    if not kept[0]:
        raise SupportError(f"{where}: 'bbox' {shot.box.tolist()} lies outside the {shot.image.shape[1]}x"
                           f"{shot.image.shape[0]} support image")
    mats = crop_matrices(centers, scales, meta.input_size)  # (1, 2, 3)
    crop = warp_crops(shot.image, mats, meta.input_size, meta.mean, meta.std)[0]  # (3, h, w)
    xy = np.where(shot.keypoints[:, 2:] > 0, shot.keypoints[:, :2], 0.0)  # unannotated at 0, as in training
    points = (affine_points(xy, mats[0]) + 0.5) / np.array([w, h])  # (K_c, 2) pixel centres at (i + 0.5) / w
    visible = (shot.keypoints[:, 2] > 0) & (points >= 0).all(1) & (points <= 1).all(1)
    return crop, points.astype(np.float32), visible


class CapePipeline(Closeable):
    """Support-conditioned top-down pose: frame + boxes -> the category's keypoints in frame pixels."""

    def __init__(self, graphs: CapeGraphs, shots: list[SupportShot], category: Category, max_batch: int = 16,
                 padding: float = 1.25, reencode: bool = False):
        """Args:
            graphs: the FMMP support and query graphs.
            shots: annotated support examples (as many as the graphs were exported for).
            category: keypoint names and 0-based skeleton of the support.
            max_batch: most query crops per query.onnx call.
            padding: box enlargement before cropping (support and query alike).
            reencode: run the support side again on every frame (for benchmarks; same keypoints).
        """
        self.graphs, self.category, self.shots = graphs, check_category(category), list(shots)
        self.max_batch, self.padding, self.reencode = int(max_batch), float(padding), bool(reencode)
        m = graphs.metadata
        self.metadata = ModelMetadata(category.keypoint_names, category.skeleton, (), (), m.input_size,
                                      m.input_size, m.mean, m.std, f"fmmp:{category.name}")
        self._inputs: np.ndarray | None = None  # query crop buffer reused across frames
        self.encode_support()

    @classmethod
    def from_folder(cls, folder: str | Path, shots: list[SupportShot], category: Category, device: str = "cpu",
                    threads: int = 0, **kwargs) -> "CapePipeline":
        """Open support.onnx + query.onnx in `folder` (export_cape_onnx's output) and encode the support."""
        return cls(CapeGraphs(folder, device, threads), shots, category, **kwargs)

    def encode_support(self) -> None:
        """Prepare the support on the host and run support.onnx; the result serves every later frame."""
        self.support = support_inputs(self.shots, self.category, self.graphs.metadata, self.padding)
        s = self.support
        self._state = {"support_points": s.points[None], "table": s.table[None],  # (1, S, K, 2), (1, K, M)
                       **self.graphs.encode(s.images, s.points, s.visible)}
        self._batched: dict[int, dict[str, np.ndarray]] = {}

    def query_points(self, crops: np.ndarray) -> np.ndarray:
        """Normalised points of every padded keypoint in query crops (N, 3, h, w). Returns (N, 70, 2)."""
        n = len(crops)
        if n not in self._batched:  # the support inputs repeated along the batch, kept per batch size
            self._batched[n] = {k: np.ascontiguousarray(np.repeat(v, n, axis=0)) for k, v in self._state.items()}
        return self.graphs.query(crops, self._batched[n])

    def __call__(self, frame: np.ndarray, boxes: np.ndarray) -> Poses:
        """The category's keypoints on every box of a frame.

        Args:
            frame: (h, w, 3) uint8 BGR.
            boxes: (N, 4) x, y, w, h pixels; boxes outside the frame are dropped.
        Returns:
            Poses: keypoints (N', K_c, 3) x, y, score (1 where the support sees the keypoint, else 0)
            in frame pixels, and the kept boxes (N', 4).
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be (h, w, 3) uint8 BGR, got {frame.shape} {frame.dtype}")
        if self.reencode:
            self.encode_support()
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        centers, scales, kept = boxes_to_crops(boxes, frame.shape[:2], self.metadata.input_size, self.padding)
        mats = crop_matrices(centers, scales, self.metadata.input_size)  # (N, 2, 3)
        parts = [self._points(frame, mats[i:i + self.max_batch], centers[i:i + self.max_batch],
                              scales[i:i + self.max_batch]) for i in range(0, len(mats), self.max_batch)]
        k = self.category.num_keypoints
        keypoints = np.concatenate(parts) if parts else np.zeros((0, k, 3), np.float32)
        return Poses(keypoints, boxes[kept])

    def _points(self, frame: np.ndarray, mats: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """(n, K_c, 3) frame-pixel keypoints of one batch of boxes."""
        m = self.metadata
        if self._inputs is None or len(self._inputs) < len(mats):
            self._inputs = np.empty((len(mats), 3, *m.input_size), np.float32)
        crops = warp_crops(frame, mats, m.input_size, m.mean, m.std, out=self._inputs)
        k = self.category.num_keypoints
        norm = self.query_points(crops)[:, :k]  # (n, K_c, 2) real keypoints only
        h, w = m.input_size
        px = norm * np.array([w, h]) - 0.5  # (n, K_c, 2) crop pixels
        out = np.empty((len(mats), k, 3), np.float32)
        for i, (center, scale) in enumerate(zip(centers, scales)):
            out[i, :, :2] = affine_points(px[i], get_affine_transform(center, scale, 0.0, m.input_size, inverse=True))
        out[..., 2] = self.support.seen
        return out

    def close(self) -> None:
        self.graphs.close()


__all__ = ["CapePipeline", "SupportInputs", "support_inputs"]
