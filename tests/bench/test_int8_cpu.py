"""bench/int8_cpu.py counts the operators of the graph ONNX Runtime actually runs."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402

from kitpose.bench.int8_cpu import optimised_op_counts  # noqa: E402


def test_counts_the_optimised_graph_not_the_file(tmp_path):
    """Conv + Relu: ORT fuses the Relu into the Conv, so the optimised graph holds one Conv."""
    w = helper.make_tensor("w", TensorProto.FLOAT, (4, 3, 3, 3), np.ones(108, np.float32))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 8, 8))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 4, 6, 6))], [w])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    counts = optimised_op_counts(path)
    assert counts["Conv"] == 1 and counts["Relu"] == 0  # the file has a Relu; the optimised graph fused it
    assert counts["QLinearConv"] == 0 and counts["DequantizeLinear"] == 0
