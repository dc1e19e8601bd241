"""`kitpose demo` runs end to end on the CPU and writes what it says."""
import json

import cv2
import pytest
from click.testing import CliRunner

from kitpose.cli import main
from kitpose.demo import run_demo


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo("kitpose-w8-128", out, frames=6, parity_images=3, bench_instances=(2,),
                        bench_seconds=0.05)


def test_demo_writes_overlay_video_and_poses(demo_run):
    out, result = demo_run
    cap = cv2.VideoCapture(str(out / "demo.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6 == result["frames"]
    cap.release()
    rows = [json.loads(line) for line in (out / "poses.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(6))
    truth = json.loads((out / "demo_input.json").read_text())["frames"]
    for row, gt in zip(rows, truth):  # one pose per ground-truth box, 17 (x, y, score) each
        assert len(row["instances"]) == len(gt["instances"])
        assert all(len(i["keypoints"]) == 17 and len(i["keypoints"][0]) == 3 for i in row["instances"])


def test_demo_parity_report_and_bench_table(demo_run):
    out, result = demo_run
    report = json.loads((out / "parity.json").read_text())
    assert [r["backend"] for r in report["rows"]] == ["torch", "onnxruntime-cpu"]
    assert report["passed"] == result["parity_passed"]
    assert report["rows"][1]["heatmap_max_abs"] <= 1e-4
    bench = [json.loads(line) for line in (out / "bench.jsonl").read_text().splitlines()]
    assert [(r["bench"], r["backend"], r["instances"]) for r in bench] == [("pipeline", "ort", 2),
                                                                            ("pipeline", "torch", 2)]
    assert all(r["fps"] > 0 and r["system"]["python"] and r["stages"]["inference"]["p50_ms"] > 0
               for r in bench)
    assert [r["run_id"] for r in bench] == [r["run_id"] for r in result["bench"]]
    assert "End-to-end pipeline" in (out / "bench.md").read_text()


def test_demo_builds_an_rtx_engine_when_the_package_is_installed(demo_run):
    pytest.importorskip("tensorrt_rtx", reason="tensorrt-rtx-cu13 not installed")
    out, result = demo_run
    sidecar = json.loads((out / "export" / "model.engine.json").read_text())
    assert result["engine"] is not None and sidecar["flavour"] == "tensorrt_rtx"


def test_demo_rejects_unknown_model(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--model", "no-such-model", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no-such-model" in result.output
