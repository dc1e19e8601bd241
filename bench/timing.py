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


def measure(fn: Callable[[], Any], warmup: int = 3, repeat: int = 20, sync: Callable[[], None] | None = None) -> dict:
    """Time fn() `repeat` times after `warmup` calls; `sync` (e.g. torch.cuda.synchronize) runs after each call.

    Returns:
        {"p50_ms", "p90_ms", "mean_ms", "min_ms", "repeat", "warmup"}.
    """
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) * 1e3)
    t = np.asarray(times)
    return {"p50_ms": float(np.percentile(t, 50)), "p90_ms": float(np.percentile(t, 90)),
            "mean_ms": float(t.mean()), "min_ms": float(t.min()), "repeat": repeat, "warmup": warmup}


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
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
