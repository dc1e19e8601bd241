"""The PyTorch model-bench targets: each variant computes the same heatmaps as eager fp32."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kitpose.bench.backends import Skip, make_target  # noqa: E402


def _heatmaps(target, host):
    out = target.call(target.prepare(host))
    return (out.float().cpu().numpy() if isinstance(out, torch.Tensor) else out)  # (B, K, H, W)


@pytest.fixture(scope="module")
def crops(tiny_bench):
    return np.random.default_rng(0).standard_normal((3, 3, *tiny_bench.input_size)).astype(np.float32)


def test_channels_last_target_matches_eager(tiny_bench, crops, tmp_path):
    eager = make_target(tiny_bench, "torch", "fp32", "cpu", 1, 4, tmp_path)
    nhwc = make_target(tiny_bench, "torch-cl", "fp32", "cpu", 1, 4, tmp_path)
    assert nhwc.settings["memory_format"] == "channels_last"
    np.testing.assert_allclose(_heatmaps(nhwc, crops), _heatmaps(eager, crops), atol=1e-4)


def test_cuda_graph_target_needs_a_gpu(tiny_bench, tmp_path):
    with pytest.raises(Skip, match="CUDA graphs need a GPU"):
        make_target(tiny_bench, "torch-graphs", "fp32", "cpu", 1, 4, tmp_path)


@pytest.mark.cuda
def test_cuda_graph_target_replays_new_inputs(tiny_bench, crops, tmp_path):
    eager = make_target(tiny_bench, "torch", "fp32", "cuda", 1, 4, tmp_path)
    graphs = make_target(tiny_bench, "torch-graphs", "fp32", "cuda", 1, 4, tmp_path)
    x = graphs.prepare(crops)
    graphs.call(x)  # captures with x as the static input
    x.copy_(torch.from_numpy(crops[::-1].copy()))  # new content, same buffer: the replay must see it
    got = graphs.call(x).float().cpu().numpy()
    np.testing.assert_allclose(got, _heatmaps(eager, crops[::-1].copy()), atol=1e-3)


def test_int8_is_placed_for_the_runtime_that_runs_it(tmp_path):
    """ORT rows run ONNX Runtime's placement (model_int8.onnx); engines build from ModelOpt's
    TensorRT placement (model_int8_trt.onnx), and only when an engine backend was asked for."""
    pytest.importorskip("modelopt.onnx.quantization", reason="needs nvidia-modelopt's ONNX tools")
    from kitpose.bench.models import export_onnx_variants, load_bench_model
    from kitpose.export import read_metadata

    bench = load_bench_model("kitpose-w8-128")
    assert export_onnx_variants(bench, tmp_path, ["fp32", "int8"], engines=True) == {}
    assert read_metadata(bench.onnx["int8"])["precision_tool"].startswith("onnxruntime")
    assert bench.engine_onnx["int8"].name == "model_int8_trt.onnx"
    assert read_metadata(bench.engine_onnx["int8"])["precision_tool"].startswith("nvidia-modelopt")
    cpu_only = load_bench_model("kitpose-w8-128")
    export_onnx_variants(cpu_only, tmp_path, ["fp32", "int8"])  # unchanged files: the manifest skips them
    assert cpu_only.engine_onnx == {}
