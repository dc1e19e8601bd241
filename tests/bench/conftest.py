"""Shared fixtures: the tiny preset as a BenchModel with its fp32 ONNX exported once per session,
and a factory of schema-valid synthetic rows."""
import pytest

from kitpose.bench.schema import SCHEMA, STAGES

PRESET = "kitpose-w8-128"  # the embedded default's shape: the smallest KITPose preset


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory):
    """BenchModel of kitpose-w8-128 (seeded random weights) with bench.onnx["fp32"] exported."""
    pytest.importorskip("torch")
    from kitpose.bench.models import export_onnx_variants, load_bench_model

    bench = load_bench_model(PRESET)
    export_onnx_variants(bench, tmp_path_factory.mktemp("bench_onnx"), ["fp32"])
    return bench


def make_row(bench="model", backend="torch", precision="fp32", size=1, p50=10.0, run_id="run-a",
             time="2026-01-01T00:00:00Z", model=PRESET, cpu="Test CPU"):
    """A schema-valid row with hand-chosen numbers (latency p50 = p50 ms, mean = p50)."""
    row = {"schema": SCHEMA, "bench": bench, "run_id": run_id, "time": time, "model": model,
           "weights": "random", "backend": backend, "precision": precision, "device": "cpu",
           "settings": {}, "system": {"cpu": cpu, "cpu_count": 2, "gpus": [], "threads": 2, "warnings": []}}
    if bench == "accuracy":
        return {**row, "ap": 50.0, "ap_delta": None, "gate_passed": None, "instances": 4,
                "eval_set": "val.json", "heatmap_max_abs": None}
    timing = {"p50_ms": p50, "p90_ms": p50, "p99_ms": p50, "mean_ms": p50, "min_ms": p50, "repeat": 5,
              "warmup": 1, "timer": "perf_counter", "throughput": 1e3 * size / p50,
              "host_peak_rss_mib": 100.0, "rss_scope": "measurement", "device_peak_mib": None}
    if bench == "model":
        return {**row, **timing, "batch": size}
    stages = {s: {"p50_ms": p50 / len(STAGES), "mean_ms": p50 / len(STAGES)} for s in STAGES}
    return {**row, **timing, "instances": size, "fps": 1e3 / p50, "stages": stages}


@pytest.fixture
def row_factory():
    return make_row
