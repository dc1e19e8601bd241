"""The one row schema of `kitpose bench` results, and `validate_row` that tests and readers use.

Every line of a bench/results/*.jsonl file written by `kitpose bench` is one JSON object (a row).
Speed-ups are ratios of rows with the same `run_id` (one invocation, one machine, one load).

Every row:
    schema      "kitpose.bench/1"
    bench       "model" (runner call on a batch), "pipeline" (frame in, keypoints out, by stage)
                or "accuracy" (AP on an evaluation set)
    run_id      str, shared by the rows of one invocation; time: UTC ISO-8601 start of that run
    model       the --model spec; weights: "trained", "random" or "checkpoint"
    backend     "torch" (eager), "torch-cl" (eager, channels-last), "torch-graphs" (CUDA graph
                replay), "torch-compile", "ort" (ONNX Runtime), "trt" (TensorRT engine), "trt-rtx"
                (TensorRT-RTX engine); pipelines also "kernels" (kitpose._C warp -> torch model ->
                kitpose._C DARK, fp16 + CUDA graphs on a GPU), "kernels-compile" (the same with the
                model through torch.compile) and "official" (official-style)
    precision   "fp32", "fp16" or "int8"
    device      "cpu" or "cuda"
    settings    dict: threads, input_size, io ("host": numpy in and out, copies included; "device":
                tensors stay on the GPU), ORT providers, ... (free-form, for people)
    system      dict: kitpose.bench.machine.machine_record() (CPU, GPUs, versions, load, Jetson)
"model" and "pipeline" rows add the latency of one call (model: one batch; pipeline: one frame):
    p50_ms p90_ms p99_ms mean_ms min_ms (float), repeat warmup (int), timer ("perf_counter" or
    "cuda_events"), throughput (instances per second = instances per call / mean latency),
    host_peak_rss_mib (float or None), rss_scope ("measurement" or "process"),
    device_peak_mib (float or None: torch allocations on the GPU only)
"model" rows:    batch (int)
"pipeline" rows: instances (int, animals per frame), fps (float), stages (dict: capture,
    preprocess, inference, decode, postprocess -> {"p50_ms", "mean_ms"}); the "kernels*" pipelines
    add kernels (dict: warp_affine, dark_decode -> {"p50_ms", "mean_ms"}, the kernels' own times)
    and kernel_share_p50 (their p50 sum over the frame's p50)
"accuracy" rows: ap (float, points), ap_delta (float or None, vs torch fp32), gate_passed (bool or
    None), instances (int, evaluated), eval_set (str), heatmap_max_abs (float or None)
"cape" rows (bench/cape_bench.py, category-agnostic FMMP runtime): the timing fields, instances (int,
    boxes per call), mode ("frame-cached", "frame-reencode", "frame-kitpose": one frame through
    CapePipeline with the support encoded once / re-encoded every frame, or through the KITPose
    PoseEstimator; "instance-fmmp", "instance-kitpose": one model call on one crop, query.onnx with
    the cached support vs the KITPose ONNX), ratio_p50 (float or None: this row's p50 over the p50
    of the row named by ratio_over, same run), ratio_over (str or None: that row's mode)
"""
from __future__ import annotations

import json
from pathlib import Path

SCHEMA = "kitpose.bench/1"
BENCHES = ("model", "pipeline", "accuracy", "cape")
BACKENDS = ("torch", "torch-cl", "torch-graphs", "torch-compile", "ort", "trt", "trt-rtx", "kernels",
            "kernels-compile", "official")
PRECISIONS = ("fp32", "fp16", "int8")
STAGES = ("capture", "preprocess", "inference", "decode", "postprocess")

NUM, OPT_NUM = (int, float), (int, float, type(None))
COMMON = {"schema": str, "bench": str, "run_id": str, "time": str, "model": str, "weights": str,
          "backend": str, "precision": str, "device": str, "settings": dict, "system": dict}
TIMING = {"p50_ms": NUM, "p90_ms": NUM, "p99_ms": NUM, "mean_ms": NUM, "min_ms": NUM, "repeat": int,
          "warmup": int, "timer": str, "throughput": NUM, "host_peak_rss_mib": OPT_NUM,
          "rss_scope": str, "device_peak_mib": OPT_NUM}
FIELDS = {
    "model": {**COMMON, **TIMING, "batch": int},
    "pipeline": {**COMMON, **TIMING, "instances": int, "fps": NUM, "stages": dict},
    "accuracy": {**COMMON, "ap": NUM, "ap_delta": OPT_NUM, "gate_passed": (bool, type(None)),
                 "instances": int, "eval_set": str, "heatmap_max_abs": OPT_NUM},
    "cape": {**COMMON, **TIMING, "instances": int, "mode": str, "ratio_p50": OPT_NUM,
             "ratio_over": (str, type(None))},
}
CAPE_MODES = ("frame-cached", "frame-reencode", "frame-kitpose", "instance-fmmp", "instance-kitpose")
CHOICES = {"schema": (SCHEMA,), "bench": BENCHES, "backend": BACKENDS, "precision": PRECISIONS,
           "device": ("cpu", "cuda"), "weights": ("trained", "random", "checkpoint"),
           "timer": ("perf_counter", "cuda_events"), "rss_scope": ("measurement", "process"), "mode": CAPE_MODES}


def validate_row(row: dict, where: str = "row") -> dict:
    """Check a row against the schema; returns it, or raises ValueError naming the field.

    Args:
        row: one result row.
        where: how to name the row in errors (e.g. "A.jsonl line 3").
    """
    if not isinstance(row, dict):
        raise ValueError(f"{where}: a row is a JSON object, got {type(row).__name__}")
    bench = row.get("bench")
    if bench not in FIELDS:
        raise ValueError(f"{where}: field 'bench' must be one of {BENCHES}, got {bench!r}")
    for name, types in FIELDS[bench].items():
        if name not in row:
            raise ValueError(f"{where}: {bench} row lacks field {name!r} (schema {SCHEMA}, see "
                             f"kitpose.bench.schema)")
        value = row[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            raise ValueError(f"{where}: field {name!r} is {type(value).__name__} {value!r}, expected "
                             f"{' or '.join(t.__name__ for t in _tuple(types))}")
        if name in CHOICES and value not in CHOICES[name]:
            raise ValueError(f"{where}: field {name!r} must be one of {CHOICES[name]}, got {value!r}")
    if bench == "pipeline":
        missing = [s for s in STAGES if s not in row["stages"]]
        if missing:
            raise ValueError(f"{where}: pipeline row's 'stages' lacks {missing}")
    return row


def _tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def load_rows(path: str | Path) -> list[dict]:
    """Every row of a .jsonl results file, validated (errors name the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: results file not found (kitpose bench writes them under "
                                f"bench/results/)")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} line {number}: not JSON ({err})") from None
        rows.append(validate_row(row, f"{path} line {number}"))
    return rows


def row_key(row: dict) -> tuple:
    """What makes two rows comparable across runs: bench, model, backend, precision, batch/instances."""
    size = row.get("batch", row.get("instances"))
    return row["bench"], row["model"], row["backend"], row["precision"], size
