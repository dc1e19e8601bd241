"""Warm-up/measure loop, percentiles and JSON-row output shared by the benchmarks."""
from __future__ import annotations

import ctypes
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def summarize(times_ms) -> dict:
    """p50/p90/p99/mean/min (ms) of per-call times, and how many there were."""
    t = np.asarray(times_ms, dtype=np.float64)
    return {"p50_ms": float(np.percentile(t, 50)), "p90_ms": float(np.percentile(t, 90)),
            "p99_ms": float(np.percentile(t, 99)), "mean_ms": float(t.mean()), "min_ms": float(t.min()),
            "repeat": int(t.size)}


def time_calls(fn: Callable[[], Any], repeat: int, min_seconds: float = 0.0, max_repeat: int | None = None,
               sync: Callable[[], None] | None = None, cuda_events: bool = False) -> list[float]:
    """Milliseconds of each of at least `repeat` calls of fn(), continuing until `min_seconds` were
    timed too (up to `max_repeat`, default 20 x repeat), so fast calls get samples for a stable p99.

    Args:
        fn: the call to time.
        sync: run after each call inside the timed region (e.g. torch.cuda.synchronize).
        cuda_events: time with CUDA events on torch's current stream (GPU time) instead of the host clock.
    """
    cap = max_repeat or 20 * repeat
    times: list[float] = []
    while len(times) < repeat or (sum(times) < 1e3 * min_seconds and len(times) < cap):
        if cuda_events:
            import torch

            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(float(start.elapsed_time(end)))
            continue
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def measure(fn: Callable[[], Any], warmup: int = 3, repeat: int = 20, sync: Callable[[], None] | None = None,
            min_seconds: float = 0.0, max_repeat: int | None = None) -> dict:
    """Time fn() (see `time_calls`) after `warmup` untimed calls.

    Returns:
        {"p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "repeat", "warmup", "timer": "perf_counter"}.
    """
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = time_calls(fn, repeat, min_seconds, max_repeat, sync)
    return {**summarize(times), "warmup": warmup, "timer": "perf_counter"}


def measure_cuda(fn: Callable[[], Any], warmup: int = 10, repeat: int = 100, min_seconds: float = 0.0,
                 max_repeat: int | None = None) -> dict:
    """Like `measure`, timed with CUDA events on the current stream (torch.cuda); GPU time per call.

    Returns:
        The `measure` fields with "timer": "cuda_events".
    """
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = time_calls(fn, repeat, min_seconds, max_repeat, cuda_events=True)
    return {**summarize(times), "warmup": warmup, "timer": "cuda_events"}


def omp_max_threads() -> int | None:
    """Threads an OpenMP region gets now, read from the loaded libgomp (torch and kitpose._C share it)."""
    try:
        return int(ctypes.CDLL("libgomp.so.1").omp_get_max_threads())
    except (OSError, AttributeError):
        return None


def pin_threads(threads: int) -> dict:
    """Give OpenMP (kitpose._C and torch), torch and OpenCV `threads` threads each; returns them as read back.

    torch.set_num_threads also sets the OpenMP count of the calling thread, which the compiled ops use;
    OMP_NUM_THREADS is only read when the runtime loads, so it is recorded, not relied on.
    """
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    return {"threads": threads, "omp_threads": omp_max_threads(), "torch_threads": torch.get_num_threads(),
            "cv2_threads": cv2.getNumThreads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def append_rows(path: Path, rows: list[dict]) -> None:
    """Append rows as JSON lines to path (created with its folder when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table of the given columns (floats with 3 decimals)."""
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else "-" if v is None else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
