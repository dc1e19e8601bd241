"""`python -m kitpose.bench kernels [--device cuda]`: compiled kernels vs official-style baselines.

Rows go to bench/results/kernels_{cpu,cuda}.jsonl (one JSON object per line, with system_info()).
CPU targets (reported, never asserted): DARK >= 20x its baseline; k-medoids >= 1x at D=4096, >= 5x
at D=256. GPU targets (`--device cuda`, see `run_cuda`): DARK >= 200x the NumPy baseline and within
2x of the memory-bandwidth bound at B=4096; k-medoids >= 50x the PyTorch baseline on the same GPU;
warp + normalise of 32 crops from a 1080p frame <= 0.2 ms.
Every row records the thread counts both sides ran with (`--threads`, default: all cores): OpenMP (the
compiled ops), torch (the k-medoids baseline) and OpenCV (the DARK baseline, single-threaded Python
around per-map cv2 calls). `--threads 1` gives the single-core comparison.
"""
from __future__ import annotations

import os
from pathlib import Path

import click
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


def _cuda_timer(torch_mod):
    """measure() keyword arguments that time GPU work to completion."""
    return {"sync": torch_mod.cuda.synchronize}


def _copy_bound_ms(maps) -> dict:
    """Time of a device-to-device copy of the maps: the practical memory-bandwidth bound of a
    kernel that reads them once (it also writes them, so this is a generous 2x-read bound)."""
    out = torch.empty_like(maps)
    return measure(lambda: out.copy_(maps), repeat=50, **_cuda_timer(torch))


def run_cuda(batch: int = 64, big_batch: int = 4096, keypoints: int = 17, clusters: int = 4,
             repeat: int = 50) -> list[dict]:
    """GPU rows: DARK (B and big_batch, and B again on maps that all take the clamp path) vs the NumPy
    baseline and a copy bound; k-medoids vs the PyTorch baseline on the same GPU; warp + normalise
    of 32 crops from a 1080p frame."""
    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    dev, timer, rows = torch.device("cuda"), _cuda_timer(torch), []
    common = {"device": torch.cuda.get_device_name(0)}
    for b, kind in ((batch, "peaked"), (big_batch, "peaked"), (batch, "clamp")):
        host = heatmaps(b, keypoints, 64)
        if kind == "clamp":  # peaks in a negative background: every map blurs all of itself (the clamp path)
            host = np.where(host > 0.9, host, -0.5).astype(np.float32)
        maps = torch.from_numpy(host).to(dev)
        settings = {**common, "B": b, "K": keypoints, "H": 64, "W": 64, "blur_kernel": 11, "maps": kind}
        fast = {"bench": "kernels", "op": "dark_decode", "impl": "compiled_cuda", "settings": settings,
                **measure(lambda: compiled.dark_decode(maps, 11), repeat=repeat, **timer)}
        base = {"bench": "kernels", "op": "dark_decode", "impl": "baseline_numpy", "settings": settings,
                **measure(lambda: dark_official(host, 11), warmup=1, repeat=3 if b > 256 else 5)}
        bound = _copy_bound_ms(maps)
        fast.update(speedup_p50=base["p50_ms"] / fast["p50_ms"], target_speedup=200.0,
                    copy_bound_p50_ms=bound["p50_ms"], vs_copy_bound=fast["p50_ms"] / bound["p50_ms"],
                    target_vs_copy_bound=2.0)
        rows += [fast, base]
    for side in (64, 16):
        x = torch.from_numpy(heatmaps(batch, keypoints, side).reshape(batch, keypoints, -1)).to(dev)
        settings = {**common, "B": batch, "K": keypoints, "D": side * side, "C": clusters, "max_iters": 40}
        fast = {"bench": "kernels", "op": "kmedoids", "impl": "compiled_cuda", "settings": settings,
                **measure(lambda: compiled.kmedoids_with_means(x, clusters, 40), repeat=repeat, **timer)}
        base = {"bench": "kernels", "op": "kmedoids", "impl": "baseline_torch_cuda", "settings": settings,
                **measure(lambda: kmedoids_official(x, clusters, 40), repeat=10, **timer)}
        fast.update(speedup_p50=base["p50_ms"] / fast["p50_ms"], target_speedup=50.0)
        rows += [fast, base]
    frame = torch.randint(0, 256, (1080, 1920, 3), dtype=torch.uint8, device=dev)
    rng = np.random.default_rng(0)
    mats = torch.from_numpy(np.stack([_crop_matrix(rng) for _ in range(32)])).to(dev)
    warp = measure(lambda: compiled.warp_affine(frame, mats, (256, 192)), repeat=repeat, **timer)
    rows.append({"bench": "kernels", "op": "warp_affine", "impl": "compiled_cuda",
                 "settings": {**common, "crops": 32, "frame_hw": [1080, 1920], "out_hw": [256, 192]},
                 **warp, "target_p50_ms": 0.2})
    return rows


def _crop_matrix(rng) -> np.ndarray:
    """A 2x3 crop -> frame affine of a random box in a 1080p frame, rotated up to 30 degrees."""
    import cv2

    centre = (float(rng.uniform(200, 1700)), float(rng.uniform(200, 880)))
    m = cv2.getRotationMatrix2D(centre, float(rng.uniform(-30, 30)), float(rng.uniform(0.3, 1.5)))
    m[:, 2] += [96 - centre[0], 128 - centre[1]]
    return m


@click.command("kernels", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--batch", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--repeat", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=None, type=int,
              help="Threads for every side [default: all cores].")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON Lines file the rows are appended to [default: bench/results/kernels_<device>.jsonl].")
@click.option("--out", "out_alias", type=click.Path(dir_okay=False, path_type=Path), default=None, hidden=True,
              help="Old spelling of --results (bench/gpu_check.sh used it).")
def kernels_cmd(batch: int, repeat: int, threads: int | None, device: str, results: Path | None,
                out_alias: Path | None) -> None:
    """Compiled kernels vs official-style baselines: append the rows, print a table."""
    if device == "cuda":
        rows = run_cuda(batch=batch, repeat=max(repeat, 50))
    else:
        rows = run(batch=batch, repeat=repeat, threads=threads)
    out = results or out_alias or RESULTS_DIR / f"kernels_{device}.jsonl"
    info = system_info()
    load = os.getloadavg()  # (1, 5, 15 min): other jobs on the machine skew both sides, threads the most
    for row in rows:
        row.update(system=info, load_avg=load)
    append_rows(out, rows)
    flat = [{**r, **{k: r["settings"].get(k) for k in ("B", "D", "threads")}} for r in rows]
    columns = ["op", "impl", "B", "D", "threads", "p50_ms", "p90_ms", "mean_ms", "speedup_p50", "target_speedup"]
    click.echo(markdown_table(flat, columns))


def main(argv: list[str] | None = None) -> None:
    """`python -m kitpose.bench kernels` without the bench group (exits with its status)."""
    kernels_cmd.main(args=argv, prog_name="python -m kitpose.bench kernels")


if __name__ == "__main__":
    main()
