"""int8 on a CPU: the two Q/DQ placements against fp32 under ONNX Runtime, side by side in one run.

kitpose exports int8 two ways (export/int8.py): ModelOpt's TensorRT placement (symmetric int8, Q/DQ on
conv inputs only; TensorRT fuses it) and ONNX Runtime's own QDQ placement (u8 activations, s8
per-channel weights on the backbone's Conv/Relu/Add/Resize). This bench times fp32 and both int8 files
in interleaved rounds at each batch size, scores each file's AP through the parity gate, and counts
the operators of ONNX Runtime's optimised graph of each file: fused QLinearConv/QLinearAdd run in
int8, while every DequantizeLinear left in front of an fp32 Conv is extra work, which is why a
placement ONNX Runtime cannot fuse runs slower than fp32.

    python -m kitpose.bench.int8_cpu --model default --batches 1,8 --results bench/results/int8_cpu.jsonl
"""
from __future__ import annotations

import collections
import json
import tempfile
import warnings
from pathlib import Path

import click
import numpy as np

OPS = ("Conv", "Relu", "QLinearConv", "QLinearAdd", "QuantizeLinear", "DequantizeLinear", "ConvInteger", "MatMul",
       "QLinearMatMul")


def optimised_op_counts(onnx_path: Path) -> dict[str, int]:
    """Operator counts of the graph ONNX Runtime actually runs (all optimisations, CPU provider)."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as scratch:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(Path(scratch) / "optimised.onnx")
        ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        graph = onnx.load(options.optimized_model_filepath).graph
    counts = collections.Counter(node.op_type for node in graph.node)
    return {op: counts.get(op, 0) for op in OPS}


def _files(model_spec: str, out: Path) -> tuple[object, dict[str, Path]]:
    """The bench model and its fp32 / int8 (ORT placement) / int8 (TensorRT placement) ONNX files."""
    from kitpose.bench.models import export_onnx_variants, load_bench_model

    bench = load_bench_model(model_spec)
    skipped = export_onnx_variants(bench, out, ["fp32", "int8"], engines=True)
    if skipped:
        raise click.ClickException(f"int8 export failed: {skipped}")
    return bench, {"fp32": bench.onnx["fp32"], "int8-ort": bench.onnx["int8"],
                   "int8-trt": bench.engine_onnx["int8"]}


def _latencies(files: dict[str, Path], batch: int, threads: int, repeat: int, rounds: int) -> dict[str, dict]:
    """Latency stats per file at one batch size, the files' calls interleaved in `rounds` rounds."""
    from kitpose.bench.model_bench import Method, time_interleaved
    from kitpose.runtime.ort_runner import OrtRunner

    runners = {name: OrtRunner(path, threads=threads) for name, path in files.items()}
    h, w = runners["fp32"].metadata.input_size
    x = np.random.default_rng(0).standard_normal((batch, 3, h, w)).astype(np.float32)  # (B, 3, h, w)
    try:
        return time_interleaved({name: lambda r=runner: r(x) for name, runner in runners.items()},
                                Method(warmup=1, repeat=repeat, min_seconds=0.0, threads=threads, rounds=rounds))
    finally:
        for runner in runners.values():
            runner.close()


def _accuracy(bench, files: dict[str, Path], images: int) -> dict[str, float]:
    """AP (points) of each file through the parity gate on held-out synthetic images."""
    from kitpose.data.synthetic import generate_dataset
    from kitpose.export.report import verify_parity

    with tempfile.TemporaryDirectory() as scratch:
        ann = generate_dataset(Path(scratch), images, seed=4242, image_size=(192, 192), split="parity")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = verify_parity(bench.model, list(files.values()), ann, Path(scratch) / "images")
    by_path = {Path(row["file"]).name: row.get("ap") for row in report["rows"] if row.get("file")}
    torch_ap = next(row["ap"] for row in report["rows"] if row["backend"] == "torch")
    return {name: by_path.get(Path(path).name) for name, path in files.items()} | {"torch": torch_ap}


@click.command()
@click.option("--model", default="default", show_default=True, help="'default', a preset or a checkpoint.")
@click.option("--batches", default="1,8", show_default=True)
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1))
@click.option("--repeat", default=60, show_default=True, type=click.IntRange(1))
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1))
@click.option("--eval-images", default=100, show_default=True, type=click.IntRange(1))
@click.option("--out", default="out/int8_cpu", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--results", default="bench/results/int8_cpu.jsonl", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path))
def main(model: str, batches: str, threads: int, repeat: int, rounds: int, eval_images: int, out: Path,
         results: Path) -> None:
    """fp32 vs both int8 placements under ONNX Runtime on this CPU: latency, AP, optimised-graph ops."""
    from kitpose.bench.machine import machine_record

    bench, files = _files(model, out)
    ops = {name: optimised_op_counts(path) for name, path in files.items()}
    ap = _accuracy(bench, files, eval_images)
    machine = machine_record(threads)
    rows = []
    for batch in (int(b) for b in batches.split(",")):
        for name, stats in _latencies(files, batch, threads, repeat, rounds).items():
            rows.append({"bench": "int8_cpu", "model": model, "file": name, "batch": batch, **stats,
                         "ap": ap.get(name), "ap_torch": ap.get("torch"), "ops": ops[name], "machine": machine})
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    click.echo("| file | batch | p50 ms | vs fp32 | AP | QLinearConv | DequantizeLinear | fp32 Conv |")
    click.echo("|---|---|---|---|---|---|---|---|")
    for row in rows:
        base = next(r for r in rows if r["file"] == "fp32" and r["batch"] == row["batch"])
        click.echo(f"| {row['file']} | {row['batch']} | {row['p50_ms']:.2f} | {base['p50_ms'] / row['p50_ms']:.2f}x | "
                   f"{row['ap'] if row['ap'] is None else round(row['ap'], 2)} | {row['ops']['QLinearConv']} | "
                   f"{row['ops']['DequantizeLinear']} | {row['ops']['Conv']} |")


if __name__ == "__main__":
    main()
