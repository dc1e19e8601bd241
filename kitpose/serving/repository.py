"""A Triton model repository for the official Triton container (`kitpose export --triton DIR`).

    DIR/kitpose_heatmaps/config.pbtxt, 1/model.onnx (or 1/model.plan)   crops -> heatmaps
    DIR/kitpose_decode/config.pbtxt, 1/model.py                         Python backend: DARK decode
    DIR/kitpose_pose/config.pbtxt, 1/                                   ensemble: crops + crop rows -> keypoints

Clients call `kitpose_pose` with one row per crop: `input` (3, h, w) float32 (the normalised crop,
as kitpose.runtime.preprocess makes it) and `crop` (5,) float32 (cx, cy, sw, sh, rotation), and get
`keypoints` (K, 3) in frame pixels; kitpose.serving.client.crop_requests builds the rows and
the model's keypoint metadata rides along as the ensemble's config parameters. Every crop is one
batch item of the same shape, so Triton's dynamic batcher joins crops from all clients.

Run it on a GPU node with the official container (the Python backend and numpy are inside):

    docker run --gpus all --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 -v $PWD/DIR:/models \\
        nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models

A TensorRT plan must come from the TensorRT version of that container (see the Triton release
notes); with an ONNX model the container's ONNX Runtime backend runs it (its TensorRT execution
provider can be enabled in config.pbtxt's optimization block).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from kitpose.config import HEATMAPS_NAME, INPUT_NAME
from kitpose.runtime.metadata import onnx_props, read_model_metadata

HEATMAPS_MODEL, DECODE_MODEL, POSE_MODEL = "kitpose_heatmaps", "kitpose_decode", "kitpose_pose"
CROP_NAME, KEYPOINTS_NAME = "crop", "keypoints"
DECODE_SOURCE = Path(__file__).with_name("triton_decode.py")


@dataclass(frozen=True)
class TritonSettings:
    """Scheduling of the repository's models.

    max_batch: most crops per batch (a TensorRT plan's profile must allow it).
    preferred: batch sizes the dynamic batcher sends at once when it has them.
    queue_delay_us: longest a crop waits for others to batch with.
    instances: copies of the heatmap model per GPU (decode gets one per CPU group).
    kind: "KIND_GPU" or "KIND_CPU" for the heatmap model.
    """

    max_batch: int = 32
    preferred: tuple[int, ...] = (8, 16, 32)
    queue_delay_us: int = 2000
    instances: int = 1
    kind: str = "KIND_GPU"


def _io(name: str, dtype: str, dims: list[int]) -> str:
    return f'  {{ name: "{name}" data_type: {dtype} dims: [ {", ".join(str(d) for d in dims)} ] }}'


def _batching(s: TritonSettings) -> str:
    preferred = ", ".join(str(b) for b in s.preferred if b <= s.max_batch) or str(s.max_batch)
    return (f"dynamic_batching {{\n  preferred_batch_size: [ {preferred} ]\n"
            f"  max_queue_delay_microseconds: {s.queue_delay_us}\n}}\n")


def heatmaps_config(platform: str, input_hw, heatmap_shape, dtype: str, s: TritonSettings) -> str:
    """config.pbtxt of the network: input (3, h, w) -> heatmaps (K, H, W)."""
    return (f'name: "{HEATMAPS_MODEL}"\nplatform: "{platform}"\nmax_batch_size: {s.max_batch}\n'
            f"input [\n{_io(INPUT_NAME, 'TYPE_FP32', [3, *input_hw])}\n]\n"
            f"output [\n{_io(HEATMAPS_NAME, dtype, list(heatmap_shape))}\n]\n" + _batching(s) +
            f"instance_group [ {{ count: {s.instances} kind: {s.kind} }} ]\n")


def decode_config(heatmap_shape, dtype: str, s: TritonSettings) -> str:
    """config.pbtxt of the Python-backend decode: heatmaps (K, H, W) + crop (5,) -> keypoints (K, 3)."""
    return (f'name: "{DECODE_MODEL}"\nbackend: "python"\nmax_batch_size: {s.max_batch}\n'
            f"input [\n{_io(HEATMAPS_NAME, dtype, list(heatmap_shape))},\n{_io(CROP_NAME, 'TYPE_FP32', [5])}\n]\n"
            f"output [\n{_io(KEYPOINTS_NAME, 'TYPE_FP32', [heatmap_shape[0], 3])}\n]\n" + _batching(s) +
            f"instance_group [ {{ count: {s.instances} kind: KIND_CPU }} ]\n"
            'parameters { key: "blur_kernel" value: { string_value: "11" } }\n')


def pose_config(input_hw, num_keypoints: int, props: dict[str, str], s: TritonSettings) -> str:
    """config.pbtxt of the ensemble; the ONNX metadata (keypoint names, sizes, mean/std) as parameters."""
    params = "".join(f'parameters {{ key: "{k}" value: {{ string_value: {json.dumps(v)} }} }}\n'
                     for k, v in sorted(props.items()))
    step = ('    {{ model_name: "{m}" model_version: -1\n{maps}    }}')
    maps = lambda pairs: "".join(f'      {kind} {{ key: "{k}" value: "{v}" }}\n' for kind, k, v in pairs)  # noqa: E731
    steps = [step.format(m=HEATMAPS_MODEL, maps=maps([("input_map", INPUT_NAME, INPUT_NAME),
                                                      ("output_map", HEATMAPS_NAME, HEATMAPS_NAME)])),
             step.format(m=DECODE_MODEL, maps=maps([("input_map", HEATMAPS_NAME, HEATMAPS_NAME),
                                                    ("input_map", CROP_NAME, CROP_NAME),
                                                    ("output_map", KEYPOINTS_NAME, KEYPOINTS_NAME)]))]
    return (f'name: "{POSE_MODEL}"\nplatform: "ensemble"\nmax_batch_size: {s.max_batch}\n'
            f"input [\n{_io(INPUT_NAME, 'TYPE_FP32', [3, *input_hw])},\n{_io(CROP_NAME, 'TYPE_FP32', [5])}\n]\n"
            f"output [\n{_io(KEYPOINTS_NAME, 'TYPE_FP32', [num_keypoints, 3])}\n]\n"
            "ensemble_scheduling {\n  step [\n" + ",\n".join(steps) + "\n  ]\n}\n" + params)


def _heatmaps_dtype(onnx_path: Path) -> str:
    """TYPE_FP32 or TYPE_FP16: the element type of the ONNX heatmaps output."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    out = next((o for o in graph.output if o.name == HEATMAPS_NAME), None)
    if out is None:
        raise ValueError(f"{onnx_path}: no output named {HEATMAPS_NAME!r}; export it with `kitpose export`")
    return "TYPE_FP16" if out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16 else "TYPE_FP32"


def write_repository(onnx_path: Path, out_dir: Path, settings: TritonSettings = TritonSettings(),
                     engine: Path | None = None) -> Path:
    """Write the three-model repository for an exported ONNX (and optionally its TensorRT plan).

    Args:
        onnx_path: ONNX from `kitpose export` (its metadata gives sizes and keypoints).
        out_dir: repository folder (created; existing model folders are replaced).
        settings: batching and instances.
        engine: a TensorRT plan built from onnx_path for the serving GPU; served instead of the ONNX.
    Returns:
        out_dir.
    """
    onnx_path, out_dir = Path(onnx_path), Path(out_dir)
    meta = read_model_metadata(onnx_path)
    dtype = _heatmaps_dtype(onnx_path)
    heatmap_shape = (meta.num_keypoints, *meta.heatmap_size)  # (K, H, W)
    platform, weights = ("tensorrt_plan", engine) if engine is not None else ("onnxruntime_onnx", onnx_path)
    files = {
        HEATMAPS_MODEL: heatmaps_config(platform, meta.input_size, heatmap_shape, dtype, settings),
        DECODE_MODEL: decode_config(heatmap_shape, dtype, settings),
        POSE_MODEL: pose_config(meta.input_size, meta.num_keypoints, onnx_props(onnx_path), settings),
    }
    for name, config in files.items():
        shutil.rmtree(out_dir / name, ignore_errors=True)
        (out_dir / name / "1").mkdir(parents=True)
        (out_dir / name / "config.pbtxt").write_text(config)
    shutil.copyfile(weights, out_dir / HEATMAPS_MODEL / "1" / ("model.plan" if engine else "model.onnx"))
    shutil.copyfile(DECODE_SOURCE, out_dir / DECODE_MODEL / "1" / "model.py")
    return out_dir
