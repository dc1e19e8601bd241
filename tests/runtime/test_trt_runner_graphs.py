"""TrtRunner's bucket and CUDA-graph bookkeeping, against fake `tensorrt` and cuda-python modules.

The fakes keep "device memory" in host buffers and make the "engine" write each row's input mean
into its heatmaps, so the test checks what reaches the output, that every bucket is captured once
and replayed afterwards, and that padding rows never leak into results. The real TensorRT path
needs a GPU and is not run on the build machines.
"""
import ctypes
import json
import sys
import types

import numpy as np
import pytest

K, H, W = 17, 32, 32


class FakeMemory:
    """Host buffers standing in for device allocations, addressed by pointer."""

    def __init__(self):
        self.buffers = {}

    def alloc(self, nbytes):
        buf = ctypes.create_string_buffer(nbytes)
        self.buffers[ctypes.addressof(buf)] = buf
        return ctypes.addressof(buf)

    def array(self, ptr, shape):
        n = int(np.prod(shape))
        return np.frombuffer((ctypes.c_float * n).from_address(ptr), np.float32).reshape(shape)


class FakeContext:
    def __init__(self, fake):
        self.fake, self.shape, self.addresses = fake, None, {}

    def set_input_shape(self, name, shape):
        self.shape = tuple(shape)

    def get_tensor_shape(self, name):
        return self.shape if name == "input" else (self.shape[0], K, H, W)

    def set_tensor_address(self, name, ptr):
        self.addresses[name] = ptr

    def execute_async_v3(self, stream):
        op = (self, self.shape, dict(self.addresses))
        if self.fake.capturing is not None:
            self.fake.capturing.append(op)
        else:
            self.fake.run(op)
        return True


class FakeEngine:
    num_io_tensors = 2

    def __init__(self, fake):
        self.fake = fake

    def get_tensor_name(self, i):
        return ["input", "heatmaps"][i]

    def get_tensor_profile_shape(self, name, profile):
        return [(1, 3, 128, 128), (4, 3, 128, 128), (8, 3, 128, 128)]

    def get_tensor_dtype(self, name):
        return "float32"

    def create_execution_context(self):
        self.fake.contexts += 1
        return FakeContext(self.fake)


class Fake:
    """Both modules' state: memory, captured graphs, counters."""

    def __init__(self):
        self.memory, self.capturing, self.graphs = FakeMemory(), None, []
        self.contexts = self.launches = self.plain_runs = 0

    def run(self, op):
        """The 'engine': heatmaps[b] = mean of input[b], for the context's batch."""
        _, shape, addresses = op
        x = self.memory.array(addresses["input"], shape)
        y = self.memory.array(addresses["heatmaps"], (shape[0], K, H, W))
        y[:] = x.reshape(shape[0], -1).mean(axis=1)[:, None, None, None]
        self.plain_runs += 1

    def modules(self):
        trt = types.ModuleType("tensorrt")
        trt.__version__ = "10.fake"
        trt.Logger = type("Logger", (), {"WARNING": 0, "__init__": lambda self, level: None})
        trt.Runtime = lambda logger: types.SimpleNamespace(deserialize_cuda_engine=lambda b: FakeEngine(self))
        trt.nptype = lambda dtype: np.float32
        rt = types.ModuleType("cuda.bindings.runtime")
        rt.cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
        rt.cudaStreamCaptureMode = types.SimpleNamespace(cudaStreamCaptureModeThreadLocal=1)
        rt.cudaStreamCreate = lambda: (0, 7)
        rt.cudaStreamDestroy = lambda s: (0,)
        rt.cudaStreamSynchronize = lambda s: (0,)
        rt.cudaMalloc = lambda n: (0, self.memory.alloc(n))
        rt.cudaFree = lambda p: (0,)
        rt.cudaMemcpyAsync = lambda dst, src, n, kind, s: (ctypes.memmove(dst, src, n), 0)[1:]

        def begin(stream, mode):
            self.capturing = []
            return (0,)

        def end(stream):
            graph, self.capturing = self.capturing, None
            return 0, graph

        def launch(graph_exec, stream):
            self.launches += 1
            for op in graph_exec:
                self.run(op)
            return (0,)

        rt.cudaStreamBeginCapture, rt.cudaStreamEndCapture = begin, end
        rt.cudaGraphInstantiate = lambda graph, flags: (0, self.graphs.append(graph) or graph)
        rt.cudaGraphLaunch = launch
        rt.cudaGraphExecDestroy = lambda g: (0,)
        return trt, rt


@pytest.fixture()
def fake_trt(monkeypatch, small_onnx, tmp_path):
    fake = Fake()
    trt, rt = fake.modules()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"plan")
    engine.with_name("model.engine.json").write_text(json.dumps({"onnx": str(small_onnx)}))
    return fake, engine


@pytest.mark.parametrize("graphs", [False, True], ids=["plain", "cuda-graphs"])
def test_buckets_give_each_row_its_own_result(fake_trt, graphs):
    from kitpose.runtime.base import open_runner

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
