"""Markdown tables, in-run speed-ups and --compare ratios on hand-made rows."""
import json

import pytest

from kitpose.bench.report import compare_rows, format_compare, latest_runs, markdown_report, speedups


def test_compare_ratios(row_factory):
    a = [row_factory(backend="torch", size=1, p50=10.0), row_factory(backend="ort", size=1, p50=4.0),
         row_factory(backend="ort", size=8, p50=20.0)]
    b = [row_factory(backend="torch", size=1, p50=5.0, cpu="Other CPU"),
         row_factory(backend="ort", size=1, p50=8.0, cpu="Other CPU")]
    matched = {(m["backend"], m["size"]): m for m in compare_rows(a, b)}
    assert set(matched) == {("torch", 1), ("ort", 1)}  # ort batch 8 has no partner
    assert matched["torch", 1]["speedup"] == pytest.approx(2.0)   # B twice as fast
    assert matched["ort", 1]["speedup"] == pytest.approx(0.5)
    assert matched["ort", 1]["throughput_ratio"] == pytest.approx(0.5)
    assert matched["torch", 1]["b_where"] == "cpu Other CPU"


def test_compare_takes_the_newest_row_of_a_key(row_factory):
    a = [row_factory(p50=10.0, time="2026-01-02T00:00:00Z"), row_factory(p50=99.0, time="2026-01-01T00:00:00Z")]
    b = [row_factory(p50=5.0)]
    (m,) = compare_rows(a, b)
    assert m["a_p50_ms"] == 10.0 and m["speedup"] == pytest.approx(2.0)


def test_compare_does_not_pair_other_models_or_precisions(row_factory):
    a = [row_factory(model="kitpose-w32-256"), row_factory(precision="fp16", backend="ort")]
    b = [row_factory(), row_factory(precision="int8", backend="ort")]
    assert compare_rows(a, b) == []
    assert "nothing to compare" in format_compare([], "A.jsonl", "B.jsonl")


def test_in_run_speedups_pair_by_size_and_run(row_factory):
    rows = [row_factory(backend="torch", size=1, p50=30.0), row_factory(backend="ort", size=1, p50=10.0),
            row_factory(backend="ort", size=8, p50=10.0),  # no torch row at batch 8
            row_factory(backend="ort", size=1, p50=1.0, run_id="run-b")]  # another run
    ratio = speedups(rows, "model", "torch")
    assert ratio[id(rows[1])] == pytest.approx(3.0)
    assert id(rows[2]) not in ratio and id(rows[3]) not in ratio


def test_latest_runs_keeps_the_newest_run_per_bench(row_factory):
    old = row_factory(run_id="old", time="2026-01-01T00:00:00Z")
    new = [row_factory(run_id="new", time="2026-01-02T00:00:00Z", backend=b) for b in ("torch", "ort")]
    pipe = row_factory(bench="pipeline", run_id="old", time="2026-01-01T00:00:00Z")
    other = row_factory(run_id="older", time="2025-12-01T00:00:00Z", model="kitpose-w32-256")
    assert latest_runs([old, *new, pipe, other]) == [*new, pipe, other]  # newest per bench and model


def test_markdown_report_sections(row_factory):
    rows = [row_factory(backend="torch", p50=30.0), row_factory(backend="ort", p50=10.0),
            row_factory(bench="pipeline", backend="official", size=2, p50=40.0),
            row_factory(bench="pipeline", backend="ort", size=2, p50=8.0),
            row_factory(bench="accuracy", backend="torch")]
    text = markdown_report(rows, ["model trt: the `tensorrt` runtime is not installed here"])
    assert "### Model only" in text and "### End-to-end pipeline" in text and "### Accuracy parity" in text
    lines = text.splitlines()
    ort_model = next(line for line in lines if line.startswith("| kitpose-w8-128 | ort | fp32 | cpu | 1 |"))
    assert "| 3.000 |" in ort_model  # 30 ms / 10 ms
    ort_pipe = next(line for line in lines if "| ort | cpu | 2 |" in line)
    assert ort_pipe.endswith("| 5.000 |")  # official 40 ms / ort 8 ms
    assert "reference" in text and "- model trt: the `tensorrt` runtime" in text
    assert "Test CPU (2 cores), no GPU, 2 threads" in text


def test_compare_cli(tmp_path, row_factory):
    from click.testing import CliRunner

    from kitpose.bench.cli import bench_cmd

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(row_factory(p50=12.0)) + "\n")
    b.write_text(json.dumps(row_factory(p50=3.0)) + "\n")
    result = CliRunner().invoke(bench_cmd, ["--compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "| model | kitpose-w8-128 | torch | fp32 | 1 | 12.000 | 3.000 | 4.000 | 4.000 |" in result.output
    b.write_text('{"bench": "model"}\n')
    result = CliRunner().invoke(bench_cmd, ["--compare", str(a), str(b)])
    assert result.exit_code == 1 and "b.jsonl line 1" in result.output
