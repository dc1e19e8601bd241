"""Stage 2: fp16 (mixed) and int8 (Q/DQ) files are written, keep metadata and run in ONNX Runtime."""
import numpy as np
import onnx
import pytest

from kitpose.config import INPUT_NAME
from kitpose.export import convert_precision, read_metadata
from kitpose.export.regions import clustering_nodes, int8_fp32_convs

pytest.importorskip("modelopt.onnx.quantization", reason="needs nvidia-modelopt's ONNX tools")


def _run(path, x):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {INPUT_NAME: x})


@pytest.fixture(scope="module")
def fp32(exported):
    return exported("kitpose-w32-256")[1]


def test_fp16_runs_and_keeps_clustering_fp32(fp32, tmp_path):
    path = convert_precision(fp32, tmp_path, precision="fp16")
    assert path.name == "model_fp16.onnx"
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    ref, out = _run(fp32, x), _run(path, x)
    assert out[0].dtype == np.float32  # graph I/O stays float32
    # fp16 activations: a loose bound relative to the heatmap peak, far below a decode pixel
    assert np.abs(out[0] - ref[0]).max() <= 2e-2 * np.abs(ref[0]).max()
    proto = onnx.load(str(path))
    kept = set(clustering_nodes(onnx.load(str(fp32))))
    float16 = onnx.TensorProto.FLOAT16
    casts_to_half = [n.name for n in proto.graph.node if n.op_type == "Cast" and n.name in kept
                     and any(a.name == "to" and a.i == float16 for a in n.attribute)]
    assert not casts_to_half
    meta = read_metadata(path)
    assert meta["precision"] == "fp16" and meta["keypoint_names"][0] == "kp0"


def test_int8_has_qdq_outside_clustering(fp32, tmp_path):
    path = convert_precision(fp32, tmp_path / "q.onnx", precision="int8", calib_samples=4)
    proto = onnx.load(str(path))
    quant = [n for n in proto.graph.node if n.op_type == "QuantizeLinear"]
    assert quant
    kept = set(clustering_nodes(onnx.load(str(fp32))))
    assert not [n.name for n in quant if n.name in kept]
    x = np.random.default_rng(1).normal(size=(2, 3, 64, 64)).astype(np.float32)
    out = _run(path, x)
    assert out[0].shape == (2, 17, 16, 16) and np.isfinite(out[0]).all()
    assert out[1].shape == (2, 17) and out[1].min() >= 0 and out[1].max() < 4
    assert read_metadata(path)["precision_tool"].startswith("nvidia-modelopt")
    # only convolutions (and the residual adds TensorRT fuses into them) read dequantised tensors,
    # never the transformer or the convs kept in fp32
    dequantised = {o for n in proto.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    readers = [n for n in proto.graph.node if set(n.input) & dequantised]
    assert readers and {n.op_type for n in readers} <= {"Conv", "Add"}
    fp32_convs = set(int8_fp32_convs(onnx.load(str(fp32))))
    assert len(fp32_convs) >= 3 and not fp32_convs & {n.name for n in readers}


def test_int8_rejects_wrong_calibration_shape(fp32, tmp_path):
    with pytest.raises(ValueError, match=r"\(3, 64, 64\)"):
        convert_precision(fp32, tmp_path, precision="int8", calibration=[np.zeros((3, 32, 32))])


def _ort_optimised_ops(path, tmp_path) -> dict[str, int]:
    """Op type -> count in ONNX Runtime's optimised CPU graph of `path` (what it will execute)."""
    import collections

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    opts.log_severity_level = 3  # the "hardware-specific optimisations" notice
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return collections.Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)


def test_int8_for_onnxruntime_fuses_into_integer_kernels(fp32, tmp_path):
    """The CPU placement: ONNX Runtime turns every quantised conv into QLinearConv and the backbone's
    adds into QLinearAdd, leaving Q/DQ only at the fp32 edges; ModelOpt's TensorRT placement leaves
    it fp32 convs between Q/DQ pairs (the reason int8 was slower than fp32 on a CPU)."""
    path = convert_precision(fp32, tmp_path / "ort.onnx", precision="int8", int8_tool="onnxruntime",
                             calib_samples=4)
    assert read_metadata(path)["precision_tool"].startswith("onnxruntime")
    ops = _ort_optimised_ops(path, tmp_path)
    convs = sum(n.op_type == "Conv" for n in onnx.load(str(fp32)).graph.node)
    fp32_convs = len(int8_fp32_convs(onnx.load(str(fp32))))
    assert ops["QLinearConv"] == convs - fp32_convs and ops["QLinearAdd"] > 0
    assert ops["Conv"] + ops["FusedConv"] == fp32_convs  # float convs: only those kept in fp32
    # Q/DQ left only where fp32 meets int8 (a DQ per consumer), not around every quantised op
    assert ops["DequantizeLinear"] + ops["QuantizeLinear"] <= 0.25 * (ops["QLinearConv"] + ops["QLinearAdd"])
    x = np.random.default_rng(1).normal(size=(2, 3, 64, 64)).astype(np.float32)
    ref, out = _run(fp32, x), _run(path, x)
    assert np.isfinite(out[0]).all() and out[1].shape == (2, 17)
    assert np.abs(out[0] - ref[0]).max() <= 0.25 * np.abs(ref[0]).max()  # random weights: a sanity bound


def test_int8_for_tensorrt_is_not_fused_by_onnxruntime(fp32, tmp_path):
    path = convert_precision(fp32, tmp_path / "trt.onnx", precision="int8", calib_samples=4)
    ops = _ort_optimised_ops(path, tmp_path)
    assert ops["QLinearConv"] == 0 and ops["DequantizeLinear"] > 0


def test_int8_ort_nodes_keep_the_transformer_and_fp32_convs_out(fp32):
    from kitpose.export.regions import int8_ort_nodes

    model = onnx.load(str(fp32))
    picked = set(int8_ort_nodes(model))
    by_name = {n.name: n for n in model.graph.node}
    assert {by_name[n].op_type for n in picked} <= {"Conv", "Relu", "Add", "Resize"}
    assert not picked & set(int8_fp32_convs(model)) and not picked & set(clustering_nodes(model))
    assert not [n for n in picked if "encoder" in n or "head" in n]  # the transformer stays fp32
