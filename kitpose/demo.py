"""`kitpose demo`: the whole product on the embedded default model, on the CPU, with no network.

Each step prints what it wrote and how long it took:
  1. a synthetic video of walking animals with per-frame ground truth    OUT/demo_input.mp4 (+ .json)
  2. ONNX export (clustering inside the graph, metadata, simplified)      OUT/export/model.onnx
  3. a TensorRT-RTX engine built ahead of time for SM 8.6, when the
     `tensorrt_rtx` package is installed (no GPU needed to build)       OUT/export/model.engine (+ .json)
  4. the torch-free pipeline (ONNX Runtime, OpenCV crops, C++ DARK
     decode) on the video, boxes from the video's ground truth          OUT/demo.mp4, OUT/poses.jsonl
  5. parity report PyTorch vs ONNX Runtime on held-out synthetic images  OUT/parity.json
  6. a short benchmark (`kitpose bench`'s pipeline bench): the ONNX
     Runtime and PyTorch eager pipelines on the same frames, in
     interleaved rounds, with per-stage times                            OUT/bench.jsonl, OUT/bench.md
  7. category-agnostic pose (kitpose/demo_cape.py): frame 0 and its
     ground truth as the support of the embedded FMMP model, which has
     never seen a quadruped, then the whole video                        OUT/cape/demo_cape.mp4, poses_cape.jsonl
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

VIDEO_SIZE = (360, 640)  # (h, w)


@contextmanager
def _step(title: str) -> Iterator[None]:
    """Print a step's title, then its wall time."""
    print(f"== {title}", flush=True)
    start = time.perf_counter()
    yield
    print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)


def _default_checkpoint() -> Path:
    from kitpose.models import DEFAULT_CHECKPOINT

    return DEFAULT_CHECKPOINT


def _model(spec: str):
    """The BenchModel for `spec` (the default falls back to random weights while its asset is missing)."""
    from kitpose.bench.models import load_bench_model

    bench = load_bench_model(spec)
    if bench.note:
        print(f"note: {bench.note} (keypoints are meaningless)")
    return bench


def _video_boxes(sidecar: Path, video: Path) -> tuple[dict[str, np.ndarray], list]:
    """Ground-truth boxes by frame name ("demo_input.mp4#t") and the per-frame GT instances."""
    frames = json.loads(sidecar.read_text())["frames"]
    boxes = {f"{video.name}#{f['frame']}": np.array([i["bbox"] for i in f["instances"]], np.float64
                                                    ).reshape(-1, 4) for f in frames}
    return boxes, frames


def keypoint_error(frames: list, poses_jsonl: Path) -> float:
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
    from kitpose.export.config import ExportConfig
    from kitpose.export.pipeline import run_pipeline
    from kitpose.export.sidecar import read_sidecar

    cfg = ExportConfig(precision="fp32", backend="tensorrt_rtx", compute_capability="8.6", batch=(1, 8, 16))
    engine = run_pipeline(onnx, out.parent, cfg, start="engine", stop_after="engine", dst=out)
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
    from kitpose.export.report import format_rows, verify_parity, write_report

    data = out / "parity_data"
    ann = generate_dataset(data, num_images, seed=777, image_size=(192, 192), split="val")
    report = verify_parity(model, [onnx], ann, data / "images",
                           extra={"command": "kitpose demo (step 5)"})
    write_report(report, out / "parity.json")
    for line in format_rows(report):
        print(f"   {line}")
    return report


def _bench(bench, onnx: Path, out: Path, instances: tuple[int, ...], seconds: float) -> list[dict]:
    """`kitpose bench`'s pipeline bench (ORT vs PyTorch eager) on frames holding `instances` animals.

    Both pipelines share the crops and the C++ DARK decode, so their ratio is the backend's.
    Appends the validated rows to OUT/bench.jsonl and writes the report to OUT/bench.md.
    """
    from kitpose.bench.report import markdown_report, pipeline_table
    from kitpose.bench.suite import Options, run_benches
    from kitpose.bench.timing import append_rows

    bench.onnx["fp32"] = onnx
    opts = Options(model=bench.spec, benches=("pipeline",), pipelines=("ort", "torch"), precisions=("fp32",),
                   instances=instances, warmup=1, repeat=6, min_seconds=seconds, rounds=2)
    rows, skips = run_benches(bench, opts, onnx.parent)
    append_rows(out / "bench.jsonl", rows)
    (out / "bench.md").write_text(markdown_report(rows, skips))
    print("\n".join(f"   {line}" for line in pipeline_table(rows).splitlines()))
    return rows


def run_demo(model_spec: str = "default", out_dir: str | Path = "out", frames: int = 45,
             parity_images: int = 24, bench_instances: tuple[int, ...] = (1, 4),
             bench_seconds: float = 1.0) -> dict:
    """Run the six steps; returns the paths written and the headline numbers.

    Args:
        model_spec: "default", a preset (random weights) or a kitpose checkpoint.
        out_dir: output folder.
        frames: length of the synthetic video.
        parity_images: held-out synthetic images of the parity report.
        bench_instances: animals per frame in the benchmark's frames.
        bench_seconds: least timed seconds per pipeline and animal count in the benchmark.
    """
    from kitpose.data.synthetic import generate_video
    from kitpose.export import ExportConfig
    from kitpose.export.pipeline import run_pipeline

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bench = _model(model_spec)
    model = bench.model
    print(f"model: {model_spec} ({type(model).__name__}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M "
          f"parameters, input {tuple(model.config.input_size)})")
    with _step(f"1/7 synthetic video ({frames} frames, {VIDEO_SIZE[1]}x{VIDEO_SIZE[0]})"):
        video = out / "demo_input.mp4"
        sidecar = generate_video(video, num_frames=frames, seed=0, size=VIDEO_SIZE)
        boxes, truth = _video_boxes(sidecar, video)
        print(f"   {video}, ground truth {sidecar}")
    with _step("2/7 ONNX export"):
        # the embedded checkpoint goes in as its file, so a second demo into the same folder finds it
        # unchanged in the manifest and skips the export (a module has no hash to compare)
        source = _default_checkpoint() if model_spec == "default" and bench.weights == "trained" else model
        onnx = run_pipeline(source, out / "export", ExportConfig(precision="fp32"), stop_after="onnx")
        print(f"   {onnx} ({onnx.stat().st_size / 1e6:.1f} MB)")
    with _step("3/7 TensorRT-RTX engine (ahead of time, SM 8.6)"):
        engine = _build_engine(onnx, out / "export" / "model.engine")
    with _step("4/7 torch-free pipeline on the video (ONNX Runtime)"):
        stats = _run_pipeline(onnx, video, boxes, out)
        error = keypoint_error(truth, out / "poses.jsonl")
        print(f"   {stats.frames} frames, {stats.instances} animals, {stats.skipped} skipped, "
              f"{stats.fps:.1f} fps; mean keypoint error {error:.2f} px (visible joints vs ground truth)")
        print(f"   {out / 'demo.mp4'}, {out / 'poses.jsonl'}")
    with _step(f"5/7 parity PyTorch vs ONNX Runtime ({parity_images} held-out synthetic images)"):
        report = _parity(model, onnx, out, parity_images)
        print(f"   {out / 'parity.json'}: {'PASS' if report['passed'] else 'FAIL'}")
    with _step(f"6/7 benchmark (ORT vs PyTorch eager pipelines, {'/'.join(map(str, bench_instances))} "
               f"animals per 1280x720 frame)"):
        rows = _bench(bench, onnx, out, bench_instances, bench_seconds)
    with _step("7/7 category-agnostic pose (default-cape): support = frame 0 + its ground truth, then the video"):
        cape = _cape(video, truth, boxes, out / "cape")
    if model_spec == "default":
        from kitpose.default_model import NOTE, REAL_FIXTURE_COMMAND

        print(f"note: {NOTE}.\n   The real-image figure is reproduced by: {REAL_FIXTURE_COMMAND}")
    return {"video": out / "demo.mp4", "poses": out / "poses.jsonl", "onnx": onnx, "engine": engine,
            "parity": out / "parity.json", "parity_passed": report["passed"], "bench": rows,
            "frames": stats.frames, "instances": stats.instances, "keypoint_error_px": error, "cape": cape}


def _cape(video: Path, truth: list, boxes: dict, out: Path) -> dict | None:
    """Step 7, or None (with the reason printed) while the embedded CAPE model is not installed."""
    from kitpose.default_model import CAPE_NOTE
    from kitpose.demo_cape import run_cape_part
    from kitpose.runtime.model_files import default_cape_checkpoint

    if not default_cape_checkpoint().is_file():
        print(f"   skipped: the embedded CAPE model {default_cape_checkpoint()} is not installed")
        return None
    result = run_cape_part(video, truth, boxes, out)
    stats = result["stats"]
    print(f"   support {result['support_image']} + {result['support']}; {stats.frames} frames, "
          f"{stats.instances} animals; mean keypoint error {result['error_px']:.2f} px")
    print(f"   {result['video']}, {result['poses']}")
    print(f"   note: {CAPE_NOTE}")
    return result
