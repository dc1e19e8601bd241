"""Frame sources: image files and folders, video files, cameras, RTSP/HTTP URLs, GStreamer pipelines.

Every source iterates `Frame`s. A frame that cannot be read comes as a Frame with `image=None` and
an `error` saying why, so the loop reports it and goes on. Video-like sources capture on their
own thread into a bounded queue: live streams drop the oldest frame when the consumer is slow and
reconnect with exponential backoff when the stream drops; files keep every frame.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Frame:
    """One captured frame: image (h, w, 3) uint8 BGR, or None with `error` set."""

    index: int
    name: str
    image: np.ndarray | None
    error: str | None = None
    stamp: float = 0.0  # time.perf_counter() at capture, for end-to-end latency


def decode_image_bytes(data: bytes, name: str) -> tuple[np.ndarray | None, str | None]:
    """(image, None) or (None, reason) for the bytes of an image file."""
    if not data:
        return None, f"{name}: empty file (0 bytes), skipped"
    # libjpeg/libpng decode a cut file with a grey tail and only a warning; refuse it instead.
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-1024:]:
        return None, f"{name}: truncated JPEG (no end-of-image marker), skipped"
    if data[:4] == b"\x89PNG" and b"IEND" not in data[-64:]:
        return None, f"{name}: truncated PNG (no IEND chunk), skipped"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None, f"{name}: not an image OpenCV can decode, skipped"
    return image, None


class ImageFiles:
    """Image files in the given order; unreadable ones come as error frames."""

    def __init__(self, paths: list[Path]):
        self.paths = [Path(p) for p in paths]

    def __iter__(self) -> Iterator[Frame]:
        for i, path in enumerate(self.paths):
            try:
                image, error = decode_image_bytes(path.read_bytes(), str(path))
            except OSError as err:
                image, error = None, f"{path}: cannot read ({err.strerror}), skipped"
            yield Frame(i, path.name, image, error, time.perf_counter())

    def close(self) -> None:
        """Nothing to release."""


_END = object()


class CaptureSource:
    """A cv2.VideoCapture-like object read on a thread into a bounded queue."""

    def __init__(self, opener: Callable[[], Any], name: str, live: bool, queue_size: int = 2,
                 retries: int = 5, backoff: float = 0.5, max_backoff: float = 8.0,
                 stall_timeout: float = 5.0):
        """Args:
            opener: returns a fresh capture (isOpened(), read() -> (ok, image), release()).
            name: for messages and frame names.
            live: camera/stream: drop the oldest frame when full and reconnect when it drops.
            queue_size: frames buffered between the capture thread and the consumer.
            retries: reconnect attempts in a row before giving up (live only).
            backoff / max_backoff: first and largest wait between attempts, seconds (doubling).
            stall_timeout: seconds without a frame before an error frame reports a stall.
        """
        self.opener, self.name, self.live = opener, name, live
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.stall_timeout = stall_timeout
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.dropped = self.reconnects = 0

    def __iter__(self) -> Iterator[Frame]:
        self.thread = threading.Thread(target=self._capture, name=f"capture:{self.name}", daemon=True)
        self.thread.start()
        try:
            while True:
                try:
                    item = self.queue.get(timeout=self.stall_timeout)
                except queue.Empty:
                    if not self.thread.is_alive():
                        return
                    yield Frame(-1, self.name, None, f"{self.name}: no frame for "
                                f"{self.stall_timeout:g} s (stalled), still waiting")
                    continue
                if item is _END:
                    return
                yield item
        finally:
            self.close()

    def _capture(self) -> None:
        index, failures = 0, 0
        while not self.stop_event.is_set():
            try:
                cap = self.opener()
                opened = cap is not None and cap.isOpened()
            except Exception as err:  # noqa: BLE001 - a backend error is a failed open, reported
                cap, opened = None, False
                self._put(Frame(-1, self.name, None, f"{self.name}: capture error ({err})"))
            if opened:
                count = self._read_all(cap, index)
                failures, index = (0 if count else failures), index + count
            if cap is not None:
                cap.release()
            if not self.live or self.stop_event.is_set():
                if not opened:
                    self._put(Frame(-1, self.name, None, f"{self.name}: cannot open"))
                break
            failures += 1
            if failures > self.retries:
                self._put(Frame(-1, self.name, None, f"{self.name}: gave up after {self.retries} "
                                f"reconnect attempts"))
                break
            what = "cannot open" if not opened else "stream dropped"
            self._put(Frame(-1, self.name, None, f"{self.name}: {what}; reconnecting "
                            f"(attempt {failures}/{self.retries})"))
            self.reconnects += 1
            self.stop_event.wait(min(self.max_backoff, self.backoff * 2 ** (failures - 1)))
        self._put(_END)

    def _read_all(self, cap: Any, index: int) -> int:
        """Queue frames until the capture stops giving them; returns how many it gave."""
        count = 0
        while not self.stop_event.is_set():
            try:
                ok, image = cap.read()
            except Exception as err:  # noqa: BLE001 - a corrupt frame ends this connection, reported
                self._put(Frame(-1, self.name, None, f"{self.name}: read error ({err})"))
                break
            if not ok or image is None:
                break
            self._put(Frame(index + count, f"{self.name}#{index + count}", image, None, time.perf_counter()))
            count += 1
        return count

    def _put(self, item: Any) -> None:
        """Live frames evict the oldest queued frame when full; file frames and messages wait for room
        (a message must not push out the last frames)."""
        evict = self.live and isinstance(item, Frame) and item.image is not None
        while not self.stop_event.is_set():
            try:
                self.queue.put(item, timeout=0.05) if not evict else self.queue.put_nowait(item)
                return
            except queue.Full:
                if evict:
                    try:
                        self.queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def close(self) -> None:
        """Stop the capture thread (it releases the capture)."""
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=2.0)


def open_source(spec: str, **capture_kwargs: Any):
    """A frame source for a path, folder, camera index, URL or GStreamer pipeline.

    Args:
        spec: image file, folder of images, video file, "0" (camera index), "rtsp://..." /
            "http://...", or a GStreamer pipeline (contains "!", ends in appsink).
        capture_kwargs: passed to CaptureSource (retries, backoff, queue_size, stall_timeout).
    Returns:
        ImageFiles or CaptureSource.
    """
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageFiles(files)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        if not path.exists():
            raise FileNotFoundError(f"{path}: image file not found")
        return ImageFiles([path])
    if spec.isdigit():
        return CaptureSource(lambda: cv2.VideoCapture(int(spec)), f"camera{spec}", True, **capture_kwargs)
    if "://" in spec:
        return CaptureSource(lambda: cv2.VideoCapture(spec), spec, True, **capture_kwargs)
    if "!" in spec:
        return CaptureSource(lambda: cv2.VideoCapture(spec, cv2.CAP_GSTREAMER), "gstreamer", True,
                             **capture_kwargs)
    if not path.is_file():
        raise FileNotFoundError(f"{spec}: no such file, folder, camera index, URL or GStreamer pipeline")
    return CaptureSource(lambda: cv2.VideoCapture(str(path)), path.name, False, **capture_kwargs)
