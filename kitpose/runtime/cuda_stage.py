"""GPU crops and decode around a TensorRT engine: frame upload -> warp kernel into the engine's
input buffer -> engine -> DARK CUDA twin on the engine's heatmaps -> keypoints to the host.

Everything is enqueued on the runner's stream; the only sync is after the final copy to the host.
Device buffers grow once to the largest frame and batch seen. The kernels are launched through
the torch-free `kitpose.native_calls` (`launch_warp_affine`, `launch_dark_decode`), the same layer
`kitpose.ops.compiled` uses; memory and streams come from cuda-python. Not run on our GPU-less build
machines.
"""
from __future__ import annotations

import numpy as np

from kitpose.config import HEATMAPS_NAME, INPUT_NAME
from kitpose.native_calls import launch_dark_decode, launch_warp_affine, native_module
from kitpose.runtime.decode import BLUR_KERNEL, affine_rows
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.trt_runner import TrtRunner, cuda_check


class CudaStage:
    """Crop, run and decode one frame's instances on the GPU with a TrtRunner's buffers and stream."""

    def __init__(self, runner: TrtRunner, metadata: ModelMetadata):
        self.runner, self.meta, self.cudart = runner, metadata, runner.cudart
        native_module("cuda", "kitpose.runtime GPU crops and decode")  # say what is missing up front
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)

    def _device(self, name: str, nbytes: int) -> int:
        """A device buffer of at least nbytes, reallocated only when it has to grow."""
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                cuda_check(self.cudart.cudaFree(ptr))
            ptr, size = int(cuda_check(self.cudart.cudaMalloc(nbytes))), nbytes
            self._buffers[name] = (ptr, size)
        return ptr

    def _upload(self, name: str, array: np.ndarray) -> int:
        ptr = self._device(name, array.nbytes)
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        cuda_check(self.cudart.cudaMemcpyAsync(ptr, array.ctypes.data, array.nbytes, kind, self.runner.stream))
        return ptr

    def __call__(self, frame: np.ndarray, mats: np.ndarray, centers: np.ndarray, scales: np.ndarray
                 ) -> np.ndarray:
        """Keypoints of B <= runner.max_batch crops of one frame.

        Args:
            frame: (h, w, 3) uint8 BGR on the host.
            mats: (B, 2, 3) forward crop affines; centers, scales: (B, 2) of the same crops.
        Returns:
            (B, K, 3) float32 x, y, score in frame pixels.
        """
        b, (ih, iw), stream = len(mats), self.meta.input_size, self.runner.stream
        frame = np.ascontiguousarray(frame)
        frame_ptr = self._upload("frame", frame)
        mats_ptr = self._upload("mats", np.ascontiguousarray(mats, np.float64))
        rows_ptr = self._upload("affine", affine_rows(centers, scales))
        bucket = self.runner.bucket(b)
        launch_warp_affine("cuda", frame_ptr, mats_ptr, bucket.tensors[INPUT_NAME][0], frame.shape[:2], b, (ih, iw),
                           True, self.meta.mean, self.meta.std, int(stream))
        self.runner.execute(bucket, b)
        maps_ptr, shape, dtype = bucket.tensors[HEATMAPS_NAME]
        k, h, w = shape[1:]
        coords = np.empty((b, k, 2), np.float32)  # (B, K, 2)
        scores = np.empty((b, k), np.float32)     # (B, K)
        coords_ptr, scores_ptr = self._device("coords", coords.nbytes), self._device("scores", scores.nbytes)
        launch_dark_decode("cuda", maps_ptr, rows_ptr, coords_ptr, scores_ptr, (b, k, h, w), BLUR_KERNEL,
                           dtype == np.float16, int(stream))
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        cuda_check(self.cudart.cudaMemcpyAsync(coords.ctypes.data, coords_ptr, coords.nbytes, kind, stream))
        cuda_check(self.cudart.cudaMemcpyAsync(scores.ctypes.data, scores_ptr, scores.nbytes, kind, stream))
        cuda_check(self.cudart.cudaStreamSynchronize(stream))
        return np.concatenate([coords, scores[..., None]], axis=-1)

    def close(self) -> None:
        for ptr, _ in self._buffers.values():
            self.cudart.cudaFree(ptr)
        self._buffers.clear()
