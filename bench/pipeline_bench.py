"""End-to-end pipeline benchmark: ORT (torch-free), PyTorch eager, the compiled-kernel pipeline (GPU
warp -> fp16 model from CUDA graphs -> GPU DARK on a GPU; `kernels-compile`: the same with the model
through torch.compile) and the official-style baseline on the same model, frames and boxes, in one
run, with per-stage latency.
"""
from __future__ import annotations

import copy

import numpy as np

from kitpose.bench.frames import synthetic_frame
from kitpose.bench.memory import device_peak_mib, peak_rss_mib, reset_device_peak, reset_peak_rss
from kitpose.bench.model_bench import Method, Tally
from kitpose.bench.models import BenchModel
from kitpose.bench.pipelines import STAGES, OfficialPipeline, StagedPipeline
from kitpose.bench.timing import summarize, time_calls

PIPELINES = ("ort", "torch", "kernels", "kernels-compile", "official")


def build_pipelines(bench: BenchModel, names: list[str], device: str, threads: int, max_batch: int,
                    dataset: str = "ap10k") -> tuple[dict, list[str]]:
    """name -> StagedPipeline for the requested pipelines, plus skip reasons.

    All share the metadata the export writes (sizes, mean/std), so they crop and decode the same way.
    """
    from kitpose.bench.models import model_metadata
    from kitpose.runtime.runners import open_runner
    from kitpose.runtime.torch_runner import TorchRunner

    meta = model_metadata(bench, dataset)
    built, skips = {}, []
    for name in names:
        if name == "ort":
            try:
                runner = open_runner(bench.onnx["fp32"], "ort", device=device, threads=threads)
            except RuntimeError as err:
                skips.append(f"pipeline ort on {device}: {err}")
                continue
            built[name] = StagedPipeline(runner, meta, max_batch)
        elif name == "torch":
            model = bench.model if device == "cpu" else copy.deepcopy(bench.model)  # .to() moves in place
            built[name] = StagedPipeline(TorchRunner(model, device=device), meta, max_batch)
        elif name in ("kernels", "kernels-compile"):
            from kitpose.bench.kernel_pipeline import KernelPipeline

            built[name] = KernelPipeline(copy.deepcopy(bench.model), meta, max_batch, device=device,
                                         compile_model=name == "kernels-compile")
        elif name == "official":
            model = bench.model if device == "cpu" else copy.deepcopy(bench.model)
            built[name] = OfficialPipeline(model, meta, max_batch, device=device)
        else:
            raise ValueError(f"pipeline {name!r}: expected one of {', '.join(PIPELINES)}")
    return built, skips


def _timed_frames(pipe: StagedPipeline, data: bytes, boxes: np.ndarray, method: Method, tally: Tally,
                  laps: dict[str, list[float]]) -> None:
    """One round's share of frames through `pipe`: frame times into tally, stage laps into laps."""
    scope = reset_peak_rss()
    reset_device_peak(method.device)
    share = max(1, -(-method.repeat // method.rounds))  # ceil
    times = time_calls(lambda: pipe.run(data, boxes, laps), share, method.min_seconds / method.rounds,
                       max_repeat=20 * share)
    tally.add(times, peak_rss_mib(), device_peak_mib(method.device), scope)


def time_pipelines(pipes: dict[str, StagedPipeline], data: bytes, boxes: np.ndarray, method: Method
                   ) -> dict[str, dict]:
    """Frames through every pipeline: warm-up, then interleaved rounds (as the model bench).

    Returns:
        name -> frame latency stats, per-stage {"p50_ms", "mean_ms"} under "stages", memory peaks.
    """
    for pipe in pipes.values():
        for _ in range(method.warmup):
            pipe.run(data, boxes)
    tallies = {name: Tally([]) for name in pipes}
    laps: dict[str, dict[str, list[float]]] = {name: {} for name in pipes}
    for _ in range(method.rounds):
        for name, pipe in pipes.items():
            _timed_frames(pipe, data, boxes, method, tallies[name], laps[name])
    out = {}
    for name, tally in tallies.items():
        stages = {s: _lap_stats(laps[name][s]) for s in STAGES}
        out[name] = {**summarize(tally.times), "warmup": method.warmup, "timer": "perf_counter",
                     "stages": stages, "host_peak_rss_mib": tally.rss, "rss_scope": tally.scope,
                     "device_peak_mib": tally.device}
        kernels = {k.split("/", 1)[1]: _lap_stats(v) for k, v in laps[name].items() if k.startswith("kernels/")}
        if kernels:  # the compiled kernels' own times, and their share of a frame (p50 over p50)
            out[name]["kernels"] = kernels
            out[name]["kernel_share_p50"] = sum(k["p50_ms"] for k in kernels.values()) / out[name]["p50_ms"]
    return out


def _lap_stats(laps: list[float]) -> dict:
    return {"p50_ms": float(np.median(laps)), "mean_ms": float(np.mean(laps))}


def run_pipeline_bench(bench: BenchModel, names: list[str], instances: list[int], method: Method,
                       max_batch: int = 64, frame_size: tuple[int, int] = (720, 1280), dataset: str = "ap10k"
                       ) -> tuple[list[dict], list[str]]:
    """Every pipeline at every animals-per-frame count, in interleaved rounds so load drifts hit all alike.

    Returns:
        (partial rows, skip reasons).
    """
    pipes, skips = build_pipelines(bench, names, method.device, method.threads, max_batch, dataset)
    rows = []
    for count in instances:
        data, boxes = synthetic_frame(count, frame_size)
        for name, stats in time_pipelines(pipes, data, boxes, method).items():
            precision = getattr(pipes[name], "precision", "fp32")
            rows.append({"bench": "pipeline", "backend": name, "precision": precision,
                         "device": method.device, "instances": count,
                         **stats, "fps": 1e3 / stats["mean_ms"], "throughput": 1e3 * count / stats["mean_ms"],
                         "settings": {"frame_hw": list(frame_size), "max_batch": max_batch,
                                      "boxes": "ground truth", "capture": "JPEG imdecode",
                                      "rounds": method.rounds}})
    for pipe in pipes.values():
        if pipe.runner is not None:
            pipe.runner.close()
    return rows, skips
