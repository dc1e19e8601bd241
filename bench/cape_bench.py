"""Category-agnostic (FMMP) runtime bench: what caching the support buys, and what a CAPE instance costs.

In one run, interleaved in rounds so passing load hits every target alike:
- frame-cached / frame-reencode: one frame through CapePipeline (crops, query.onnx, mapping back),
  the support encoded once vs prepared and run through support.onnx again on every frame;
- frame-kitpose: the same frame and boxes through the KITPose PoseEstimator (ORT, DARK decode);
- instance-fmmp / instance-kitpose: one model call on one crop, query.onnx with the cached support
  vs the KITPose ONNX (the --model, `default` = kitpose-w8-128 shape).
Ratios (`ratio_p50`) are p50 over p50 of rows of this run.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from kitpose.bench.frames import synthetic_frame
from kitpose.bench.model_bench import Method, time_interleaved

# mode -> the mode its ratio_p50 is taken over
RATIO_OVER = {"frame-reencode": "frame-cached", "frame-cached": "frame-kitpose", "instance-fmmp": "instance-kitpose"}
SUPPORT_KEYPOINTS = 17  # a quadruped-sized keypoint set on a chain skeleton


def synthetic_support(size: tuple[int, int] = (360, 480)):
    """A support shot (one synthetic animal, K_c keypoints on a grid in its box) and its category."""
    from kitpose.runtime.cape_support import Category, SupportShot

    data, boxes = synthetic_frame(1, size, seed=1)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    x, y, w, h = boxes[0]
    t = np.linspace(0.1, 0.9, SUPPORT_KEYPOINTS)
    kps = np.column_stack([x + w * t, y + h * (0.5 + 0.3 * np.sin(6 * t)), np.full_like(t, 2.0)])  # (K_c, 3)
    names = tuple(f"k{i}" for i in range(SUPPORT_KEYPOINTS))
    skeleton = tuple((i, i + 1) for i in range(SUPPORT_KEYPOINTS - 1))
    return SupportShot(image, kps, boxes[0]), Category("synthetic", names, skeleton)


def export_cape(spec: str, out_dir: Path, shots: int = 1) -> tuple[Path, str]:
    """support.onnx + query.onnx for an FMMP preset (seeded random weights), checkpoint or 'default-cape'.

    Returns:
        (folder, weights: "random", "trained" or "checkpoint").
    """
    import torch

    from kitpose.export.cape_onnx import export_cape_onnx
    from kitpose.models import MODELS, create_model
    from kitpose.runtime.model_files import resolve_cape_model

    if spec not in MODELS:
        return resolve_cape_model(spec, shots, out_dir / "cache"), "trained" if spec == "default-cape" else "checkpoint"
    if MODELS[spec][0] != "fmmp":
        raise ValueError(f"--cape-model {spec!r} is a {MODELS[spec][0]} preset; choose an fmmp-* preset")
    torch.manual_seed(0)
    folder = out_dir / f"{spec}-s{shots}"
    if not all((folder / n).is_file() for n in ("support.onnx", "query.onnx")):
        export_cape_onnx(create_model(spec).eval(), folder, shots)
    return folder, "random"


def _targets(cape_dir: Path, kitpose_onnx: Path, frame: np.ndarray, boxes: np.ndarray, threads: int
             ) -> tuple[dict, list]:
    """mode -> (callable, instances per call), all on the same frame and boxes; and what to close after."""
    from kitpose.runtime.cape_pipeline import CapePipeline
    from kitpose.runtime.pipeline import PoseEstimator
    from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops

    shot, category = synthetic_support()
    cached = CapePipeline.from_folder(cape_dir, [shot], category, threads=threads)
    fresh = CapePipeline.from_folder(cape_dir, [shot], category, threads=threads, reencode=True)
    kitpose = PoseEstimator.from_file(kitpose_onnx)
    meta = cached.metadata
    centers, scales, _ = boxes_to_crops(boxes[:1], frame.shape[:2], meta.input_size)
    crop = warp_crops(frame, crop_matrices(centers, scales, meta.input_size), meta.input_size, meta.mean, meta.std)
    kp_meta = kitpose.metadata
    centers, scales, _ = boxes_to_crops(boxes[:1], frame.shape[:2], kp_meta.input_size)
    kp_crop = warp_crops(frame, crop_matrices(centers, scales, kp_meta.input_size), kp_meta.input_size,
                         kp_meta.mean, kp_meta.std)  # (1, 3, h, w)
    n = len(boxes)
    return {"frame-cached": (lambda: cached(frame, boxes), n), "frame-reencode": (lambda: fresh(frame, boxes), n),
            "frame-kitpose": (lambda: kitpose(frame, boxes), n),
            "instance-fmmp": (lambda: cached.query_points(crop), 1),
            "instance-kitpose": (lambda: kitpose.runner(kp_crop), 1)}, [cached, fresh, kitpose]


def run_cape_bench(kitpose_bench, cape_model: str, instances: list[int], method: Method, work_dir: Path,
                   frame_size: tuple[int, int] = (720, 1280)) -> tuple[list[dict], list[str]]:
    """Rows of every mode at every boxes-per-frame count (see the module docstring).

    Args:
        kitpose_bench: the BenchModel of --model (its fp32 ONNX is exported here when missing).
        cape_model: FMMP preset, checkpoint or 'default-cape'.
        instances: boxes per frame.
        method: warm-up, repeats, rounds, threads (device must be "cpu": the CAPE graphs run in ORT).
        work_dir: exported files.
        frame_size: (h, w) of the synthetic frames.
    Returns:
        (partial rows for kitpose.bench.suite.stamp, skip reasons).
    """
    from kitpose.bench.models import export_onnx_variants

    if "fp32" not in kitpose_bench.onnx:
        export_onnx_variants(kitpose_bench, work_dir / "onnx" / Path(kitpose_bench.spec).stem, ["fp32"])
    cape_dir, weights = export_cape(cape_model, work_dir / "cape")
    rows = []
    for count in instances:
        data, boxes = synthetic_frame(count, frame_size)
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        targets, opened = _targets(cape_dir, kitpose_bench.onnx["fp32"], frame, boxes, method.threads)
        stats = time_interleaved({mode: fn for mode, (fn, _) in targets.items()}, method)
        for pipe in opened:
            pipe.close()
        for mode, s in stats.items():
            over = RATIO_OVER.get(mode)
            kitpose_row = mode.endswith("kitpose")
            rows.append({"bench": "cape", "backend": "ort", "precision": "fp32", "device": "cpu",
                         "model": kitpose_bench.spec if kitpose_row else cape_model,
                         "weights": kitpose_bench.weights if kitpose_row else weights,
                         "instances": targets[mode][1], "mode": mode, **s,
                         "throughput": 1e3 * targets[mode][1] / s["mean_ms"],
                         "ratio_p50": s["p50_ms"] / stats[over]["p50_ms"] if over else None, "ratio_over": over,
                         "settings": {"frame_hw": list(frame_size), "boxes_per_frame": count,
                                      "input_size": list(targets_input_size(cape_dir, kitpose_bench, kitpose_row)),
                                      "support": f"1 shot, {SUPPORT_KEYPOINTS} keypoints, synthetic",
                                      "rounds": method.rounds, "cape_dir": str(cape_dir)}})
    return rows, []


def targets_input_size(cape_dir: Path, kitpose_bench, kitpose_row: bool) -> tuple[int, int]:
    """(h, w) of the crops the row's model takes."""
    if kitpose_row:
        return kitpose_bench.input_size
    from kitpose.runtime.metadata import onnx_props

    return tuple(json.loads(onnx_props(cape_dir / "query.onnx")["input_size"]))
