"""One `kitpose bench` run: load and export the model, run the chosen benches, stamp every row with
the run id, the machine record and the model, and validate it against the schema."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from kitpose.bench.model_bench import Method
from kitpose.bench.schema import SCHEMA, validate_row

BENCH_NAMES = ("model", "pipeline", "accuracy")  # what a plain `kitpose bench` runs
OPTIONAL_BENCHES = ("cape",)                     # run only when named in --bench


@dataclass
class Options:
    """Everything a run needs; the CLI fills it from flags."""

    model: str = "default"
    benches: tuple[str, ...] = BENCH_NAMES
    backends: tuple[str, ...] = ("torch", "torch-compile", "ort", "trt", "trt-rtx")
    precisions: tuple[str, ...] = ("fp32", "fp16", "int8")
    batches: tuple[int, ...] = (1, 8)
    pipelines: tuple[str, ...] = ("ort", "torch", "official")
    instances: tuple[int, ...] = (1, 4, 8)
    device: str = "cpu"
    cape_model: str = "fmmp-small"  # the FMMP model of the cape bench (preset, checkpoint or default-cape)
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    warmup: int = 3
    repeat: int = 20
    min_seconds: float = 2.0
    rounds: int = 3
    max_batch: int = 64
    frame_size: tuple[int, int] = (720, 1280)  # (h, w) of the pipeline bench's frames
    work_dir: Path = Path("out/bench")     # exported ONNX, engines, generated eval set
    eval_annotations: Path | None = None
    eval_images: Path | None = None
    eval_limit: int | None = None
    dataset: str = "ap10k"


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without one is an error."""
    import torch

    has_gpu = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if has_gpu else "cpu"
    if device == "cuda" and not has_gpu:
        raise RuntimeError("--device cuda but torch sees no CUDA GPU here; use --device cpu or auto")
    return device


def run_suite(opts: Options) -> tuple[list[dict], list[str]]:
    """Load and export opts.model, then run the benches in opts.benches. Returns (rows, skip reasons)."""
    from kitpose.bench.models import export_onnx_variants, load_bench_model

    bench = load_bench_model(opts.model)
    skips = [f"model weights: {bench.note}"] if bench.note else []
    onnx_dir = opts.work_dir / "onnx" / Path(opts.model).stem
    if needs_onnx(opts):
        engines = "model" in opts.benches and any(b in ("trt", "trt-rtx") for b in opts.backends)
        skips += [f"{p}: {why}" for p, why in export_onnx_variants(bench, onnx_dir, list(opts.precisions),
                                                                   opts.dataset, engines).items()]
    rows, more = run_benches(bench, opts, onnx_dir)
    return rows, list(dict.fromkeys(skips + more))  # once each


def needs_onnx(opts: Options) -> bool:
    """Whether a requested bench runs an exported file (ORT/TensorRT backends, the ORT pipeline, the
    accuracy gate); PyTorch-only runs skip the export (minutes for a full-size model on a CPU)."""
    files = ("ort", "trt", "trt-rtx")
    return ("model" in opts.benches and any(b in files for b in opts.backends)) or \
        ("pipeline" in opts.benches and "ort" in opts.pipelines) or "accuracy" in opts.benches


def run_benches(bench, opts: Options, onnx_dir: Path) -> tuple[list[dict], list[str]]:
    """The benches in opts.benches on an already exported BenchModel (bench.onnx holds its files).

    Returns:
        (rows stamped with the run id and machine record and validated, skip reasons).
    """
    from kitpose.bench.timing import pin_threads

    started = time.gmtime()
    pinned = pin_threads(opts.threads)
    method = Method(opts.warmup, opts.repeat, opts.min_seconds, resolve_device(opts.device), opts.threads,
                    opts.rounds)
    rows: list[dict] = []
    skips: list[str] = []
    if "model" in opts.benches:
        from kitpose.bench.model_bench import run_model_bench

        got, why = run_model_bench(bench, list(opts.backends), list(opts.precisions), list(opts.batches),
                                   method, onnx_dir)
        rows, skips = rows + got, skips + why
    if "pipeline" in opts.benches:
        from kitpose.bench.pipeline_bench import run_pipeline_bench

        got, why = run_pipeline_bench(bench, list(opts.pipelines), list(opts.instances), method, opts.max_batch,
                                      tuple(opts.frame_size), opts.dataset)
        rows, skips = rows + got, skips + why
    if "accuracy" in opts.benches:
        rows, skips = _accuracy(bench, opts, rows, skips)
    if "cape" in opts.benches:
        from kitpose.bench.cape_bench import run_cape_bench

        got, why = run_cape_bench(bench, opts.cape_model, list(opts.instances), method, opts.work_dir,
                                  tuple(opts.frame_size))
        rows, skips = rows + got, skips + why
    return stamp(rows, bench, pinned, opts.threads, started), skips


def _accuracy(bench, opts: Options, rows: list[dict], skips: list[str]) -> tuple[list[dict], list[str]]:
    from kitpose.bench.accuracy import default_eval_set, limit_images, run_accuracy

    if opts.eval_annotations is not None:
        if opts.eval_images is None:
            raise ValueError("--eval-annotations needs --eval-images (the folder its file_name entries "
                             "are relative to)")
        ann, images = Path(opts.eval_annotations), Path(opts.eval_images)
    else:
        ann, images = default_eval_set(opts.work_dir, bench.input_size)
    ann = limit_images(ann, opts.eval_limit, opts.work_dir / "eval")
    got, why = run_accuracy(bench, ann, images, opts.dataset)
    return rows + got, skips + why


def stamp(rows: list[dict], bench, pinned: dict, threads: int, started: time.struct_time) -> list[dict]:
    """Add the fields every row shares (schema, run id, start time, model, machine) and validate."""
    from kitpose.bench.machine import machine_record

    run_id = time.strftime("%Y%m%dT%H%M%SZ", started) + "-" + secrets.token_hex(3)
    common = {"schema": SCHEMA, "run_id": run_id, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", started),
              "model": bench.spec, "weights": bench.weights, "system": machine_record(threads)}
    out = []
    for row in rows:
        row = {**common, **row, "settings": {**pinned, "input_size": list(bench.input_size), **row["settings"]}}
        out.append(validate_row(row, f"{row['bench']} row {row['backend']} {row['precision']}"))
    return out
