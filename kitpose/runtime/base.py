"""The Runner interface every backend implements, and what the backends share (no backend imported)."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from kitpose.closeable import Closeable
from kitpose.config import HEATMAPS_NAME

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


@runtime_checkable
class Runner(Protocol):
    """inputs (B, 3, h, w) float32 -> heatmaps (B, K, H, W) float32; `close()` frees resources."""

    def __call__(self, inputs: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


class RunnerBase(Closeable):
    """What the backends share: `outputs` and the context manager (`with open_runner(p) as run: ...`)."""

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every graph output by name for inputs (B, 3, h, w): heatmaps (B, K, H, W) float32, plus
        the cluster labels `assign` (B, K) where the backend exposes them (the parity gate's use)."""
        return {HEATMAPS_NAME: self(inputs)}

    def close(self) -> None:
        """Release sessions, engines and buffers; the runner is unusable afterwards."""


def check_inputs(inputs: np.ndarray, input_size: tuple[int, int], where: str) -> np.ndarray:
    """inputs as C-contiguous float32 (B, 3, h, w), or a ValueError naming the expected shape."""
    if inputs.ndim != 4 or inputs.shape[1] != 3 or tuple(inputs.shape[2:]) != tuple(input_size):
        raise ValueError(f"{where}: inputs must be (B, 3, {input_size[0]}, {input_size[1]}), got "
                         f"{tuple(inputs.shape)}")
    return np.ascontiguousarray(inputs, dtype=np.float32)
