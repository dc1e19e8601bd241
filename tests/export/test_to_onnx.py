"""Stage 1: every preset exports, passes the checker, and matches PyTorch in ONNX Runtime."""
import numpy as np
import onnx
import pytest
import torch

from kitpose.config import ASSIGN_NAME, HEATMAPS_NAME, INPUT_NAME
from kitpose.export import read_metadata

from .conftest import ALL_MODELS, META

FAST = ("kitpose-w32-256", "transpose-r-a3")
PRESETS = [pytest.param(n, marks=() if n in FAST else pytest.mark.slow, id=n) for n in ALL_MODELS]


def _run_ort(path, x):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: x})


@pytest.mark.parametrize("name", PRESETS)
def test_export_matches_torch(exported, name):
    model, path = exported(name)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))  # batch 3 != traced 2
    with torch.no_grad():
        ref = model(x)
    outputs = _run_ort(path, x.numpy())
    # fp32 parity budget from the issue: heatmaps max abs <= 1e-4
    assert np.abs(outputs[0] - ref.heatmaps.numpy()).max() <= 1e-4
    if ref.assign is not None:
        assert outputs[1].dtype == np.int64
        np.testing.assert_array_equal(outputs[1], ref.assign.numpy())


@pytest.mark.parametrize("name", FAST)
def test_graph_interface(exported, name):
    _, path = exported(name)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version >= 17
    assert [i.name for i in proto.graph.input] == [INPUT_NAME]
    expected = [HEATMAPS_NAME, ASSIGN_NAME] if name.startswith("kitpose") else [HEATMAPS_NAME]
    assert [o.name for o in proto.graph.output] == expected
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value  # dynamic batch axis
    assert not [n for n in proto.graph.node if n.op_type in ("If", "Loop")]  # unrolled clustering


def test_assign_identical_on_batch_one_and_many(exported):
    model, path = exported("kitpose-w32-256")
    x = torch.randn(7, 3, 64, 64, generator=torch.Generator().manual_seed(5)) * 2.0
    with torch.no_grad():
        ref = model(x).assign.numpy()
    np.testing.assert_array_equal(_run_ort(path, x.numpy())[1], ref)
    np.testing.assert_array_equal(_run_ort(path, x[:1].numpy())[1], ref[:1])


def test_metadata_round_trip(exported):
    _, path = exported("kitpose-w32-256")
    meta = read_metadata(path)
    for key, value in META.items():
        assert meta[key] == value
    assert meta["input_size"] == [64, 64] and meta["heatmap_size"] == [16, 16]
    assert meta["num_keypoints"] == 17 and meta["model_name"] == "kitpose-w32-256"
    assert meta["mean"] == [0.485, 0.456, 0.406] and meta["std"] == [0.229, 0.224, 0.225]
    assert meta["kmedoids_iters"] == 10 and isinstance(meta["version"], str)
    raw = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert all(isinstance(v, str) for v in raw.values())


def test_export_leaves_caller_model_in_its_mode(tmp_path):
    from kitpose.export import export_onnx

    from .conftest import small_model

    model = small_model("transpose-r-a3").train()
    export_onnx(model, tmp_path, metadata=META)
    assert all(m.training for m in model.modules())
    assert (tmp_path / "model.onnx").is_file()


def test_metadata_mismatch_names_the_field(tmp_path):
    from kitpose.export import export_onnx

    from .conftest import small_model

    bad = {**META, "sigmas": [0.05] * 5}
    with pytest.raises(ValueError, match="sigmas has 5 entries but the model has K=17"):
        export_onnx(small_model("transpose-r-a3"), tmp_path / "m.onnx", metadata=bad)
