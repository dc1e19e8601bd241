"""Clear errors for corrupted or truncated files; clustering region on a hand-built graph; manifest."""
import json
import os
import stat

import pytest
from onnx import TensorProto, helper

from kitpose.export import ExportFileError, load_onnx
from kitpose.export.regions import clustering_nodes


def _tiny_graph():
    """input -> Conv -> Relu (heatmaps) and Conv -> ReduceSum -> ArgMin (assign)."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 1, 1], [0.1] * 6)
    nodes = [helper.make_node("Conv", ["input", "w"], ["h0"], name="conv"),
             helper.make_node("Relu", ["h0"], ["heatmaps"], name="relu"),
             helper.make_node("ReduceSum", ["h0"], ["s"], name="sum", keepdims=0),
             helper.make_node("ArgMin", ["s"], ["assign"], name="argmin", axis=1, keepdims=0)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [1, 2, 4, 4]),
         helper.make_tensor_value_info("assign", TensorProto.INT64, None)], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_clustering_region_hand_graph():
    assert clustering_nodes(_tiny_graph()) == ["sum", "argmin"]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_onnx_names_the_file(exported, tmp_path, damage):
    data = exported("transpose-r-a3")[1].read_bytes()
    bad = tmp_path / f"{damage}.onnx"
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x08\xff" * 64,
                     "empty": b""}[damage])
    with pytest.raises(ExportFileError, match=str(bad)):
        load_onnx(bad)


def test_missing_onnx_names_the_file(tmp_path):
    with pytest.raises(ExportFileError, match="missing.onnx: ONNX file not found"):
        load_onnx(tmp_path / "missing.onnx")


def test_pipeline_manifest_and_skip(exported, tmp_path):
    from kitpose.export import ExportConfig
    from kitpose.export.pipeline import run_pipeline
    from kitpose.export.files import sha256_file

    from .conftest import META

    src = exported("transpose-r-a3")[1]
    from kitpose.export.manifest import run_stage
    from kitpose.export.precision import convert_precision

    cfg = ExportConfig(precision="fp32", metadata=META)
    out = run_stage("precision", convert_precision, src, tmp_path / "p.onnx", cfg,
                    tmp_path / "manifest.json")
    record = json.loads((tmp_path / "manifest.json").read_text())["precision"]
    assert record["input_sha256"] == sha256_file(src) and record["output_sha256"] == sha256_file(out)
    assert record["output_bytes"] == out.stat().st_size and "onnx" in record["tools"]
    mtime = out.stat().st_mtime_ns
    run_stage("precision", convert_precision, src, tmp_path / "p.onnx", cfg, tmp_path / "manifest.json")
    assert out.stat().st_mtime_ns == mtime  # unchanged input and config: skipped
    with pytest.raises(ValueError, match="stop_after"):
        run_pipeline(src, tmp_path, cfg, stop_after="deploy")


@pytest.fixture()
def umask():
    """Set the process umask for one test (returns the setter); the old one is restored after."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)],
                         ids=["022", "077", "002"])
def test_atomic_writes_respect_umask(umask, tmp_path, mask, mode):
    from kitpose.atomic import write_atomic

    umask(mask)
    path = write_atomic(tmp_path / "sub" / "f.bin", b"data")
    assert path.read_bytes() == b"data" and stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]  # no temp file left


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    from kitpose.atomic import atomic_open

    (tmp_path / "f.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(tmp_path / "f.bin") as handle:
            handle.write(b"half")
            raise RuntimeError("boom")
    assert (tmp_path / "f.bin").read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_export_files_respect_umask(umask, exported, tmp_path):
    """model.onnx and manifest.json of an export are 0644 under umask 022 (mkstemp made them 0600)."""
    from kitpose.export import ExportConfig
    from kitpose.export.manifest import run_stage
    from kitpose.export.to_onnx import export_onnx

    from .conftest import META

    umask(0o022)
    model = exported("transpose-r-a3")[0]
    out = run_stage("onnx", export_onnx, model, tmp_path / "model.onnx", ExportConfig(metadata=META),
                    tmp_path / "manifest.json")
    for path in (out, tmp_path / "manifest.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_checkpoint_respects_umask(umask, tmp_path):
    torch = pytest.importorskip("torch")
    from kitpose.checkpoint import save_checkpoint

    umask(0o022)
    path = save_checkpoint(tmp_path / "m.pt", {"model": {"w": torch.zeros(1)}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
