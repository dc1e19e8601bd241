"""Warm-up/measure loop, percentiles and JSON-row output shared by the benchmarks."""
from __future__ import annotations

import json
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
