"""`kitpose demo`: the whole product on the embedded default model, on the CPU, with no network.

Each step prints what it wrote and how long it took:
  1. a synthetic video of walking animals with per-frame ground truth    OUT/demo_input.mp4 (+ .json)
  2. ONNX export (clustering inside the graph, metadata, simplified)      OUT/export/model.onnx
  3. a TensorRT-RTX engine built ahead of time for SM 8.6, when the
     `tensorrt_rtx` package is installed (no GPU needed to build)       OUT/export/model.engine (+ .json)
  4. the torch-free pipeline (ONNX Runtime, OpenCV crops, C++ DARK
     decode) on the video, boxes from the video's ground truth          OUT/demo.mp4, OUT/poses.jsonl
  5. parity report PyTorch vs ONNX Runtime on held-out synthetic images  OUT/parity.json
  6. a short benchmark: the same frames through the PyTorch eager and
     the ONNX Runtime pipelines                                          OUT/bench.jsonl, OUT/bench.md
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from kitpose.models import DEFAULT_CHECKPOINT, load_model

# The architecture of the embedded default model (configs/default_synth.yaml).
DEFAULT_PRESET = "kitpose-w8-128"
VIDEO_SIZE = (360, 640)  # (h, w)


@contextmanager
def _step(title: str) -> Iterator[None]:
    """Print a step's title, then its wall time."""
    print(f"== {title}", flush=True)
    start = time.perf_counter()
    yield
    print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)


def _model(spec: str):
    """The model for `spec`; the untrained default architecture if the asset is missing."""
    if spec == "default" and not DEFAULT_CHECKPOINT.is_file():
        print(f"note: no trained default model at {DEFAULT_CHECKPOINT}; running the "
              f"{DEFAULT_PRESET} preset with RANDOM weights (keypoints are meaningless)")
        spec = DEFAULT_PRESET
    return load_model(spec)


def _video_boxes(sidecar: Path, video: Path) -> tuple[dict[str, np.ndarray], list]:
    """Ground-truth boxes by frame name ("demo_input.mp4#t") and the per-frame GT instances."""
    frames = json.loads(sidecar.read_text())["frames"]
    boxes = {f"{video.name}#{f['frame']}": np.array([i["bbox"] for i in f["instances"]], np.float64
                                                    ).reshape(-1, 4) for f in frames}
    return boxes, frames


def _keypoint_error(frames: list, poses_jsonl: Path) -> float:
    """Mean distance (px) between predicted and visible GT keypoints over the video."""
    errors = []
    for row in map(json.loads, poses_jsonl.read_text().splitlines()):
        truth = frames[row["frame"]]["instances"]
        for pred, gt in zip(row["instances"], truth):
            gt_kp = np.asarray(gt["keypoints"], np.float64).reshape(-1, 3)   # (K, 3) x, y, v
            kp = np.asarray(pred["keypoints"], np.float64)                   # (K, 3) x, y, score
            visible = gt_kp[:, 2] > 0
            errors.extend(np.linalg.norm(kp[visible, :2] - gt_kp[visible, :2], axis=1).tolist())
    return float(np.mean(errors)) if errors else float("nan")


def _build_engine(onnx: Path, out: Path) -> Path | None:
    """A TensorRT-RTX engine for SM 8.6 built on the CPU, or None (with the reason printed)."""
    try:
        import tensorrt_rtx  # noqa: F401
    except ImportError as err:
        print(f"   skipped: the tensorrt_rtx package is not installed ({err}); "
              f"`pip install tensorrt-rtx-cu13` (or kitpose[trt-rtx]) enables this step")
        return None
    from kitpose.export.build_engine import build_engine
    from kitpose.export.sidecar import read_sidecar

    engine = build_engine(onnx, out, backend="tensorrt_rtx", compute_capability="8.6", batch=(1, 8, 16))
    record = read_sidecar(engine)
    print(f"   {engine} ({engine.stat().st_size / 1e6:.1f} MB), {record['flavour']} {record['version']}, "
          f"built in {record['build_seconds']:.1f} s for compute capability 8.6 (runs on a GPU only)")
    return engine


def _run_pipeline(onnx: Path, video: Path, boxes: dict, out: Path) -> Any:
    """The torch-free live loop on the video with ONNX Runtime; writes demo.mp4 and poses.jsonl."""
    from kitpose.runtime.loop import Sinks, run_loop
    from kitpose.runtime.outputs import JsonlSink, VideoSink
    from kitpose.runtime.pipeline import PoseEstimator
    from kitpose.runtime.sources import open_source
    from kitpose.runtime.tracker import FixedBoxes

    sinks = Sinks(video=VideoSink(out / "demo.mp4", fps=15.0), jsonl=JsonlSink(out / "poses.jsonl"))
    with PoseEstimator.from_file(onnx, "ort") as estimator:
        return run_loop(open_source(str(video)), estimator, FixedBoxes(by_name=boxes), sinks)


def _parity(model, onnx: Path, out: Path, num_images: int) -> dict:
    """verify_parity on held-out synthetic images (a seed the training data never used)."""
    from kitpose.data.synthetic import generate_dataset
    from kitpose.export.cli import format_rows
    from kitpose.export.verify import verify_parity, write_report

    data = out / "parity_data"
    ann = generate_dataset(data, num_images, seed=777, image_size=(192, 192), split="val")
    report = verify_parity(model, [onnx], ann, data / "images",
                           extra={"command": "kitpose demo (step 5)"})
    write_report(report, out / "parity.json")
    for line in format_rows(report):
        print(f"   {line}")
    return report


def _load_frames(video: Path, boxes: dict, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first `count` frames of the video with their boxes, decoded once into memory."""
    import cv2

    cap, frames = cv2.VideoCapture(str(video)), []
    while len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        frames.append((image, boxes[f"{video.name}#{len(frames)}"]))
    cap.release()
    return frames


def _bench(model, onnx: Path, video: Path, boxes: dict, out: Path, num_frames: int) -> list[dict]:
    """Frames/s of the PyTorch-eager and the ONNX Runtime pipelines on the same frames and boxes.

    Both use the same PoseEstimator (OpenCV crops, C++ DARK decode), so the ratio is the backend's.
    """
    from kitpose.bench.timing import append_rows, markdown_table, measure
    from kitpose.info import system_info
    from kitpose.runtime.ort_runner import OrtRunner
    from kitpose.runtime.pipeline import PoseEstimator
    from kitpose.runtime.torch_runner import TorchRunner

    frames = _load_frames(video, boxes, num_frames)
    instances = sum(len(b) for _, b in frames)
    ort = OrtRunner(onnx)
    backends = {"torch-eager": TorchRunner(model), "onnxruntime-cpu": ort}
    rows, system = [], system_info()
    for name, runner in backends.items():
        estimator = PoseEstimator(runner, ort.metadata)
        timing = measure(lambda: [estimator(image, b) for image, b in frames], warmup=1, repeat=3)
        fps = len(frames) / (timing["p50_ms"] / 1e3)
        rows.append({"bench": "demo_pipeline", "backend": name, "precision": "fp32",
                     "frames": len(frames), "instances": instances, "fps": round(fps, 2),
                     "ms_per_frame": round(timing["p50_ms"] / len(frames), 2), **timing,
                     "system": system})
        estimator.close()
    ratio = rows[1]["fps"] / rows[0]["fps"]
    for row in rows:
        row["speedup_vs_torch_eager"] = round(row["fps"] / rows[0]["fps"], 3)
    append_rows(out / "bench.jsonl", rows)
    table = markdown_table(rows, ["backend", "precision", "frames", "instances", "fps", "ms_per_frame",
                                  "speedup_vs_torch_eager"])
    (out / "bench.md").write_text(table + "\n")
    print("\n".join(f"   {line}" for line in table.splitlines()))
    print(f"   ONNX Runtime pipeline / PyTorch eager pipeline: {ratio:.2f}x")
    return rows


def run_demo(model_spec: str = "default", out_dir: str | Path = "out", frames: int = 45,
             parity_images: int = 24, bench_frames: int = 20) -> dict:
    """Run the six steps; returns the paths written and the headline numbers.

    Args:
        model_spec: "default", a preset (random weights) or a kitpose checkpoint.
        out_dir: output folder.
        frames: length of the synthetic video.
        parity_images: held-out synthetic images of the parity report.
        bench_frames: video frames timed per pipeline in the benchmark.
    """
    from kitpose.data.synthetic import generate_video
    from kitpose.export import ExportConfig
    from kitpose.export.cli import export_variants

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = _model(model_spec)
    print(f"model: {model_spec} ({type(model).__name__}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M "
          f"parameters, input {tuple(model.config.input_size)})")
    with _step(f"1/6 synthetic video ({frames} frames, {VIDEO_SIZE[1]}x{VIDEO_SIZE[0]})"):
        video = out / "demo_input.mp4"
        sidecar = generate_video(video, num_frames=frames, seed=0, size=VIDEO_SIZE)
        boxes, truth = _video_boxes(sidecar, video)
        print(f"   {video}, ground truth {sidecar}")
    with _step("2/6 ONNX export"):
        onnx = export_variants(model, out / "export", ["fp32"], ExportConfig(precision="fp32"))["fp32"]
        print(f"   {onnx} ({onnx.stat().st_size / 1e6:.1f} MB)")
    with _step("3/6 TensorRT-RTX engine (ahead of time, SM 8.6)"):
        engine = _build_engine(onnx, out / "export" / "model.engine")
    with _step("4/6 torch-free pipeline on the video (ONNX Runtime)"):
        stats = _run_pipeline(onnx, video, boxes, out)
        error = _keypoint_error(truth, out / "poses.jsonl")
        print(f"   {stats.frames} frames, {stats.instances} animals, {stats.skipped} skipped, "
              f"{stats.fps:.1f} fps; mean keypoint error {error:.2f} px (visible joints vs ground truth)")
        print(f"   {out / 'demo.mp4'}, {out / 'poses.jsonl'}")
    with _step(f"5/6 parity PyTorch vs ONNX Runtime ({parity_images} held-out synthetic images)"):
        report = _parity(model, onnx, out, parity_images)
        print(f"   {out / 'parity.json'}: {'PASS' if report['passed'] else 'FAIL'}")
    bench_frames = min(bench_frames, stats.frames)
    with _step(f"6/6 benchmark ({bench_frames} frames, same boxes, both pipelines)"):
        rows = _bench(model, onnx, video, boxes, out, bench_frames)
    return {"video": out / "demo.mp4", "poses": out / "poses.jsonl", "onnx": onnx, "engine": engine,
            "parity": out / "parity.json", "parity_passed": report["passed"], "bench": rows,
            "frames": stats.frames, "instances": stats.instances, "keypoint_error_px": error}
