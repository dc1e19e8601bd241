"""gpu_report: targets read off hand-made rows (met / missed / not measured), and the step table."""
import json

from kitpose.bench import gpu_report


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_targets_met_missed_and_not_measured(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "build.status").write_text("ok 0 12\n")
    (tmp_path / "logs" / "compile.status").write_text("timeout 124 200\n")
    _write(tmp_path / "kernels_cuda.jsonl", [
        {"op": "dark_decode", "impl": "compiled_cuda", "settings": {"B": 4096}, "p50_ms": 0.6,
         "speedup_p50": 250.0, "vs_copy_bound": 2.5},
        {"op": "kmedoids", "impl": "compiled_cuda", "settings": {"D": 4096}, "p50_ms": 0.2, "speedup_p50": 49.0}])
    stages = lambda capture: {"capture": {"p50_ms": capture}}  # noqa: E731
    _write(tmp_path / "pipeline_cuda.jsonl", [
        {"backend": "kernels", "instances": 32, "device": "cuda", "model": "kitpose-w32-256", "p50_ms": 10.0,
         "stages": stages(5.0), "kernel_share_p50": 0.04},
        {"backend": "official", "instances": 32, "device": "cuda", "model": "kitpose-w32-256", "p50_ms": 95.0,
         "stages": stages(5.0)},
        {"backend": "kernels-compile", "instances": 32, "device": "cuda", "model": "kitpose-w32-256", "p50_ms": 9.0,
         "stages": stages(5.0), "kernel_share_p50": 0.06}])
    result = gpu_report.summary(tmp_path)
    status = {t["target"]: (t["status"], t["value"]) for t in result["targets"]}
    assert status["DARK decode vs per-map NumPy/OpenCV, B=4096"] == ("met", 250.0)
    assert status["DARK decode vs device-copy bound, B=4096"] == ("missed", 2.5)
    assert status["k-medoids vs chunked PyTorch on the same GPU, D=4096"] == ("missed", 49.0)
    assert status["k-medoids vs chunked PyTorch on the same GPU, D=256"][0] == "not measured"
    assert status["GPU pipeline vs official-style, kitpose-w32-256, 32 animals, 1080p"] == ("missed", 9.5)
    assert status["  the same from the decoded frame (JPEG decode left out of both), kitpose-w32-256"] == ("met", 18.0)
    assert status["warp + DARK kernels' share of the GPU pipeline's frame, kitpose-w32-256, 32 animals"][0] == "met"
    compiled = "kitpose-w32-256, kernels-compile"
    assert status[f"GPU pipeline vs official-style, {compiled}, 32 animals, 1080p"] == ("met", 95.0 / 9.0)
    assert status[f"  the same from the decoded frame (JPEG decode left out of both), {compiled}"] == ("met", 22.5)
    assert status[f"warp + DARK kernels' share of the GPU pipeline's frame, {compiled}, 32 animals"][0] == "missed"
    assert not any("default" in name for name in status)  # no default-model rows: no default targets
    assert status["kitpose-w32-256 fp16, batch 256"][0] == "not measured"
    assert {(s["step"], s["status"]) for s in result["steps"]} == {("build", "ok"), ("compile", "timeout")}
    md = (tmp_path / "summary.md").read_text()
    assert "| compile | timeout | 124 | 200 |" in md
    assert "| DARK decode vs per-map NumPy/OpenCV, B=4096 | >= 200x | 250 x | met |" in md
    assert json.loads((tmp_path / "summary.json").read_text())["rows"]["kernels_cuda.jsonl"] == 2
