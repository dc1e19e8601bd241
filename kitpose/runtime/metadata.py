"""What a runtime needs besides the graph: keypoints, skeleton, flip pairs, sizes, normalisation.

Read from the ONNX metadata_props written by `kitpose.export.export_onnx` (JSON strings), without
torch: through the `onnx` package when installed, else through ONNX Runtime's model metadata. An
engine carries no metadata of its own, so it is read from its sidecar (`<engine>.json`): either a
"metadata" entry or the ONNX file the sidecar names.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitpose.errors import UserInputError
from kitpose.imagenet import IMAGENET_MEAN, IMAGENET_STD


class ModelFileError(UserInputError, RuntimeError):
    """A model file that is missing, unreadable or lacks the runtime metadata (a RuntimeError too, as
    the runners' callers catch)."""


@dataclass(frozen=True)
class ModelMetadata:
    """Runtime view of the export metadata; sizes are (h, w)."""

    keypoint_names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    model_name: str = ""

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @classmethod
    def from_props(cls, props: dict[str, str], where: str) -> "ModelMetadata":
        """Build from metadata_props (key -> JSON text); `where` names the file in errors."""
        need = ("keypoint_names", "skeleton", "flip_pairs", "sigmas", "input_size", "heatmap_size")
        missing = [k for k in need if k not in props]
        if missing:
            raise ModelFileError(f"{where}: ONNX metadata lacks {missing}; re-export the model with "
                                 f"kitpose.export.export_onnx, which writes them")
        v = {k: json.loads(t) if isinstance(t, str) else t for k, t in props.items()}
        pairs = lambda key: tuple(tuple(int(i) for i in p) for p in v[key])  # noqa: E731
        return cls(keypoint_names=tuple(v["keypoint_names"]), skeleton=pairs("skeleton"),
                   flip_pairs=pairs("flip_pairs"), sigmas=tuple(float(s) for s in v["sigmas"]),
                   input_size=_hw(v["input_size"]), heatmap_size=_hw(v["heatmap_size"]),
                   mean=tuple(v.get("mean", cls.mean)), std=tuple(v.get("std", cls.std)),
                   model_name=str(v.get("model_name", "")))


def _hw(value: Any) -> tuple[int, int]:
    return int(value[0]), int(value[1])


def read_model_metadata(path: str | Path) -> ModelMetadata:
    """Metadata of an exported ONNX file or of an engine (through its sidecar JSON).

    Args:
        path: `.onnx` file, or an engine file with `<engine>.json` beside it.
    Returns:
        ModelMetadata.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    if path.suffix.lower() == ".onnx":
        return ModelMetadata.from_props(onnx_props(path), str(path))
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        raise ModelFileError(f"{path}: engines carry no keypoint metadata; expected the sidecar "
                             f"{sidecar} written by kitpose.export.build_engine")
    record = json.loads(sidecar.read_text())
    if "metadata" in record:
        return ModelMetadata.from_props(record["metadata"], str(sidecar))
    onnx_path = Path(record.get("onnx", ""))
    if not onnx_path.is_file():
        raise ModelFileError(f"{sidecar}: names the ONNX {str(onnx_path)!r}, which is not here; copy "
                             f"that ONNX next to the engine or pass it with --meta")
    return ModelMetadata.from_props(onnx_props(onnx_path), str(onnx_path))


def onnx_props(path: Path) -> dict[str, str]:
    """metadata_props of an ONNX file as key -> JSON text."""
    try:
        import onnx
    except ImportError:
        onnx = None
    try:
        if onnx is not None:
            proto = onnx.load(str(path), load_external_data=False)
            return {p.key: p.value for p in proto.metadata_props}
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return dict(sess.get_modelmeta().custom_metadata_map)
    except Exception as err:  # noqa: BLE001 - protobuf / ORT raise many types for a bad file
        raise ModelFileError(f"{path}: not a readable ONNX model ({type(err).__name__}: {err})") from None
