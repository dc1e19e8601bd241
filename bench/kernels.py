"""`python -m kitpose.bench kernels`: compiled CPU kernels vs official-style baselines.

Rows go to bench/results/kernels_cpu.jsonl (one JSON object per line, with system_info()).
Targets (reported, never asserted): DARK >= 20x its baseline; k-medoids >= 1x at D=4096, >= 5x at D=256.
Every row records the thread counts both sides ran with (`--threads`, default: all cores): OpenMP (the
compiled ops), torch (the k-medoids baseline) and OpenCV (the DARK baseline, single-threaded Python
around per-map cv2 calls). `--threads 1` gives the single-core comparison.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from kitpose.bench.baselines import dark_official, kmedoids_official
from kitpose.bench.timing import RESULTS_DIR, append_rows, markdown_table, measure, pin_threads
from kitpose.info import system_info
from kitpose.ops import compiled

TARGETS = {("dark_decode", 64): 20.0, ("dark_decode", 16): 20.0, ("kmedoids", 64): 1.0, ("kmedoids", 16): 5.0}


def heatmaps(batch: int, keypoints: int, side: int, seed: int = 0) -> np.ndarray:
    """(B, K, side, side) float32 maps: one Gaussian (sigma 2) at a random sub-pixel spot plus noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    cx = rng.uniform(0, side - 1, (batch, keypoints, 1, 1)).astype(np.float32)
    cy = rng.uniform(0, side - 1, (batch, keypoints, 1, 1)).astype(np.float32)
    maps = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 8.0)
    return (maps + 0.01 * rng.standard_normal(maps.shape)).astype(np.float32)


def bench_pair(op: str, side: int, fast, baseline, settings: dict, repeat: int) -> list[dict]:
    """Time the compiled op and its baseline in one run; the speed-up is their p50 ratio."""
    rows = []
    for impl, fn, rep in (("compiled_cpu", fast, repeat), ("baseline", baseline, max(3, repeat // 4))):
        rows.append({"bench": "kernels", "op": op, "impl": impl, "settings": settings, **measure(fn, repeat=rep)})
    speedup = rows[1]["p50_ms"] / rows[0]["p50_ms"]
    rows[0].update(speedup_p50=speedup, target_speedup=TARGETS[(op, side)])
    return rows


def run(batch: int = 64, keypoints: int = 17, clusters: int = 4, sides=(64, 16), repeat: int = 20,
        threads: int | None = None) -> list[dict]:
    """Benchmark DARK and k-medoids at each map side (D = side^2) with `threads` threads; returns the rows."""
    rows = []
    pinned = pin_threads(threads or os.cpu_count() or 1)
    for side in sides:
        maps = heatmaps(batch, keypoints, side)
        x = maps.reshape(batch, keypoints, side * side)
        xt = torch.from_numpy(x)
        common = {"B": batch, "K": keypoints, "H": side, "W": side, "D": side * side, **pinned}
        rows += bench_pair("dark_decode", side, lambda: compiled.dark_decode(maps, 11),
                           lambda: dark_official(maps, 11), {**common, "blur_kernel": 11}, repeat)
        rows += bench_pair("kmedoids", side, lambda: compiled.kmedoids_with_means(x, clusters, 40),
                           lambda: kmedoids_official(xt, clusters, 40), {**common, "C": clusters, "max_iters": 40},
                           repeat)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run the kernel benchmark, append the rows to bench/results/kernels_cpu.jsonl, print a table."""
    parser = argparse.ArgumentParser(prog="python -m kitpose.bench kernels", description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="threads for every side (default: all cores)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "kernels_cpu.jsonl"))
    args = parser.parse_args(argv)
    rows = run(batch=args.batch, repeat=args.repeat, threads=args.threads)
    info = system_info()
    load = os.getloadavg()  # (1, 5, 15 min): other jobs on the machine skew both sides, threads the most
    for row in rows:
        row.update(system=info, load_avg=load)
    append_rows(__import__("pathlib").Path(args.out), rows)
    flat = [{**r, **{k: r["settings"][k] for k in ("D", "threads")}} for r in rows]
    columns = ["op", "impl", "D", "threads", "p50_ms", "p90_ms", "mean_ms", "speedup_p50", "target_speedup"]
    print(markdown_table(flat, columns))


if __name__ == "__main__":
    main()
