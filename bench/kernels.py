"""`python -m kitpose.bench kernels`: compiled CPU kernels vs official-style baselines.

Rows go to bench/results/kernels_cpu.jsonl (one JSON object per line, with system_info()).
Targets (reported, never asserted): DARK >= 20x its baseline; k-medoids >= 1x at D=4096, >= 5x at D=256.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from kitpose.bench.baselines import dark_official, kmedoids_official
from kitpose.bench.timing import RESULTS_DIR, append_rows, markdown_table, measure
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


def run(batch: int = 64, keypoints: int = 17, clusters: int = 4, sides=(64, 16), repeat: int = 20) -> list[dict]:
    """Benchmark DARK and k-medoids at each map side (D = side^2); returns the rows."""
    rows = []
    threads = torch.get_num_threads()
    for side in sides:
        maps = heatmaps(batch, keypoints, side)
        x = maps.reshape(batch, keypoints, side * side)
        xt = torch.from_numpy(x)
        common = {"B": batch, "K": keypoints, "H": side, "W": side, "D": side * side, "torch_threads": threads}
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
    parser.add_argument("--out", default=str(RESULTS_DIR / "kernels_cpu.jsonl"))
    args = parser.parse_args(argv)
    rows = run(batch=args.batch, repeat=args.repeat)
    info = system_info()
    for row in rows:
        row["system"] = info
    append_rows(__import__("pathlib").Path(args.out), rows)
    flat = [{**r, **{k: r["settings"][k] for k in ("D",)}} for r in rows]
    print(markdown_table(flat, ["op", "impl", "D", "p50_ms", "p90_ms", "mean_ms", "speedup_p50", "target_speedup"]))


if __name__ == "__main__":
    main()
