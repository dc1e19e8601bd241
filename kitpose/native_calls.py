"""Torch-free calls into kitpose._C: pointer-level launchers, workspace sizes, buffers and pointers.

Which module owns which job. `kitpose.native` finds the compiled module and says what to build when
it is missing. This module is the only Python code that calls a kernel entry point of `kitpose._C`:
one `launch_<op>` per op, taking data pointers (ints) and a cudaStream_t as an int, plus the buffer
helpers that turn numpy arrays (or tensors, importing torch only when one is passed) into those
pointers. It checks no argument: the sizes are checked once, in the C++ entry point (which raises
ValueError naming the bad size), and the public arguments once, in the Python front that owns them
(`kitpose.ops.kmedoids` / `kitpose.ops.dark` for the ops, `kitpose.ops.compiled` for its extra
arguments). `kitpose.ops.compiled` (numpy or torch in and out, torch.library registration) and the
torch-free `kitpose.runtime` (decode.py, cuda_stage.py) both launch through here, so nothing else
needs to know the bindings' argument order.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from kitpose.native import require_cuda, require_native

# The compiled twins' size limits, mirrored from csrc (kKMedoidsMaxPoints, kKMedoidsMaxClusters,
# kDarkMaxKernel): the ops' "auto" backend uses the reference beyond them instead of failing.
MAX_POINTS = 64
MAX_CLUSTERS = 8
MAX_BLUR_KERNEL = 31


def native_module(backend: str, what: str) -> ModuleType:
    """kitpose._C for backend 'cpu' or 'cuda', raising NativeUnavailableError naming `what` if it cannot run."""
    return require_cuda(what) if backend == "cuda" else require_native(what)


# ----------------------------------------------------------------------------- buffers and pointers

def is_torch(x: Any) -> bool:
    """True for a torch tensor (decided by the type's module, so torch is never imported here)."""
    return type(x).__module__.startswith("torch")


def dtype_name(x: Any) -> str:
    """'float32', 'float16', 'uint8', ... for a numpy array or a tensor."""
    return str(x.dtype).replace("torch.", "")


def as_contiguous(x: Any, dtype: str) -> Any:
    """x as a C-contiguous buffer of `dtype` ('float32', 'float16', 'float64', 'uint8'), same kind and device."""
    if is_torch(x):
        import torch
        return x.to(getattr(torch, dtype)).contiguous()
    return np.ascontiguousarray(x, dtype=np.dtype(dtype))


def empty_like_kind(x: Any, shape: tuple[int, ...], dtype: str) -> Any:
    """An uninitialised buffer of `shape` and `dtype`: numpy for numpy x, a tensor on x's device for a tensor."""
    if is_torch(x):
        import torch
        return torch.empty(shape, dtype=getattr(torch, dtype), device=x.device)
    return np.empty(shape, dtype=np.dtype(dtype))


def data_ptr(x: Any) -> int:
    """Address of the first element of a contiguous numpy array or tensor."""
    return int(x.data_ptr()) if is_torch(x) else int(x.ctypes.data)


# ----------------------------------------------------------------------------- launchers

def kmedoids_workspace_bytes(shape: tuple[int, int, int], num_clusters: int) -> int:
    """Bytes of workspace k-medoids needs for x of shape (B, N, D) and C clusters."""
    return int(require_native("kmedoids").kmedoids_workspace_bytes(*shape, num_clusters))


def launch_kmedoids(backend: str, x: int, assign: int, medoids: int, means: int, workspace: int,
                    shape: tuple[int, int, int], num_clusters: int, max_iters: int, stream: int = 0) -> None:
    """Pointer-level k-medoids: x (B, N, D) f32 -> assign (B, N) i64, medoids (B, C) i64, means (B, C, D) f32.

    Args:
        backend: 'cpu' (host pointers) or 'cuda' (device pointers, enqueued on `stream`).
        x, assign, medoids, means, workspace: data pointers; workspace holds `kmedoids_workspace_bytes`.
        shape: (B, N, D).
        num_clusters: C.
        max_iters: assignment/update rounds at most.
        stream: cudaStream_t as an int (0: the legacy default stream); ignored on the CPU.
    """
    mod = native_module(backend, "kmedoids")
    args = (x, assign, medoids, means, workspace, *shape, num_clusters, max_iters)
    mod.kmedoids_cuda(*args, stream) if backend == "cuda" else mod.kmedoids_cpu(*args)


def launch_dark_decode(backend: str, heatmaps: int, affine: int, coords: int, scores: int,
                       shape: tuple[int, int, int, int], blur_kernel: int, half: bool, stream: int = 0) -> None:
    """Pointer-level DARK: heatmaps (N, K, H, W) f32/f16, affine (N, 5) f32 or 0 -> coords, scores.

    Args:
        backend: 'cpu' (host pointers) or 'cuda' (device pointers, enqueued on `stream`).
        heatmaps: pointer to (N, K, H, W) float32, or float16 when `half`.
        affine: pointer to (N, 5) float32 rows (cx, cy, sw, sh, rot_deg), or 0 for heatmap pixels.
        coords, scores: pointers to (N, K, 2) and (N, K) float32 outputs.
        shape: (N, K, H, W).
        blur_kernel: odd DARK blur kernel.
        stream: cudaStream_t as an int; ignored on the CPU.
    """
    mod = native_module(backend, "dark_decode")
    args = (heatmaps, affine, coords, scores, *shape, int(blur_kernel), bool(half))
    mod.dark_decode_cuda(*args, stream) if backend == "cuda" else mod.dark_decode_cpu(*args)


def launch_warp_affine(backend: str, frame: int, mats: int, out: int, frame_hw: tuple[int, int],
                       batch: int, out_hw: tuple[int, int], swap_rb: bool, mean, std, stream: int = 0) -> None:
    """Pointer-level warp: frame (h, w, 3) u8, mats (B, 2, 3) f64 -> out (B, 3, h_out, w_out) f32.

    Args:
        backend: 'cpu' (host pointers) or 'cuda' (device pointers, enqueued on `stream`).
        frame, mats, out: data pointers.
        frame_hw: (h, w) of the frame; batch: B; out_hw: (h_out, w_out) of each crop.
        swap_rb: read the frame's channels reversed (BGR frame -> RGB input).
        mean, std: 3 values each, in [0, 1] units.
        stream: cudaStream_t as an int; ignored on the CPU.
    """
    mod = native_module(backend, "warp_affine")
    args = (frame, mats, out, batch, *frame_hw, *out_hw, bool(swap_rb), list(mean), list(std))
    mod.warp_affine_cuda(*args, stream) if backend == "cuda" else mod.warp_affine_cpu(*args)
