"""ONNX metadata_props: everything a runtime needs besides the graph, as JSON strings."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from kitpose.export.config import ExportConfig

DATASET_FIELDS = ("keypoint_names", "skeleton", "flip_pairs", "sigmas")


def dataset_fields(cfg: ExportConfig) -> dict[str, Any]:
    """keypoint_names/skeleton/flip_pairs/sigmas from cfg.metadata, else DATASETS[cfg.dataset]."""
    if cfg.metadata is not None:
        source, where = cfg.metadata, "ExportConfig.metadata"
    elif cfg.dataset is not None:
        from kitpose.data.metadata import DATASETS  # lazy: only when no explicit metadata is given

        if cfg.dataset not in DATASETS:
            raise KeyError(f"ExportConfig.dataset {cfg.dataset!r} is not in kitpose.data.metadata."
                           f"DATASETS ({', '.join(sorted(DATASETS))})")
        source, where = DATASETS[cfg.dataset], f"DATASETS[{cfg.dataset!r}]"
    else:
        raise ValueError("ExportConfig needs metadata= (a dict) or dataset= (a DATASETS key)")
    get = source.get if isinstance(source, Mapping) else lambda k: getattr(source, k, None)
    missing = [k for k in DATASET_FIELDS if get(k) is None]
    if missing:
        raise KeyError(f"{where} lacks {missing}; the ONNX metadata needs {list(DATASET_FIELDS)}")
    return {k: _plain(get(k)) for k in DATASET_FIELDS}


def build_metadata(fields: dict[str, Any], num_keypoints: int, input_size: tuple[int, int],
                   heatmap_size: tuple[int, int], name: str, cfg: ExportConfig) -> dict[str, str]:
    """All metadata_props as JSON strings; the keypoint count must agree with the model.

    Args:
        fields: output of `dataset_fields`.
        num_keypoints: K of the model.
        input_size: (h, w) of the input crop.
        heatmap_size: (H, W) of the heatmaps output.
        name: model name to record.
        cfg: export settings (mean, std, opset, kmedoids_iters).
    Returns:
        key -> JSON text.
    """
    for key in ("keypoint_names", "sigmas"):
        if len(fields[key]) != num_keypoints:
            raise ValueError(f"metadata {key} has {len(fields[key])} entries but the model has "
                             f"K={num_keypoints} keypoints; pass matching metadata= or dataset=")
    import kitpose

    values = {**fields, "num_keypoints": num_keypoints, "input_size": list(input_size),
              "heatmap_size": list(heatmap_size), "mean": list(cfg.mean), "std": list(cfg.std),
              "pixel_scale": 1 / 255, "model_name": name, "version": kitpose.__version__,
              "kmedoids_iters": cfg.kmedoids_iters, "size_order": "(h, w)"}
    return {key: json.dumps(value) for key, value in values.items()}


def read_metadata(model_or_path: Any) -> dict[str, Any]:
    """metadata_props of an ONNX model (proto or file) decoded from JSON."""
    if not hasattr(model_or_path, "metadata_props"):
        from kitpose.export.files import load_onnx

        model_or_path = load_onnx(model_or_path)
    return {p.key: json.loads(p.value) for p in model_or_path.metadata_props}


def _plain(value: Any) -> Any:
    """numpy arrays and tuples as JSON-ready lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
