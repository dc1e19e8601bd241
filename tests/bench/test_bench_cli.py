"""`kitpose bench` end to end on the tiny preset (batch 1-2, a few iterations), and its dispatch."""
import sys
import types

import pytest
from click.testing import CliRunner

from kitpose.bench.cli import bench_cmd
from kitpose.bench.schema import load_rows

FAST = ["--model", "kitpose-w8-128", "--precisions", "fp32", "--batches", "1,2", "--instances", "1,2",
        "--repeat", "2", "--rounds", "2", "--warmup", "1", "--min-seconds", "0", "--threads", "1"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Exported ONNX files and generated eval sets go to a tmp cache, not ~/.cache/kitpose."""
    monkeypatch.setenv("KITPOSE_CACHE", str(tmp_path / "cache"))


def test_model_and_pipeline_rows(tmp_path):
    pytest.importorskip("torch")
    results, out = tmp_path / "rows.jsonl", tmp_path / "out"
    result = CliRunner().invoke(bench_cmd, [*FAST, "--bench", "model,pipeline", "--backends", "torch,ort,trt",
                                            "--results", str(results), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = load_rows(results)  # validates every row against the schema
    model = {(r["backend"], r["batch"]) for r in rows if r["bench"] == "model"}
    pipeline = {(r["backend"], r["instances"]) for r in rows if r["bench"] == "pipeline"}
    assert model == {(b, n) for b in ("torch", "ort") for n in (1, 2)}
    assert pipeline == {(b, n) for b in ("ort", "torch", "official") for n in (1, 2)}
    assert len({r["run_id"] for r in rows}) == 1
    assert all(r["system"]["threads"] == 1 and r["settings"]["input_size"] == [128, 128] for r in rows)
    report = (out / "report.md").read_text()
    assert "x_vs_official" in report and "- model trt:" in report  # no TensorRT runtime + GPU here
    assert (out / "latency_vs_batch.png").is_file() and (out / "throughput_vs_instances.png").is_file()
    assert (tmp_path / "cache" / "bench" / "onnx" / "kitpose-w8-128" / "model.onnx").is_file()
    assert all(r["repeat"] >= 2 and r["settings"]["rounds"] == 2 for r in rows)

    # --render rebuilds the report and plots from the file alone
    again = tmp_path / "again"
    result = CliRunner().invoke(bench_cmd, ["--render", str(results), "--out", str(again)])
    assert result.exit_code == 0, result.output
    assert (again / "report.md").read_text().count("| kitpose-w8-128 |") == 10


def test_accuracy_rows_on_a_small_eval_set(tmp_path):
    pytest.importorskip("torch")
    from kitpose.data.synthetic import generate_dataset

    ann = generate_dataset(tmp_path / "eval", 2, 1, (160, 160), "val")
    results = tmp_path / "rows.jsonl"
    result = CliRunner().invoke(bench_cmd, [*FAST, "--bench", "accuracy", "--eval-annotations", str(ann),
                                            "--eval-images", str(tmp_path / "eval" / "images"),
                                            "--results", str(results), "--out", str(tmp_path / "out"),
                                            "--no-plots"])
    assert result.exit_code == 0, result.output
    rows = load_rows(results)
    assert [(r["backend"], r["precision"]) for r in rows] == [("torch", "fp32"), ("ort", "fp32")]
    assert rows[0]["gate_passed"] is None and rows[1]["gate_passed"] is True
    assert rows[1]["ap"] == pytest.approx(rows[0]["ap"]) and rows[1]["ap_delta"] == 0.0


def test_bad_choices_and_stray_arguments():
    result = CliRunner().invoke(bench_cmd, ["--backends", "torch,tflite"])
    assert result.exit_code == 2 and "choose from torch,torch-cl,torch-graphs,torch-compile,ort,trt,trt-rtx" in result.output
    result = CliRunner().invoke(bench_cmd, ["--batchs", "4"])
    assert result.exit_code == 2 and "unexpected arguments ['--batchs', '4']" in result.output


def test_triton_dispatch(monkeypatch):
    seen = []
    monkeypatch.setitem(sys.modules, "kitpose.bench.triton", types.SimpleNamespace(main=seen.append))
    result = CliRunner().invoke(bench_cmd, ["--triton", "localhost:8001", "--concurrency", "4"])
    assert result.exit_code == 0, result.output
    assert seen == [["--url", "localhost:8001", "--concurrency", "4"]]


def test_triton_exit_code_is_passed_on(monkeypatch):
    monkeypatch.setitem(sys.modules, "kitpose.bench.triton", types.SimpleNamespace(main=lambda argv: 3))
    assert CliRunner().invoke(bench_cmd, ["--triton", "localhost:8000"]).exit_code == 3


def test_triton_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "kitpose.bench.triton", None)  # import raises ImportError
    result = CliRunner().invoke(bench_cmd, ["--triton", "localhost:8001"])
    assert result.exit_code == 1 and "bench/triton.py" in result.output


def test_registered_on_the_kitpose_group():
    from kitpose.cli import main

    result = CliRunner().invoke(main, ["bench", "--help"])
    assert result.exit_code == 0 and "--compare" in result.output


def test_default_falls_back_to_random_weights(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    import kitpose.models
    from kitpose.bench.models import load_bench_model

    monkeypatch.setattr(kitpose.models, "DEFAULT_CHECKPOINT", tmp_path / "missing.pt")
    bench = load_bench_model("default")
    assert bench.weights == "random" and "missing.pt" in bench.note
    assert bench.input_size == (128, 128)
    with pytest.raises(FileNotFoundError, match="neither 'default', a preset"):
        load_bench_model(str(tmp_path / "nope.pt"))


def test_triton_gets_results_when_given(monkeypatch, tmp_path):
    """`kitpose bench --triton URL --results F` writes the load test's row to F (bench's own option
    would otherwise swallow it)."""
    seen = []
    monkeypatch.setitem(sys.modules, "kitpose.bench.triton", types.SimpleNamespace(main=seen.append))
    CliRunner().invoke(bench_cmd, ["--triton", "localhost:8001", "--results", str(tmp_path / "t.jsonl")])
    assert seen and seen[0][-2:] == ["--results", str(tmp_path / "t.jsonl")]
