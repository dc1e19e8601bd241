"""Model-only latency and throughput: one runner call on a batch, per backend, precision and batch size.

At each batch size the backends are timed in interleaved rounds (round 1: A, B, C; round 2: A, B,
C; ...) and each row pools its rounds, so load from other processes that comes and goes hits every
backend alike instead of whichever ran during it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kitpose.bench.backends import Skip, Target, make_target
from kitpose.bench.memory import device_peak_mib, peak_rss_mib, reset_device_peak, reset_peak_rss
from kitpose.bench.models import BenchModel
from kitpose.bench.timing import summarize, time_calls


@dataclass(frozen=True)
class Method:
    """How every measurement of a run is taken."""

    warmup: int = 3
    repeat: int = 20            # at least this many timed calls ...
    min_seconds: float = 2.0    # ... and at least this much timed time (up to 20 x repeat calls)
    device: str = "cpu"
    threads: int = 1
    rounds: int = 3             # interleaved rounds the calls of a model row are split into


@dataclass
class Tally:
    """Timed calls and memory peaks of one target at one batch, accumulated over rounds."""

    times: list
    rss: float | None = None
    device: float | None = None
    scope: str = "measurement"

    def add(self, times: list[float], rss: float | None, device: float | None, scope: str) -> None:
        self.times += times
        self.rss, self.device = _max(self.rss, rss), _max(self.device, device)
        self.scope = "process" if scope == "process" else self.scope


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _timed_round(target: Target, x, method: Method, tally: Tally) -> None:
    """One round's share of calls of target(x), with this round's memory peaks."""
    scope = reset_peak_rss()
    reset_device_peak(method.device)
    cuda_events = target.device == "cuda" and target.settings.get("io") == "device"
    share = max(1, -(-method.repeat // method.rounds))  # ceil
    times = time_calls(lambda: target.call(x), share, method.min_seconds / method.rounds,
                       max_repeat=20 * share, cuda_events=cuda_events)
    tally.add(times, peak_rss_mib(), device_peak_mib(method.device), scope)


def time_interleaved(fns: dict[str, Callable[[], Any]], method: Method) -> dict[str, dict]:
    """Host-timed calls of every fn: warm-up, then interleaved rounds so passing load hits all alike.

    Returns:
        name -> latency stats (summarize), warm-up, timer and host memory peak.
    """
    for fn in fns.values():
        for _ in range(method.warmup):
            fn()
    tallies = {name: Tally([]) for name in fns}
    share = max(1, -(-method.repeat // method.rounds))  # ceil
    for _ in range(method.rounds):
        for name, fn in fns.items():
            scope = reset_peak_rss()
            times = time_calls(fn, share, method.min_seconds / method.rounds, max_repeat=20 * share)
            tallies[name].add(times, peak_rss_mib(), None, scope)
    return {name: {**summarize(t.times), "warmup": method.warmup, "timer": "perf_counter", "host_peak_rss_mib": t.rss,
                   "rss_scope": t.scope, "device_peak_mib": None} for name, t in tallies.items()}


def sweep(targets: list[Target], batches: list[int], input_size: tuple[int, int], method: Method,
          seed: int = 0) -> list[dict]:
    """Time every target at every batch size on the same seeded random inputs. Returns partial rows."""
    rows = []
    rng = np.random.default_rng(seed)
    for batch in batches:
        host = rng.standard_normal((batch, 3, *input_size), dtype=np.float32)  # (B, 3, h, w)
        inputs = [t.prepare(host) for t in targets]
        for target, x in zip(targets, inputs):
            for _ in range(method.warmup):
                target.call(x)
        tallies = [Tally([]) for _ in targets]
        for _ in range(method.rounds):
            for target, x, tally in zip(targets, inputs, tallies):
                _timed_round(target, x, method, tally)
        for target, tally in zip(targets, tallies):
            stats = summarize(tally.times)
            timer = "cuda_events" if target.device == "cuda" and target.settings.get("io") == "device" \
                else "perf_counter"
            rows.append({"bench": "model", "backend": target.backend, "precision": target.precision,
                         "device": target.device, "batch": batch, **stats, "warmup": method.warmup,
                         "timer": timer, "throughput": 1e3 * batch / stats["mean_ms"],
                         "host_peak_rss_mib": tally.rss, "rss_scope": tally.scope,
                         "device_peak_mib": tally.device,
                         "settings": {**target.settings, "rounds": method.rounds}})
    return rows


def run_model_bench(bench: BenchModel, backends: list[str], precisions: list[str], batches: list[int],
                    method: Method, work_dir) -> tuple[list[dict], list[str]]:
    """Every backend x precision over the batch sweep.

    Returns:
        (partial rows, skip reasons): a backend/precision that cannot run here gives no row, only
        its reason.
    """
    targets, skips = [], []
    for backend in backends:
        for precision in precisions:
            try:
                targets.append(make_target(bench, backend, precision, method.device, method.threads,
                                           max(batches), work_dir))
            except Skip as reason:
                skips.append(f"model {reason}")
    try:
        rows = sweep(targets, batches, bench.input_size, method) if targets else []
    finally:
        for target in targets:
            target.close()
    return rows, skips
