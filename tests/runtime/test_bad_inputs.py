"""Bad inputs are reported with clear messages while the rest is processed."""
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from kitpose.runtime.cli import infer_cmd
from kitpose.runtime.metadata import ModelFileError, read_model_metadata
from kitpose.runtime.model_files import resolve_model
from kitpose.runtime.ort_runner import OrtRunner


@pytest.fixture()
def mixed_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / "a_good.jpg"), noise)
    good = (folder / "a_good.jpg").read_bytes()
    (folder / "b_empty.jpg").write_bytes(b"")
    (folder / "c_cut.jpg").write_bytes(good[: len(good) // 2])
    (folder / "d_text.png").write_text("not an image at all")
    cv2.imwrite(str(folder / "e_good.png"), np.full((50, 40, 3), 30, np.uint8))
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    return folder


def test_folder_with_bad_files(small_onnx, mixed_folder, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(infer_cmd, [str(mixed_folder), "--model", str(small_onnx), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "2 frame(s), 2 instance(s), 3 skipped" in result.output
    rows = [json.loads(line) for line in (out / "poses.jsonl").read_text().splitlines()]
    assert [r["name"] for r in rows] == ["a_good.jpg", "e_good.png"]


def test_bad_file_messages(small_onnx, mixed_folder, caplog):
    CliRunner().invoke(infer_cmd, [str(mixed_folder), "--model", str(small_onnx)])
    text = caplog.text
    assert "b_empty.jpg: empty file (0 bytes), skipped" in text
    assert "c_cut.jpg: truncated JPEG" in text
    assert "d_text.png: not an image OpenCV can decode" in text


def test_corrupt_video_file(small_onnx, tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    result = CliRunner().invoke(infer_cmd, [str(tmp_path / "broken.mp4"), "--model", str(small_onnx)])
    assert result.exit_code == 1, result.output  # nothing processed is a failure (test_cli.py)
    assert "0 frame(s), 0 instance(s), 1 skipped: no frame was processed" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["--boxes", "1,2,3"], "x,y,w,h"),
    (["--model", "missing.onnx"], "missing.onnx: model file not found"),
    (["--model", "weights.bin"], "not found"),
    (["--backend", "trt"], "Invalid value for --model"),  # an ONNX is no engine; or no TensorRT
], ids=["bad-boxes", "missing-model", "unknown-model", "onnx-as-engine"])
def test_bad_arguments(small_onnx, mixed_folder, args, message):
    base = [str(mixed_folder / "a_good.jpg"), "--model", str(small_onnx)]
    result = CliRunner().invoke(infer_cmd, base + args)
    assert result.exit_code == 2  # a usage error with the message, not a traceback
    assert message in result.output


def test_show_without_display(small_onnx, mixed_folder, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = CliRunner().invoke(infer_cmd, [str(mixed_folder), "--model", str(small_onnx), "--show"])
    assert result.exit_code == 2 and "no display" in result.output


def test_missing_source(small_onnx, tmp_path):
    result = CliRunner().invoke(infer_cmd, [str(tmp_path / "nope.mp4"), "--model", str(small_onnx)])
    assert result.exit_code == 2 and "no such file" in result.output


def test_garbage_onnx(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x01garbage")
    with pytest.raises(ModelFileError, match="bad.onnx"):
        OrtRunner(tmp_path / "bad.onnx")
    with pytest.raises(ModelFileError, match="bad.onnx"):
        read_model_metadata(tmp_path / "bad.onnx")


def test_engine_without_sidecar(tmp_path):
    (tmp_path / "m.engine").write_bytes(b"x")
    with pytest.raises(ModelFileError, match="sidecar"):
        read_model_metadata(tmp_path / "m.engine")


def test_resolve_model_kinds(small_onnx, tmp_path):
    assert resolve_model(str(small_onnx)) == small_onnx
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown model type '.bin'"):
        resolve_model(str(tmp_path / "w.bin"))
