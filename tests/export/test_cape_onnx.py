"""FMMP's two ONNX graphs: support once, query per crop; parity with PyTorch in ONNX Runtime, metadata,
and TensorRT-RTX ahead-of-time builds of both."""
import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from kitpose.export.cape_onnx import (QUERY_INPUTS, STATE_NAMES, QueryGraph, SupportGraph,  # noqa: E402
                                      dummy_support, export_cape_onnx)
from kitpose.models.fmmp import FMMP, FMMPConfig  # noqa: E402

CONFIG = FMMPConfig(input_size=(64, 64), dim=32, heads=4, ffn=64, planes=(8, 8, 16, 16), blocks=(1, 1, 1, 1))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = FMMP(CONFIG).eval()
    for update in model.updates:  # move the points (a fresh model's updates are zero)
        torch.nn.init.normal_(update.mlp[-1].weight, std=0.1)
    return model, export_cape_onnx(model, tmp_path_factory.mktemp("cape"), shots=2)


def test_query_points_match_pytorch_within_a_thousandth_of_the_crop(exported):
    _assert_ort_matches_pytorch(*exported)


def test_similarity_start_exports_with_the_same_parity(tmp_path):
    """fmmp-small's start="similarity" (cosine matching + soft-argmax) in the query graph."""
    torch.manual_seed(0)
    model = FMMP(dataclasses.replace(CONFIG, start="similarity")).eval()
    _assert_ort_matches_pytorch(model, export_cape_onnx(model, tmp_path, shots=2))


def _assert_ort_matches_pytorch(model, paths):
    images, points, visible, table = dummy_support(model, shots=2, batch=3, seed=4)  # another batch size
    query = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        state = SupportGraph(model)(images, points, visible)
        expect = QueryGraph(model)(query, points, table, *state).numpy()  # (3, 70, 2)
    support = ort.InferenceSession(str(paths["support"]), providers=["CPUExecutionProvider"])
    outs = support.run(None, {"support_images": images.numpy(), "support_points": points.numpy(),
                              "support_visible": visible.numpy()})
    feed = {"query": query.numpy(), "support_points": points.numpy(), "table": table.numpy(),
            **dict(zip(STATE_NAMES, outs))}
    session = ort.InferenceSession(str(paths["query"]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(QUERY_INPUTS)
    got = session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})[0]
    assert got.shape == (3, 70, 2) and np.abs(got - expect).max() < 1e-3
    assert np.abs(got - 0.5).max() > 1e-2  # the points did move


def test_metadata_names_the_graph_and_its_shots(exported):
    _, paths = exported
    for name, path in paths.items():
        props = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
        assert props["graph"] == name and props["shots"] == 2 and props["num_keypoints"] == 70
        assert props["input_size"] == [64, 64]


@pytest.mark.trt
@pytest.mark.slow
def test_both_graphs_build_rtx_engines_ahead_of_time(exported, tmp_path):
    from kitpose.export.build_engine import build_engine

    _, paths = exported
    for name, path in paths.items():
        engine = build_engine(path, tmp_path / f"{name}.engine", backend="tensorrt_rtx",
                              compute_capability="8.6", batch=(1, 1, 4))
        assert engine.stat().st_size > 0
        assert json.loads((tmp_path / f"{name}.engine.json").read_text())["profiles"][0]["max"][0] == 4
