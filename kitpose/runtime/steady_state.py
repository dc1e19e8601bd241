"""Steady-state check of the live loop: N frames through capture thread -> pipeline -> sinks, with
resident memory sampled after warm-up, written as one JSON row (a benchmark, not a test).

    python -m kitpose.runtime.steady_state --model model.onnx --frames 2000   (row: --results FILE)
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from kitpose.commands import run_command
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


def _onnx_path(spec: str) -> Path:
    """Resolve in a child process, so an export's torch never sits in the measured process."""
    code = ("import sys; from kitpose.runtime.model_files import resolve_model; "
            "print(resolve_model(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-c", code, spec], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


@click.command("steady_state", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", default="default", show_default=True,
              help="'default', a checkpoint (exported in a subprocess) or an .onnx.")
@click.option("--frames", default=2000, show_default=True, type=click.IntRange(min=1), help="Frames after warm-up.")
@click.option("--warmup", default=200, show_default=True, type=click.IntRange(min=0),
              help="Frames before the first memory sample.")
@click.option("--instances", default=2, show_default=True, type=click.IntRange(min=1), help="Boxes per frame.")
@click.option("--size", default=(360, 640), show_default=True, type=(int, int), metavar="H W", help="Frame size.")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("bench/results/runtime_steady_state.jsonl"), show_default=True,
              help="JSON Lines file the row is appended to.")
@click.option("--scratch", type=click.Path(file_okay=False, path_type=Path),
              default=Path(tempfile.gettempdir()) / "kitpose_steady", help="Folder for the overlay and JSONL.")
@click.pass_context
def steady_state_cmd(ctx: click.Context, model: str, frames: int, warmup: int, instances: int,
                     size: tuple[int, int], results: Path, scratch: Path) -> dict:
    """Steady-state check of the live loop: fps, latency and resident memory growth as one JSON row."""
    onnx = _onnx_path(model)
    rng = np.random.default_rng(0)
    h, w = size
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(4)]
    boxes = np.array([[w * 0.1 + 40 * i, h * 0.1, w * 0.4, h * 0.6] for i in range(instances)])
    samples: list[tuple[int, float]] = []

    def on_frame(frame, poses):
        if frame.index >= warmup and frame.index % 50 == 0:
            samples.append((frame.index, rss_mib()))

    source = CaptureSource(lambda: CyclingCapture(images, warmup + frames), "synthetic", live=False, queue_size=1)
    sinks = Sinks(video=VideoSink(scratch / "overlay.mp4"), jsonl=JsonlSink(scratch / "poses.jsonl"))
    with PoseEstimator.from_file(onnx) as est:
        stats = run_loop(source, est, FixedBoxes(default=boxes), sinks, on_frame=on_frame)
    settings = {"frames": frames, "warmup": warmup, "instances": instances, "size": size}
    argv = (ctx.obj or {}).get("argv", sys.argv[1:])
    return _write_row(settings, onnx, stats, samples, argv, results)


def _write_row(settings: dict, model: Path, stats, samples: list[tuple[int, float]], argv: list[str],
               results: Path) -> dict:
    frames = settings["frames"]
    lat = stats.latencies_ms.values()[-frames:]  # the frames after warm-up (bounded window)
    proc = stats.process_ms.values()[-frames:]
    first, last = samples[0][1], samples[-1][1]
    span = max(1, samples[-1][0] - samples[0][0])
    from kitpose.info import system_info

    row = {"bench": "runtime_steady_state", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": "python -m kitpose.runtime.steady_state " + " ".join(argv),
           "model": model.name,
           "frames_total": stats.frames, "warmup": settings["warmup"], "instances": settings["instances"],
           "frame_hw": list(settings["size"]), "fps": round(stats.fps, 2),
           "capture_to_result_ms_p50_p90_p99": [round(float(np.percentile(lat, q)), 2) for q in (50, 90, 99)],
           "process_ms_p50_p90_p99": [round(float(np.percentile(proc, q)), 2) for q in (50, 90, 99)],
           "rss_mib_after_warmup": round(first, 1), "rss_mib_end": round(last, 1),
           "rss_growth_mib": round(last - first, 2),
           "rss_growth_percent": round(100 * (last - first) / first, 3),
           "rss_growth_kib_per_1000_frames": round((last - first) * 1024 * 1000 / span, 1),
           "skipped": stats.skipped, "system": system_info()}
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")
    click.echo(json.dumps(row, indent=1))
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the check (rows appended to --results); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_command(steady_state_cmd, argv, "python -m kitpose.runtime.steady_state", obj={"argv": argv})


if __name__ == "__main__":
    sys.exit(main())
