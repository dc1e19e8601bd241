"""Steady-state check of the live loop: N frames through capture thread -> pipeline -> sinks, with
resident memory sampled after warm-up, written as one JSON row (a benchmark, not a test).

    python -m kitpose.runtime.steady_state --model model.onnx --frames 2000 --out bench/results
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from kitpose.runtime.loop import Sinks, run_loop
from kitpose.runtime.outputs import JsonlSink, VideoSink
from kitpose.runtime.pipeline import PoseEstimator
from kitpose.runtime.sources import CaptureSource
from kitpose.runtime.tracker import FixedBoxes


def rss_mib() -> float:
    """Resident set size of this process in MiB (Linux /proc; kitpose.bench.memory reads it)."""
    from kitpose.bench.memory import rss_mib as read_rss

    value = read_rss()
    if value is None:
        raise RuntimeError("VmRSS missing from /proc/self/status (not Linux?)")
    return value


class CyclingCapture:
    """A capture-like object that returns `count` frames cycled from a small list."""

    def __init__(self, frames: list[np.ndarray], count: int):
        self.frames, self.left, self.i = frames, count, 0

    def isOpened(self) -> bool:  # noqa: N802 - cv2 API name
        return True

    def read(self):
        if self.left <= 0:
            return False, None
        self.left, self.i = self.left - 1, self.i + 1
        return True, self.frames[self.i % len(self.frames)].copy()  # a fresh array, as a camera gives

    def release(self) -> None:
        """Nothing to release."""


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default",
                   help="'default', a checkpoint (exported in a subprocess) or an .onnx")
    p.add_argument("--frames", type=int, default=2000, help="frames after warm-up")
    p.add_argument("--warmup", type=int, default=200, help="frames before the first memory sample")
    p.add_argument("--instances", type=int, default=2, help="boxes per frame")
    p.add_argument("--size", type=int, nargs=2, default=(360, 640), metavar=("H", "W"))
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--scratch", type=Path, default=Path("/tmp/kitpose_steady"), help="overlay/JSONL folder")
    return p


def _onnx_path(spec: str) -> Path:
    """Resolve in a child process, so an export's torch never sits in the measured process."""
    code = ("import sys; from kitpose.runtime.model_files import resolve_model; "
            "print(resolve_model(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-c", code, spec], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    args = get_args_parser().parse_args(argv)
    model = _onnx_path(args.model)
    rng = np.random.default_rng(0)
    h, w = args.size
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(4)]
    boxes = np.array([[w * 0.1 + 40 * i, h * 0.1, w * 0.4, h * 0.6] for i in range(args.instances)])
    samples: list[tuple[int, float]] = []

    def on_frame(frame, poses):
        if frame.index >= args.warmup and frame.index % 50 == 0:
            samples.append((frame.index, rss_mib()))

    total = args.warmup + args.frames
    source = CaptureSource(lambda: CyclingCapture(frames, total), "synthetic", live=False, queue_size=1)
    sinks = Sinks(video=VideoSink(args.scratch / "overlay.mp4"),
                  jsonl=JsonlSink(args.scratch / "poses.jsonl"))
    with PoseEstimator.from_file(model) as est:
        stats = run_loop(source, est, FixedBoxes(default=boxes), sinks, on_frame=on_frame)
    return _write_row(args, model, stats, samples, argv)


def _write_row(args, model: Path, stats, samples: list[tuple[int, float]], argv=None) -> dict:
    lat = stats.latencies_ms.values()[-args.frames:]  # the frames after warm-up (bounded window)
    proc = stats.process_ms.values()[-args.frames:]
    first, last = samples[0][1], samples[-1][1]
    span = max(1, samples[-1][0] - samples[0][0])
    from kitpose.info import system_info

    row = {"bench": "runtime_steady_state", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": "python -m kitpose.runtime.steady_state " + " ".join(sys.argv[1:] if argv is None
                                                                           else argv),
           "model": model.name,
           "frames_total": stats.frames, "warmup": args.warmup, "instances": args.instances,
           "frame_hw": list(args.size), "fps": round(stats.fps, 2),
           "capture_to_result_ms_p50_p90_p99": [round(float(np.percentile(lat, q)), 2) for q in (50, 90, 99)],
           "process_ms_p50_p90_p99": [round(float(np.percentile(proc, q)), 2) for q in (50, 90, 99)],
           "rss_mib_after_warmup": round(first, 1), "rss_mib_end": round(last, 1),
           "rss_growth_mib": round(last - first, 2),
           "rss_growth_percent": round(100 * (last - first) / first, 3),
           "rss_growth_kib_per_1000_frames": round((last - first) * 1024 * 1000 / span, 1),
           "skipped": stats.skipped, "system": system_info()}
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "runtime_steady_state.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=1))
    return row


if __name__ == "__main__":
    main()
