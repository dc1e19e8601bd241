"""`python -m kitpose.bench train`: training-step throughput, and the clustering inside the step.

    python -m kitpose.bench train --model kitpose-w32-256 --batch 32 --steps 50 --device cuda

Times `kitpose.train.step.train_step` with the real objective (cutmix + GHRL + adaptive loss, AMP on
a GPU, Adam) on batches prepared on the device beforehand, so the rows measure the model's forward,
backward and optimiser step, not a data loader. Each step ends with a device sync.

Two clusterings run inside that same step, one after the other: ours (the model as shipped:
kitpose.ops.kmedoids, the compiled kernel) and the official-KITPose-style chunked PyTorch loop with a
host sync per chunk (`bench/baselines.kmedoids_official`, swapped in for the model's `_cluster`).
The clustering calls are also timed alone on the step's own intermediate heatmaps.
Rows (JSON lines with the machine record) go to bench/results/train_<device>.jsonl.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import click
import torch

from kitpose.bench.timing import RESULTS_DIR, append_rows, markdown_table, measure, summarize

CLUSTERINGS = ("ours", "official")


def synthetic_batch(model, batch: int, device: torch.device, seed: int = 0) -> dict:
    """A training batch on the device: normal images, one Gaussian (sigma 2) per target map."""
    gen = torch.Generator().manual_seed(seed)
    c = model.config
    (h, w), (hh, hw), k = c.input_size, (c.input_size[0] // 4, c.input_size[1] // 4), c.num_keypoints
    ys, xs = torch.meshgrid(torch.arange(hh, dtype=torch.float32), torch.arange(hw, dtype=torch.float32),
                            indexing="ij")  # (H, W) each
    cy = torch.rand(batch, k, 1, 1, generator=gen) * (hh - 1)  # (B, K, 1, 1)
    cx = torch.rand(batch, k, 1, 1, generator=gen) * (hw - 1)
    target = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 8.0)  # (B, K, H, W)
    return {"image": torch.randn(batch, 3, h, w, generator=gen).to(device),
            "target": target.to(device), "target_weight": torch.ones(batch, k, 1).to(device)}


def official_cluster(x: torch.Tensor, num_clusters: int, iters: int) -> torch.Tensor:
    """The model's `_cluster` contract, (B, K, HW) -> (B, K) labels, by the official-style loop."""
    from kitpose.bench.baselines import kmedoids_official

    with torch.no_grad():
        return kmedoids_official(x.detach().float(), num_clusters, iters)[0]


@contextlib.contextmanager
def clustering(kind: str, record: list | None = None):
    """Run the KITPose forward with the given clustering; with `record`, keep its first input."""
    import kitpose.models.kitpose as kit

    shipped = kit._cluster
    base = shipped if kind == "ours" else official_cluster

    def cluster(x, num_clusters, iters):
        if record is not None and not record:
            record.append(x.detach().clone())
        return base(x, num_clusters, iters)

    kit._cluster = cluster
    try:
        yield
    finally:
        kit._cluster = shipped


def time_steps(model, batch: dict, steps: int, warmup: int, device: torch.device, amp: bool) -> dict:
    """Warm-up then `steps` timed train_step calls (each synced). Returns stats and losses."""
    from kitpose.config import TrainSection
    from kitpose.train.optim import build_optimizer
    from kitpose.train.step import make_objective, train_step

    optimizer = build_optimizer(model, TrainSection())
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    objective = make_objective(device, amp, cutmix=torch.Generator().manual_seed(0))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    losses, times = [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = train_step(model, batch, optimizer, scaler, objective)
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
            losses.append(float(loss))
    return {**summarize(times), "loss_first": losses[0], "loss_last": losses[-1]}


def run(model_spec: str, batch: int, steps: int, warmup: int, device: str, amp: bool,
        kinds: tuple[str, ...] = CLUSTERINGS) -> list[dict]:
    """Rows: one "train_step" row per clustering (same weights at the start), one "clustering" row each."""
    import copy

    from kitpose.bench.baselines import kmedoids_official
    from kitpose.bench.models import load_bench_model
    from kitpose.ops import kmedoids

    dev = torch.device(device)
    bench = load_bench_model(model_spec)
    data = synthetic_batch(bench.model, batch, dev)
    c = bench.model.config
    settings = {"batch": batch, "steps": steps, "warmup": warmup, "amp": amp and dev.type == "cuda",
                "input_size": list(c.input_size), "device_name": _device_name(dev)}
    rows, recorded = [], []
    for kind in kinds:
        model = copy.deepcopy(bench.model).to(dev).train()
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        with clustering(kind, recorded):
            stats = time_steps(model, data, steps, warmup, dev, amp)
        peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
        rows.append({"bench": "train", "what": "train_step", "clustering": kind, "model": model_spec,
                     "weights": bench.weights, "settings": settings, **stats,
                     "images_per_s": 1e3 * batch / stats["mean_ms"], "device_peak_mib": peak})
        del model
    x = recorded[0]  # (B, K, HW): the step's own intermediate heatmaps
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    calls = {"ours": lambda: kmedoids(x, c.num_clusters, c.kmedoids_iters),
             "official": lambda: kmedoids_official(x.float(), c.num_clusters, c.kmedoids_iters)}
    for kind in kinds:
        rows.append({"bench": "train", "what": "clustering", "clustering": kind, "model": model_spec,
                     "weights": bench.weights, "settings": {**settings, "shape": list(x.shape)},
                     **measure(calls[kind], warmup=3, repeat=20, sync=sync)})
    _ratios(rows)
    return rows


def _ratios(rows: list[dict]) -> None:
    """Official over ours (p50) on each 'ours' row: the speed-up the compiled clustering buys."""
    for what in ("train_step", "clustering"):
        pair = {r["clustering"]: r for r in rows if r["what"] == what}
        if {"ours", "official"} <= set(pair):
            pair["ours"]["speedup_vs_official_p50"] = pair["official"]["p50_ms"] / pair["ours"]["p50_ms"]


def _device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"


def _clusterings(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """A click callback turning 'ours,official' into a tuple of CLUSTERINGS names."""
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    if not kinds or any(k not in CLUSTERINGS for k in kinds):
        raise click.BadParameter(f"{value!r}: choose from {','.join(CLUSTERINGS)}")
    return kinds


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@click.command("train", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", default="kitpose-w32-256", show_default=True, help="Preset, 'default' or a checkpoint.")
@click.option("--batch", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=0))
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=_default_device,
              help="[default: cuda when torch sees a GPU, else cpu]")
@click.option("--amp/--no-amp", default=True, show_default=True, help="--no-amp: fp32 steps on a GPU too.")
@click.option("--clustering", "kinds", default=",".join(CLUSTERINGS), show_default=True, callback=_clusterings,
              help="ours, official or both.")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON Lines file the rows are appended to [default: bench/results/train_<device>.jsonl].")
@click.option("--out", "out_alias", type=click.Path(dir_okay=False, path_type=Path), default=None, hidden=True,
              help="Old spelling of --results (bench/gpu_check.sh used it).")
def train_cmd(model: str, batch: int, steps: int, warmup: int, device: str, amp: bool, kinds: tuple[str, ...],
              results: Path | None, out_alias: Path | None) -> None:
    """Training-step throughput and the clustering inside the step: append the rows, print a table."""
    if device == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter("torch sees no CUDA device", param_hint="--device")
    try:
        rows = run(model, batch, steps, warmup, device, amp, kinds)
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    from kitpose.bench.machine import machine_record

    record = machine_record()
    for row in rows:
        row["system"] = record
    out = results or out_alias or RESULTS_DIR / f"train_{device}.jsonl"
    append_rows(out, rows)
    click.echo(markdown_table(rows, ["what", "clustering", "p50_ms", "mean_ms", "images_per_s", "device_peak_mib",
                                     "loss_first", "loss_last", "speedup_vs_official_p50"]))
    click.echo(f"rows: {out} (+{len(rows)})")


def main(argv: list[str] | None = None) -> None:
    """`python -m kitpose.bench train` without the bench group (exits with its status)."""
    train_cmd.main(args=argv, prog_name="python -m kitpose.bench train")


if __name__ == "__main__":
    main()
