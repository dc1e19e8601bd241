"""Frame sources: threaded capture with drop-oldest, stalls, disconnects, reconnects, dead URLs."""
import socket
import time

import numpy as np
import pytest

from kitpose.runtime.pipeline import Poses
from kitpose.runtime.sources import CaptureSource, Frame, ImageFiles, decode_image_bytes, open_source
from kitpose.runtime.tracker import FixedBoxes


class FakeCapture:
    """A cv2.VideoCapture stand-in: `script` items are frames (ints), "stall" (sleep) or "drop"."""

    def __init__(self, script, opened=True, stall_s=0.3):
        self.script, self.opened, self.stall_s = list(script), opened, stall_s

    def isOpened(self):  # noqa: N802 - cv2 API name
        return self.opened

    def read(self):
        while self.script:
            item = self.script.pop(0)
            if item == "stall":
                time.sleep(self.stall_s)
                continue
            if item == "drop":
                return False, None
            return True, np.full((4, 4, 3), item, np.uint8)
        return False, None

    def release(self):
        self.opened = False


def opener_of(*captures):
    """An opener that hands out the given captures, then captures that fail to open."""
    queue = list(captures)
    return lambda: queue.pop(0) if queue else FakeCapture([], opened=False)


def test_live_stream_stalls_disconnects_reconnects_and_ends():
    source = CaptureSource(opener_of(FakeCapture([1, 2, "stall", 3, "drop"]), FakeCapture([4, 5])),
                           "fake", live=True, queue_size=16, retries=2, backoff=0.01, stall_timeout=0.1)
    start = time.perf_counter()
    frames = list(source)
    assert time.perf_counter() - start < 5
    images = [int(f.image[0, 0, 0]) for f in frames if f.image is not None]
    errors = [f.error for f in frames if f.image is None]
    assert images == [1, 2, 3, 4, 5]
    assert any("stalled" in e for e in errors)
    assert any("stream dropped; reconnecting" in e for e in errors)
    assert "gave up after 2 reconnect attempts" in errors[-1]
    assert source.reconnects >= 2
    assert not source.thread.is_alive()


def test_live_stream_drops_oldest_when_consumer_is_slow():
    source = CaptureSource(opener_of(FakeCapture(list(range(1, 41)))), "fast", live=True,
                           queue_size=2, retries=0, backoff=0.01)
    seen = []
    for frame in source:
        if frame.image is not None:
            seen.append(int(frame.image[0, 0, 0]))
            time.sleep(0.01)
    assert source.dropped > 0
    assert seen == sorted(seen) and seen[-1] == 40  # newest kept, order preserved
    assert len(seen) < 40


def test_file_source_keeps_every_frame():
    source = CaptureSource(opener_of(FakeCapture(list(range(1, 21)))), "file", live=False, queue_size=2)
    seen = []
    for frame in source:
        time.sleep(0.002)
        seen.append(int(frame.image[0, 0, 0]))
    assert seen == list(range(1, 21))


def test_closing_early_stops_the_thread():
    source = CaptureSource(opener_of(FakeCapture(list(range(1, 200)))), "cam", live=True, queue_size=2)
    for frame in source:
        break
    assert not source.thread.is_alive()


def test_url_that_does_not_answer_is_reported_and_ends():
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = open_source(f"http://127.0.0.1:{port}/stream.mjpg", retries=1, backoff=0.01, stall_timeout=5)
    start = time.perf_counter()
    frames = list(source)
    assert time.perf_counter() - start < 30
    assert all(f.image is None for f in frames)
    assert "cannot open; reconnecting (attempt 1/1)" in frames[0].error
    assert "gave up" in frames[-1].error


@pytest.mark.parametrize("data,reason", [
    (b"", "empty file"),
    (b"hello, not an image", "not an image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "truncated JPEG"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "truncated PNG"),
], ids=["zero-byte", "text", "cut-jpeg", "cut-png"])
def test_bad_image_bytes(data, reason):
    image, error = decode_image_bytes(data, "x.jpg")
    assert image is None and reason in error and "x.jpg" in error


def test_image_files_report_missing(tmp_path):
    frames = list(ImageFiles([tmp_path / "gone.jpg"]))
    assert frames[0].image is None and "cannot read" in frames[0].error


def test_open_source_rejects_unknown(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_source(str(tmp_path / "nothing.here"))
    with pytest.raises(FileNotFoundError, match="holds no images"):
        open_source(str(tmp_path))


def test_loop_keeps_going_through_stall_and_disconnect():
    from kitpose.runtime.loop import run_loop
    from kitpose.runtime.pipeline import PoseEstimator
    from kitpose.runtime.tracker import WholeFrame

    from .test_pipeline import META, _ConstRunner

    source = CaptureSource(opener_of(FakeCapture([1, "stall", 2, "drop"]), FakeCapture([3])),
                           "cam", live=True, queue_size=4, retries=1, backoff=0.01, stall_timeout=0.1)
    seen = []
    stats = run_loop(source, PoseEstimator(_ConstRunner(), META), WholeFrame(),
                     on_frame=lambda frame, poses: seen.append((int(frame.image[0, 0, 0]), len(poses))))
    assert seen == [(1, 1), (2, 1), (3, 1)]
    assert stats.frames == 3 and stats.instances == 3
    assert any("stalled" in e for e in stats.errors) and "gave up" in stats.errors[-1]
    assert not source.thread.is_alive()


class RaisingCapture(FakeCapture):
    """read() raises after its frames, as a backend does on a corrupt stream."""

    def read(self):
        if self.script:
            return super().read()
        raise RuntimeError("corrupt packet")


def test_capture_errors_are_reported_not_fatal():
    def bad_opener():
        raise OSError("device busy")

    openers = [lambda: RaisingCapture([1, 2]), bad_opener, lambda: FakeCapture([3])]
    source = CaptureSource(lambda: openers.pop(0)() if openers else FakeCapture([], opened=False),
                           "cam", live=True, queue_size=8, retries=2, backoff=0.01)
    frames = list(source)
    assert [int(f.image[0, 0, 0]) for f in frames if f.image is not None] == [1, 2, 3]
    errors = " | ".join(f.error for f in frames if f.image is None)
    assert "read error (corrupt packet)" in errors and "capture error (device busy)" in errors


def test_loop_records_are_bounded_for_long_runs(monkeypatch):
    """A loop that runs for days keeps the most recent timings and messages only; counts stay exact."""
    import kitpose.runtime.loop as loop

    monkeypatch.setattr(loop, "STATS_WINDOW", 5)
    trims = []
    monkeypatch.setattr(loop, "heap_trimmer", lambda: lambda: trims.append(1))
    monkeypatch.setattr(loop, "TRIM_EVERY", 4)
    frames = [Frame(i, f"f{i}", None if i % 3 == 0 else np.zeros((8, 8, 3), np.uint8),
                    "bad" if i % 3 == 0 else None, 0.0) for i in range(30)]
    est = lambda image, boxes: Poses(np.zeros((0, 17, 3)), np.zeros((0, 4)))  # noqa: E731
    est.metadata = None
    stats = loop.run_loop(frames, est, FixedBoxes(default=np.zeros((0, 4))))
    assert (stats.frames, stats.skipped) == (20, 10)
    assert len(stats.latencies_ms) == len(stats.process_ms) == len(stats.errors) == 5
    assert len(trims) == 20 // 4


def test_ring_buffer_keeps_the_last_values_in_order():
    from kitpose.runtime.loop import RingBuffer

    ring = RingBuffer(3)
    assert len(ring) == 0 and list(ring) == []
    for v in range(5):
        ring.append(float(v))
    assert len(ring) == 3 and list(ring) == [2.0, 3.0, 4.0]
    assert ring.values().tolist() == [2.0, 3.0, 4.0]
