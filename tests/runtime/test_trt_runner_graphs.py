"""TrtRunner's bucket and CUDA-graph bookkeeping, against fake `tensorrt` and cuda-python modules
(tests/fake_trt.py): every heatmap of a row holds the row's input mean, so the test checks what
reaches the output, that every bucket is captured once and replayed afterwards, and that padding rows
never leak into results. The real TensorRT path needs a GPU and is not run on the build machines.
"""
import numpy as np
import pytest

from fake_trt import H, K, W, install


@pytest.fixture()
def fake_trt(monkeypatch, small_onnx, tmp_path):
    engine = tmp_path / "model.engine"
    return install(monkeypatch, small_onnx, engine), engine


@pytest.mark.parametrize("graphs", [False, True], ids=["plain", "cuda-graphs"])
def test_buckets_give_each_row_its_own_result(fake_trt, graphs):
    from kitpose.runtime.runners import open_runner

    fake, engine = fake_trt
    runner = open_runner(engine, cuda_graphs=graphs)  # the path `kitpose infer --cuda-graphs` takes
    x = np.random.default_rng(0).standard_normal((11, 3, 128, 128)).astype(np.float32)
    for rows in (3, 3, 1, 11):  # buckets 4, 4 again, 1, then 8 + 4 (max batch 8)
        out = runner(x[:rows])
        assert out.shape == (rows, K, H, W)
        np.testing.assert_allclose(out[:, 0, 0, 0], x[:rows].reshape(rows, -1).mean(1), rtol=1e-5)
    assert sorted(runner._buckets) == [1, 4, 8]
    if graphs:  # one context and one captured graph per bucket, replayed for every later call
        assert fake.contexts == 1 + 3 and len(fake.graphs) == 3
        assert fake.launches == 5  # 3 + 3 -> 2 launches of bucket 4, 1 -> 1, 11 -> 8 and 4
    else:
        assert fake.contexts == 1 and not fake.graphs and fake.launches == 0
    runner.close()


def test_outputs_names_every_engine_output(fake_trt):
    """`outputs` (the parity gate's call) returns what `__call__` returns, by tensor name."""
    from kitpose.runtime.runners import open_runner

    _, engine = fake_trt
    x = np.random.default_rng(1).standard_normal((10, 3, 128, 128)).astype(np.float32)
    with open_runner(engine) as runner:
        out = runner.outputs(x)  # 10 rows: chunks of 8 and 2
        assert list(out) == ["heatmaps"] and out["heatmaps"].dtype == np.float32
        np.testing.assert_array_equal(out["heatmaps"], runner(x))


def test_engine_runtime_problem_names_what_is_missing(monkeypatch, fake_trt):
    import sys

    from kitpose.runtime.trt_runner import engine_runtime_problem

    assert engine_runtime_problem() is None  # fake TensorRT, cuda-python and one "GPU"
    monkeypatch.setattr(sys.modules["cuda.bindings.runtime"], "cudaGetDeviceCount", lambda: (100, 0))
    assert "no CUDA GPU visible" in engine_runtime_problem()  # 100: cudaErrorNoDevice
    monkeypatch.delitem(sys.modules, "tensorrt")
    monkeypatch.setattr("importlib.import_module", _no_module)
    assert "TensorRT runtime cannot run here" in engine_runtime_problem()


def _no_module(name):
    raise ImportError(f"No module named {name!r}")
