"""Stage 3: ahead-of-time TensorRT-RTX builds (no GPU needed) and the sidecar compatibility check."""
import json

import pytest

from kitpose.export import EngineCompatibilityError, ExportFileError, build_engine, check_engine_compatible
from kitpose.export.sidecar import sidecar_path

pytestmark = pytest.mark.trt


@pytest.fixture(scope="module")
def engine(exported, tmp_path_factory):
    onnx_path = exported("kitpose-w32-256")[1]
    out = tmp_path_factory.mktemp("engine") / "model.engine"
    return build_engine(onnx_path, out, backend="tensorrt_rtx", compute_capability="8.6",
                        batch=(1, 2, 4)), onnx_path


def test_aot_build_writes_engine_and_sidecar(engine):
    path, onnx_path = engine
    record = json.loads(sidecar_path(path).read_text())
    assert record["flavour"] == "tensorrt_rtx" and record["compute_capabilities"] == ["8.6"]
    assert record["profiles"] == [{"input": "input", "min": [1, 3, 64, 64], "opt": [2, 3, 64, 64],
                                   "max": [4, 3, 64, 64]}]
    from kitpose.export.files import sha256_file

    assert record["onnx_sha256"] == sha256_file(onnx_path) and record["tf32"] is False
    assert check_engine_compatible(path, gpu_capability="8.6")["version"] == record["version"]


@pytest.mark.parametrize("capability,message", [("8.9", "targets compute capability"),
                                                 ("9.0", "does not support compute capability 9.0")],
                         ids=["other-ampere", "hopper"])
def test_mismatched_gpu_says_how_to_rebuild(engine, capability, message):
    with pytest.raises(EngineCompatibilityError, match=message):
        check_engine_compatible(engine[0], gpu_capability=capability)


def test_truncated_engine_names_the_file(engine, tmp_path):
    bad = tmp_path / "bad.engine"
    bad.write_bytes(engine[0].read_bytes()[:1000])
    sidecar_path(bad).write_text(sidecar_path(engine[0]).read_text())
    with pytest.raises(ExportFileError, match="bad.engine: engine bytes do not match"):
        check_engine_compatible(bad, gpu_capability="8.6")
    sidecar_path(bad).unlink()
    with pytest.raises(EngineCompatibilityError, match="sidecar missing"):
        check_engine_compatible(bad)


def test_parse_errors_are_listed(tmp_path, exported):
    import onnx

    proto = onnx.load(str(exported("transpose-r-a3")[1]))
    proto.graph.node[0].op_type = "NoSuchOp"  # a graph TensorRT cannot parse
    bad = tmp_path / "unknown_op.onnx"
    bad.write_bytes(proto.SerializeToString())
    with pytest.raises((RuntimeError, ExportFileError), match="unknown_op.onnx"):
        build_engine(bad, tmp_path, backend="tensorrt_rtx", compute_capability="8.6")


@pytest.mark.parametrize("spec", ["default", "kitpose-w32-256"])
def test_full_size_models_build_engines(spec, tmp_path):
    """The shipped default model and the paper's W32-256 (random weights) at their real sizes."""
    import warnings

    from kitpose.export import export_onnx
    from kitpose.models import load_model

    model = load_model(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_path = export_onnx(model, tmp_path / "model.onnx")
    path = build_engine(onnx_path, tmp_path / "model.engine", backend="tensorrt_rtx",
                        compute_capability="8.6", batch=(1, 4, 8))
    record = json.loads(sidecar_path(path).read_text())
    h, w = model.config.input_size
    assert record["profiles"][0]["max"] == [8, 3, h, w] and record["compute_capabilities"] == ["8.6"]
    assert path.stat().st_size > 0.5 * sum(p.numel() * 4 for p in model.parameters())  # weights inside
