"""The inference loop: source -> boxes -> PoseEstimator -> sinks, with fps and latency."""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from kitpose.runtime.outputs import CocoResults, ImageDirSink, JsonlSink, VideoSink, Window, rate_text, render
from kitpose.runtime.pipeline import PoseEstimator

log = logging.getLogger("kitpose.runtime")

# Frames between giving freed heap pages back to the OS. With ONNX Runtime, OpenCV and the capture
# thread all allocating, glibc's arenas kept ~4% more resident memory after 10,000 frames without it
# (+0.6% with it; measured in session 2, bench/results/runtime_steady_state.jsonl).
TRIM_EVERY = 250
# Per-frame timings kept for percentiles: the most recent frames only, in arrays allocated up front,
# so a loop that runs for days keeps a fixed-size record (skipped-frame messages are bounded too).
STATS_WINDOW = 10_000


class RingBuffer:
    """The last `size` floats appended, in a preallocated array (a long run allocates nothing)."""

    def __init__(self, size: int):
        self.data, self.count = np.zeros(size, np.float64), 0

    def append(self, value: float) -> None:
        self.data[self.count % len(self.data)] = value
        self.count += 1

    def values(self) -> np.ndarray:
        """(min(count, size),) oldest first."""
        if self.count <= len(self.data):
            return self.data[:self.count].copy()
        cut = self.count % len(self.data)
        return np.concatenate([self.data[cut:], self.data[:cut]])

    def __len__(self) -> int:
        return min(self.count, len(self.data))

    def __iter__(self):
        return iter(self.values().tolist())


def heap_trimmer():
    """glibc's malloc_trim(0) as a no-argument callable, or a no-op where libc has none."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    return (lambda: trim(0)) if trim is not None else (lambda: None)


@dataclass
class Sinks:
    """Optional outputs; any may be None."""

    video: VideoSink | ImageDirSink | None = None
    window: Window | None = None
    jsonl: JsonlSink | None = None
    coco: CocoResults | None = None

    def close(self) -> None:
        for sink in (self.video, self.window, self.jsonl, self.coco):
            if sink is not None:
                sink.close()


@dataclass
class LoopStats:
    """What happened: frames processed, frames skipped with their reasons, instances, timings."""

    frames: int = 0
    instances: int = 0
    skipped: int = 0
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    latencies_ms: RingBuffer = field(default_factory=lambda: RingBuffer(STATS_WINDOW))  # capture -> written
    process_ms: RingBuffer = field(default_factory=lambda: RingBuffer(STATS_WINDOW))    # boxes + estimation
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_loop(source, estimator: PoseEstimator, boxes, sinks: Sinks | None = None,
             max_frames: int | None = None, on_frame=None) -> LoopStats:
    """Process a frame source until it ends, `max_frames` are done, or the window is closed.

    Args:
        source: iterable of `sources.Frame` (error frames are logged, counted and skipped).
        estimator: the PoseEstimator.
        boxes: callable (frame, name) -> (N, 4) with `update(keypoints)` (tracker.py).
        sinks: outputs.
        max_frames: stop after this many processed frames.
        on_frame: optional callback(frame, poses) after each processed frame.
    Returns:
        LoopStats.
    """
    sinks, stats, trim = sinks or Sinks(), LoopStats(), heap_trimmer()
    recent: deque[float] = deque(maxlen=30)  # frame end times for a moving fps
    start = time.perf_counter()
    try:
        for frame in source:
            if frame.image is None:
                log.warning(frame.error)
                stats.errors.append(frame.error)
                stats.skipped += 1
                continue
            began = time.perf_counter()
            poses = estimator(frame.image, boxes(frame.image, frame.name))
            boxes.update(poses.keypoints)
            now = time.perf_counter()
            stats.process_ms.append((now - began) * 1e3)
            latency = (now - frame.stamp) * 1e3 if frame.stamp else 0.0
            recent.append(now)
            stats.frames, stats.instances = stats.frames + 1, stats.instances + len(poses)
            stats.latencies_ms.append(latency)
            if not _emit(sinks, frame, poses, estimator, recent, latency):
                break
            if on_frame is not None:
                on_frame(frame, poses)
            if stats.frames % TRIM_EVERY == 0:
                trim()
            if max_frames is not None and stats.frames >= max_frames:
                break
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
        sinks.close()
        stats.seconds = time.perf_counter() - start
    return stats


def _emit(sinks: Sinks, frame, poses, estimator: PoseEstimator, recent: deque, latency: float) -> bool:
    """Write one frame to every sink; False when the window asked to stop."""
    if sinks.jsonl is not None:
        sinks.jsonl.write(frame.index, frame.name, poses, latency)
    if sinks.coco is not None:
        sinks.coco.add(frame.name, frame.index, poses)
    if sinks.video is None and sinks.window is None:
        return True
    fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
    image = render(frame.image, poses, estimator.metadata,
                   [rate_text(fps, latency), f"{len(poses)} instance(s)"])
    if sinks.video is not None:
        sinks.video.write(image, frame.name)
    return sinks.window.show(image) if sinks.window is not None else True
