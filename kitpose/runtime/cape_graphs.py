"""FMMP's two ONNX graphs (export/cape_onnx.py) in ONNX Runtime: support.onnx once per support set,
query.onnx per batch of query crops with the support's outputs as inputs. Torch-free.

Letters: N query crops, S shots, K = 70 padded keypoints, M structure columns, d model dim.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kitpose.cape.padding import PADDED_K
from kitpose.imagenet import IMAGENET_MEAN, IMAGENET_STD
from kitpose.runtime.metadata import ModelFileError
from kitpose.runtime.ort_runner import open_session

# The tensor names of export/cape_onnx.py (the runtime cannot import it: it needs torch); a test
# checks the two stay equal.
GRAPH_FILES = ("support.onnx", "query.onnx")
SUPPORT_INPUTS = ("support_images", "support_points", "support_visible")
STATE_NAMES = ("f0", "weights", "key_mask", "pyramid0", "pyramid1", "pyramid2")
QUERY_INPUTS = ("query", "support_points", "table", *STATE_NAMES)
POINTS_NAME = "points"


@dataclass(frozen=True)
class CapeMetadata:
    """What the export wrote on both graphs; sizes are (h, w)."""

    input_size: tuple[int, int]
    shots: int
    structure_m: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_props(cls, props: dict[str, str], where: str) -> "CapeMetadata":
        """From the graphs' metadata_props (key -> JSON text); `where` names the file in errors."""
        need = ("kind", "num_keypoints", "shots", "input_size", "structure_m")
        v = {k: json.loads(t) for k, t in props.items() if k in (*need, "mean", "std")}
        missing = [k for k in need if k not in v]
        if missing or v["kind"] != "fmmp":
            raise ModelFileError(f"{where}: not an FMMP graph of kitpose.export.cape_onnx (metadata lacks "
                                 f"{missing or 'kind=fmmp'}); export it with export_cape_onnx")
        if int(v["num_keypoints"]) != PADDED_K:
            raise ModelFileError(f"{where}: the graph pads to {v['num_keypoints']} keypoints, this runtime "
                                 f"to {PADDED_K}")
        return cls((int(v["input_size"][0]), int(v["input_size"][1])), int(v["shots"]), int(v["structure_m"]),
                   tuple(v.get("mean", IMAGENET_MEAN)), tuple(v.get("std", IMAGENET_STD)))


class CapeGraphs:
    """support.onnx + query.onnx of one FMMP export, from the folder holding both."""

    def __init__(self, folder: str | Path, device: str = "cpu", threads: int = 0):
        """Args:
            folder: the folder export_cape_onnx wrote (support.onnx, query.onnx).
            device: "cpu", or "cuda" for ORT's TensorRT / CUDA execution providers.
            threads: intra-op threads per session (0 = ORT default).
        """
        self.folder = Path(folder)
        paths = [self.folder / name for name in GRAPH_FILES]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ModelFileError(f"{self.folder}: CAPE model folder lacks {', '.join(missing)}; a CAPE model is "
                                 f"the folder kitpose.export.cape_onnx writes (support.onnx and query.onnx)")
        sessions = [open_session(p, device, threads) for p in paths]
        for session, path, names in zip(sessions, paths, (SUPPORT_INPUTS, QUERY_INPUTS)):
            got = tuple(i.name for i in session.get_inputs())
            if got != names:
                raise ModelFileError(f"{path}: expected inputs {list(names)}, found {list(got)}")
        self.support, self.query_session = sessions
        self.metadata = CapeMetadata.from_props(dict(self.query_session.get_modelmeta().custom_metadata_map),
                                                str(paths[1]))

    def encode(self, images: np.ndarray, points: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Run support.onnx on one support set.

        Args:
            images: (S, 3, h, w) float32 normalised crops.
            points: (S, K, 2) float32 padded normalised points.
            visible: (S, K) bool.
        Returns:
            STATE_NAMES -> arrays with a leading batch of 1 (f0 (1, K, d), pyramid_l (1, S, d, H_l, W_l), ...).
        """
        feed = {"support_images": np.ascontiguousarray(images[None], np.float32),  # (1, S, 3, h, w)
                "support_points": np.ascontiguousarray(points[None], np.float32),  # (1, S, K, 2)
                "support_visible": np.ascontiguousarray(visible[None], bool)}      # (1, S, K)
        return dict(zip(STATE_NAMES, self.support.run(list(STATE_NAMES), feed)))

    def query(self, crops: np.ndarray, support: dict[str, np.ndarray]) -> np.ndarray:
        """Run query.onnx on crops (N, 3, h, w) with support inputs already batched to N.

        Args:
            crops: (N, 3, h, w) float32.
            support: "support_points" (N, S, K, 2), "table" (N, K, M) int64 and every STATE_NAMES entry.
        Returns:
            (N, K, 2) float32 normalised xy in each crop (the last layer's points).
        """
        feed = {"query": np.ascontiguousarray(crops, np.float32), **support}
        (points,) = self.query_session.run([POINTS_NAME], feed)
        return points  # (N, K, 2)

    def close(self) -> None:
        self.support = self.query_session = None
