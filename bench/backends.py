"""Model-only callables per backend and precision, or the reason one cannot run here.

Each `Target` maps a (B, 3, h, w) float32 host batch to heatmaps. ORT and TensorRT targets are
the runtime's runners (numpy in, numpy out: host copies included on a GPU, io "host"); torch
targets on a GPU keep the batch on the device (io "device") so they time the model, not PCIe.
The torch variants: `torch` (eager), `torch-cl` (eager, channels-last), `torch-graphs` (channels-last,
one CUDA graph per batch size, replayed; GPU only) and `torch-compile` (inductor, channels-last). On a GPU every
variant runs with cudnn.benchmark on (fixed shapes per batch size; `settings.cudnn_benchmark`).
"""
from __future__ import annotations

import copy
import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kitpose.bench.models import BenchModel

TORCH_BACKENDS = ("torch", "torch-cl", "torch-graphs", "torch-compile")
ALL_BACKENDS = (*TORCH_BACKENDS, "ort", "trt", "trt-rtx")


@dataclass
class Target:
    """One backend at one precision, ready to time."""

    backend: str
    precision: str
    device: str
    prepare: Callable[[np.ndarray], Any]   # host batch -> what `call` takes (done outside timing)
    call: Callable[[Any], Any]             # the timed call
    settings: dict = field(default_factory=dict)
    close: Callable[[], None] = lambda: None


class Skip(Exception):
    """A backend/precision that cannot run here; the message is the reason the report prints."""


def torch_target(bench: BenchModel, backend: str, precision: str, device: str, max_batch: int = 1) -> Target:
    """PyTorch at fp32, or fp16 on a GPU, as one of TORCH_BACKENDS (torch-compile compiles at max_batch)."""
    import torch

    if precision == "int8":
        raise Skip(f"{backend} int8: no int8 PyTorch path here (int8 is an ONNX Q/DQ variant)")
    if precision == "fp16" and device != "cuda":
        raise Skip(f"{backend} fp16: half-precision convolutions are a GPU path; CPU rows are fp32")
    if backend == "torch-graphs" and device != "cuda":
        raise Skip("torch-graphs: CUDA graphs need a GPU; this run is on the CPU")
    dtype = torch.float16 if precision == "fp16" else torch.float32
    nhwc = backend in ("torch-cl", "torch-graphs", "torch-compile")
    layout = torch.channels_last if nhwc else torch.contiguous_format
    model = copy.deepcopy(bench.model).to(device=device, dtype=dtype).eval()  # bench.model stays fp32 CPU
    model = model.to(memory_format=layout)
    if device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes per batch: let cuDNN time its algorithms
    settings = {"io": "device" if device == "cuda" else "host", "torch_threads": torch.get_num_threads(),
                "memory_format": "channels_last" if nhwc else "contiguous",
                "cudnn_benchmark": bool(torch.backends.cudnn.benchmark)}
    if backend == "torch-compile":
        model, settings["compile_s"] = _compiled(model, (max_batch, 3, *bench.input_size), device, dtype, layout)

    def prepare(batch: np.ndarray):
        return torch.from_numpy(batch).to(device=device, dtype=dtype).contiguous(memory_format=layout)

    def call(x):
        with torch.inference_mode():
            out = model(x).heatmaps
        return out if device == "cuda" else out.numpy()

    if backend == "torch-graphs":
        call = _graph_replayer(model)
    return Target(backend, precision, device, prepare, call, settings)


def _compiled(model, shape: tuple[int, ...], device: str, dtype, layout) -> tuple[Any, float]:
    """torch.compile(model), compiled by one call on zeros of `shape` (the sweep's largest batch:
    the batch that matters most compiles first); (compiled model, seconds), or Skip with the reason."""
    import torch

    start = time.perf_counter()
    try:
        model = torch.compile(model)
        with torch.inference_mode():
            model(torch.zeros(shape, device=device, dtype=dtype).contiguous(memory_format=layout))
    except Exception as err:  # noqa: BLE001 - inductor raises many types; the reason is reported
        raise Skip(f"torch.compile failed here: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
    return model, round(time.perf_counter() - start, 1)


def _graph_replayer(model) -> Callable[[Any], Any]:
    """call(x) replaying a CUDA graph of model(x) captured on x's first call (x is the static input).

    The sweep prepares one input tensor per batch size and calls with it every time, so each batch
    size is captured once (during warm-up) and every timed call is one replay.
    """
    from kitpose.runtime.torch_runner import capture_graph

    graphs: dict[tuple, tuple[Any, Any]] = {}

    def call(x):
        key = (x.data_ptr(), tuple(x.shape))
        if key not in graphs:
            graphs[key] = capture_graph(model, x)
        graph, out = graphs[key]
        graph.replay()
        return out

    return call


def ort_target(bench: BenchModel, precision: str, device: str, threads: int) -> Target:
    """The runtime's OrtRunner (`open_runner`) on the exported ONNX of that precision."""
    from kitpose.runtime.runners import open_runner

    if precision not in bench.onnx:
        raise Skip(f"ort {precision}: no ONNX {precision} file was exported")
    try:
        runner = open_runner(bench.onnx[precision], "ort", device=device, threads=threads)
    except RuntimeError as err:
        raise Skip(f"ort {precision} on {device}: {err}")
    settings = {"io": "host", "providers": runner.providers, "ort_intra_threads": threads,
                "onnx": Path(bench.onnx[precision]).name}
    return Target("ort", precision, device, lambda b: b, runner, settings, runner.close)


def engine_skip_reason(backend: str, device: str) -> str | None:
    """Why TensorRT (backend "trt") or TensorRT-RTX ("trt-rtx") engines cannot run here, or None."""
    module = "tensorrt" if backend == "trt" else "tensorrt_rtx"
    if importlib.util.find_spec(module) is None:
        return f"{backend}: the `{module}` runtime is not installed here"
    if device != "cuda":
        return f"{backend}: engines run on a CUDA GPU; this run is on the CPU"
    from kitpose.runtime.trt_runner import engine_runtime_problem

    problem = engine_runtime_problem()  # cuda-python and a GPU, as the parity gate checks them
    return None if problem is None else f"{backend}: {problem}"


def engine_target(bench: BenchModel, backend: str, precision: str, device: str, max_batch: int,
                  work_dir: Path) -> Target:
    """Build an engine from the ONNX of that precision (profile 1..max_batch) and run it with the
    runtime's TrtRunner (`open_runner`)."""
    reason = engine_skip_reason(backend, device)
    if reason:
        raise Skip(reason)
    src = bench.engine_onnx.get(precision, bench.onnx.get(precision))
    if src is None:
        raise Skip(f"{backend} {precision}: no ONNX {precision} file to build from")
    from kitpose.export.build_engine import build_engine
    from kitpose.runtime.runners import open_runner

    engine = work_dir / f"model_{precision}_{backend}.engine"
    opt = min(8, max_batch)
    try:
        build_engine(src, engine, backend="tensorrt" if backend == "trt" else "tensorrt_rtx",
                     batch=(1, opt, max_batch))
        runner = open_runner(engine, "trt")
    except Exception as err:  # noqa: BLE001 - builder/runtime errors are reported as the reason
        raise Skip(f"{backend} {precision}: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
    return Target(backend, precision, device, lambda b: b, runner, {"io": "host", "engine": engine.name},
                  runner.close)


def make_target(bench: BenchModel, backend: str, precision: str, device: str, threads: int,
                max_batch: int, work_dir: Path) -> Target:
    """The Target for one backend/precision; raises Skip with the reason when it cannot run."""
    if backend in TORCH_BACKENDS:
        return torch_target(bench, backend, precision, device, max_batch)
    if backend == "ort":
        return ort_target(bench, precision, device, threads)
    if backend in ("trt", "trt-rtx"):
        return engine_target(bench, backend, precision, device, max_batch, work_dir)
    raise ValueError(f"backend {backend!r}: expected one of {', '.join(ALL_BACKENDS)}")
