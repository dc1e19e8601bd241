"""`kitpose export / build / parity` through click's CliRunner on a tiny model."""
import importlib.util
import json
from dataclasses import asdict

import pytest
from click.testing import CliRunner

from kitpose.checkpoint import save_checkpoint
from kitpose.export.cli import build_cmd, export_cmd, parity_cmd
from kitpose.export.metadata import read_metadata


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


@pytest.fixture(scope="module")
def tiny(exported, tmp_path_factory):
    """(checkpoint of the conftest's tiny TransPose, its ONNX export, synthetic set).

    TransPose exports in a quarter of the time of KITPose; test_verify covers clustering parity.
    """
    from kitpose.data.synthetic import generate_dataset

    model, onnx_path = exported("transpose-r-a3")
    root = tmp_path_factory.mktemp("cli")
    config = {k: _plain(v) for k, v in asdict(model.config).items()}
    ckpt = save_checkpoint(root / "tiny.pt", {"arch": "transpose", "config": config,
                                              "model": model.state_dict()})
    ann = generate_dataset(root / "synth", 3, 5, (96, 96), "val")
    return ckpt, onnx_path, ann, root / "synth" / "images"


def _invoke(command, args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def test_export_writes_onnx_and_manifest(tiny, tmp_path):
    result = _invoke(export_cmd, ["--model", tiny[0], "--out", tmp_path / "out", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    onnx_path = tmp_path / "out" / "model.onnx"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert list(manifest) == ["onnx"] and manifest["onnx"]["output"] == str(onnx_path)
    meta = read_metadata(onnx_path)
    assert meta["model_name"] == "tiny" and meta["input_size"] == [64, 64]
    assert len(meta["sigmas"]) == 17 and "precision" not in meta  # fp32: the onnx stage output
    from kitpose.export.report import export_record, onnx_precision

    assert onnx_precision(onnx_path) == "fp32" and export_record(onnx_path)["stage"] == "onnx"
    assert export_record(tiny[1]) is None  # no manifest beside the conftest export


@pytest.mark.parametrize("args,message", [
    (["--precision", "fp64"], "fp32,fp16,int8"),
    (["--model", "no_such.pt"], "no_such.pt"),
    (["--model", "{garbage}"], "garbage.pt"),
], ids=["bad-precision", "missing-model", "corrupt-checkpoint"])
def test_export_input_errors(args, message, tmp_path):
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    args = [a.replace("{garbage}", str(tmp_path / "garbage.pt")) for a in args]
    result = _invoke(export_cmd, ["--out", tmp_path / "out", *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_parity_passes_and_writes_report(tiny, tmp_path):
    ckpt, onnx_path, ann, images = tiny
    report_path = tmp_path / "parity.json"
    result = _invoke(parity_cmd, ["--model", ckpt, "--onnx", onnx_path, "--annotations", ann,
                                  "--images", images, "--json", report_path, "--batch-size", 4])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output
    report = json.loads(report_path.read_text())
    assert report["command"].startswith(f"kitpose parity --model {ckpt} ")
    assert f"--onnx {onnx_path}" in report["command"] and "--flip-test" in report["command"]
    assert [r["backend"] for r in report["rows"]] == ["torch", "onnxruntime-cpu"]
    assert report["rows"][1]["gate"]["passed"] and "system" in report["rows"][1]


def test_parity_failing_fp32_gate_exits_1(tiny, tmp_path):
    from .test_verify import _perturbed

    ckpt, onnx_path, ann, images = tiny
    bad = _perturbed(onnx_path, tmp_path / "bad.onnx")
    result = _invoke(parity_cmd, ["--model", ckpt, "--onnx", bad, "--annotations", ann,
                                  "--images", images, "--no-flip-test"])
    assert result.exit_code == 1 and "FAIL (heatmap_max_abs" in result.output, result.output


def test_parity_with_unrunnable_engine_exits_2(tiny, tmp_path):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("the tensorrt runtime is installed here; this checks its absence")
    ckpt, onnx_path, ann, images = tiny
    (tmp_path / "model.engine").write_bytes(b"\0" * 16)
    result = _invoke(parity_cmd, ["--model", ckpt, "--onnx", onnx_path, "--engine",
                                  tmp_path / "model.engine", "--annotations", ann, "--images", images,
                                  "--no-flip-test"])
    assert result.exit_code == 2 and "SKIPPED" in result.output and "runtime" in result.output


@pytest.mark.parametrize("case", ["truncated-onnx", "no-backend", "missing-images"])
def test_parity_input_errors(tiny, tmp_path, case):
    ckpt, onnx_path, ann, images = tiny
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(onnx_path.read_bytes()[:500])
    args = {"truncated-onnx": ["--onnx", cut, "--images", images],
            "no-backend": ["--images", images],
            "missing-images": ["--onnx", onnx_path, "--images", tmp_path / "nowhere"]}[case]
    result = _invoke(parity_cmd, ["--model", ckpt, "--annotations", ann, *args])
    expected = {"truncated-onnx": "cut.onnx", "no-backend": "at least one --onnx",
                "missing-images": "nowhere: image folder not found"}[case]
    assert result.exit_code == 2 and expected in result.output, result.output


@pytest.mark.parametrize("args,message", [(["--batch", "1:8"], "min:opt:max"),
                                          (["--batch", "8:1:32"], "1 <= min <= opt <= max")],
                         ids=["two-values", "unordered"])
def test_build_rejects_bad_batch(tiny, tmp_path, args, message):
    result = _invoke(build_cmd, ["--onnx", tiny[1], "--out", tmp_path / "m.engine", *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_build_names_a_truncated_onnx(tmp_path):
    (tmp_path / "cut.onnx").write_bytes(b"\x08\x07garbage")
    result = _invoke(build_cmd, ["--onnx", tmp_path / "cut.onnx", "--out", tmp_path / "m.engine",
                                 "--backend", "tensorrt_rtx", "--compute-capability", "8.6"])
    assert result.exit_code == 2 and "cut.onnx: not a valid ONNX model" in result.output, result.output


@pytest.mark.trt
def test_build_tensorrt_rtx_ahead_of_time(tiny, tmp_path):
    if importlib.util.find_spec("tensorrt_rtx") is None:
        pytest.skip("tensorrt_rtx is not installed (pip install tensorrt-rtx-cu13)")
    out = tmp_path / "model.engine"
    result = _invoke(build_cmd, ["--onnx", tiny[1], "--out", out, "--backend", "tensorrt_rtx",
                                 "--compute-capability", "8.6", "--batch", "1:2:4"])
    assert result.exit_code == 0, result.output
    sidecar = json.loads((tmp_path / "model.engine.json").read_text())
    assert out.stat().st_size > 0 and sidecar["compute_capabilities"] == ["8.6"]
    assert sidecar["profiles"][0]["max"] == [4, 3, 64, 64]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["engine_model"]["output"] == str(out)


def test_parity_runs_an_engine_through_the_runtime_trt_runner(tiny, tmp_path, monkeypatch):
    """Where TensorRT, cuda-python and a GPU exist, `kitpose parity --engine` runs the engine in the
    runtime's TrtRunner. Here the fake modules of tests/fake_trt.py stand in, and the fake engine's
    network is the ONNX in ONNX Runtime, so the engine row must pass the fp32 gate."""
    import fake_trt
    import numpy as np
    import onnxruntime as ort

    ckpt, onnx_path, ann, images = tiny
    meta = read_metadata(onnx_path)
    monkeypatch.setattr(fake_trt, "H", meta["heatmap_size"][0])  # the fake engine's output shape
    monkeypatch.setattr(fake_trt, "W", meta["heatmap_size"][1])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    network = lambda x: session.run(["heatmaps"], {"input": np.ascontiguousarray(x)})[0]  # noqa: E731
    engine = tmp_path / "model.engine"
    fake = fake_trt.install(monkeypatch, onnx_path, engine, network)
    result = _invoke(parity_cmd, ["--model", ckpt, "--engine", engine, "--annotations", ann,
                                  "--images", images, "--batch-size", 4, "--json", tmp_path / "p.json"])
    assert result.exit_code == 0, result.output
    torch_row, engine_row = json.loads((tmp_path / "p.json").read_text())["rows"]
    assert engine_row["backend"] == "tensorrt" and engine_row["precision"] == "fp32"
    assert engine_row["file"] == str(engine) and engine_row["gate"]["passed"], engine_row
    assert engine_row["heatmap_max_abs"] <= 1e-4 and fake.plain_runs > 0  # the engine really ran
    assert "tensorrt" in result.output and "PASS" in result.output
