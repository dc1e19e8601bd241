"""Fake `tensorrt` and cuda-python modules for the TensorRT runner's tests (no GPU, no TensorRT).

"Device memory" is host buffers addressed by pointer, copies are memmove, a stream capture records
executions and a graph launch replays them. The engine runs `network` on its input buffer: by
default every heatmap of a row holds that row's input mean; tests may plug in a real model.
"""
import ctypes
import json
import sys
import types

import numpy as np


K, H, W = 17, 32, 32  # heatmaps of the fake engine; its input is (B, 3, 4H, 4W)


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


def row_means(x: np.ndarray) -> np.ndarray:
    """The default fake network: every heatmap of row b holds the mean of input row b."""
    return np.broadcast_to(x.reshape(len(x), -1).mean(axis=1)[:, None, None, None], (len(x), K, H, W))


class Fake:
    """Both modules' state: memory, captured graphs, counters, and the network the engine runs."""

    def __init__(self, network=row_means):
        """network: (B, 3, 4H, 4W) float32 -> (B, K, H, W), what an execution computes."""
        self.memory, self.capturing, self.graphs, self.network = FakeMemory(), None, [], network
        self.contexts = self.launches = self.plain_runs = 0

    def run(self, op):
        """One execution of the 'engine' on the context's batch, device buffer to device buffer."""
        _, shape, addresses = op
        x = self.memory.array(addresses["input"], shape)
        y = self.memory.array(addresses["heatmaps"], (shape[0], K, H, W))
        y[:] = self.network(x)
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
        rt.cudaGetDeviceCount = lambda: (0, 1)  # one 'GPU'
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


def install(monkeypatch, onnx_path, engine_path, network=row_means) -> Fake:
    """Put the fake modules in sys.modules and write an engine file whose sidecar names `onnx_path`
    (where TrtRunner reads the model metadata). Returns the Fake."""
    fake = Fake(network)
    trt, rt = fake.modules()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
    engine_path.write_bytes(b"plan")
    engine_path.with_name(engine_path.name + ".json").write_text(json.dumps({"onnx": str(onnx_path)}))
    return fake
