"""Python front of the compiled kernels for numpy arrays and torch tensors: buffers, devices, streams.

Inputs may be numpy arrays or torch tensors (CPU or CUDA); outputs are the same kind, on the same
device. This module checks what it needs to build buffers (ranks, dtypes, its own affine arguments);
the sizes are checked once more only in the C++ entry point, which raises ValueError naming the bad
one. The kernels are launched through the torch-free `kitpose.native_calls`, which the runtime uses
too. The ops are also registered with torch.library (`kitpose::kmedoids`, `kitpose::dark_decode`) on
first use with a tensor, or by `register_torch_ops()`, so torch.compile and torch.export see them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kitpose.imagenet import IMAGENET_MEAN, IMAGENET_STD  # the default input normalisation
from kitpose.native_calls import (as_contiguous, data_ptr, dtype_name, empty_like_kind, is_torch,
                                  kmedoids_workspace_bytes, launch_dark_decode, launch_kmedoids, launch_warp_affine)


def _backend(device: str | None, x: Any) -> str:
    """'cpu' or 'cuda': the asked device, else the device the input lives on."""
    actual = "cuda" if is_torch(x) and x.is_cuda else "cpu"
    if device is None:
        return actual
    device = str(device).split(":")[0]
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device != actual:
        raise ValueError(f"device={device!r} but the input lives on {actual!r}; move it first (e.g. x.to('{device}'))")
    return device


def _stream(x: Any, backend: str) -> int:
    """The current torch stream of x's device as an int (0 on the CPU and for numpy)."""
    if backend != "cuda":
        return 0
    import torch
    return int(torch.cuda.current_stream(x.device).cuda_stream)


def _check_float(x: Any, name: str, allowed: tuple[str, ...]) -> str:
    dt = dtype_name(x)
    if dt not in ("float16", "float32", "float64", "bfloat16"):
        raise TypeError(f"{name} must be a floating array ({', '.join(allowed)}), got dtype {dt}")
    return dt if dt in allowed else "float32"


# ----------------------------------------------------------------------------- k-medoids

def _shape_bnd(x: Any) -> tuple[int, int, int]:
    """(B, N, D) of x; the sizes themselves are checked by the C++ entry point."""
    if len(x.shape) != 3:
        raise ValueError(f"kmedoids: x must be (B, N, D), got shape {tuple(x.shape)}")
    b, n, d = (int(s) for s in x.shape)
    return b, n, d


def kmedoids_with_means(x: Any, num_clusters: int, max_iters: int = 40, device: str | None = None):
    """Batched cosine k-medoids (KKZ seeding, lowest-index ties) plus the cluster means.

    Sizes outside the limits below raise ValueError from the C++ entry point.

    Args:
        x: (B, N, D) floating array or tensor (computed in float32), N <= 64.
        num_clusters: C, 1 <= C <= min(8, N).
        max_iters: assignment/update rounds at most, >= 1.
        device: 'cpu' or 'cuda'; None = where x lives.
    Returns:
        assign (B, N) int64, medoids (B, C) int64 ascending, means (B, C, D) float32 of the input rows.
    """
    backend = _backend(device, x)
    _check_float(x, "kmedoids: x", ("float32",))
    _shape_bnd(x)
    if is_torch(x):
        import torch
        _ensure_torch_ops()
        return torch.ops.kitpose.kmedoids(x.float(), int(num_clusters), int(max_iters))
    return _kmedoids_impl(x, int(num_clusters), int(max_iters), backend)


def _kmedoids_impl(x: Any, num_clusters: int, max_iters: int, backend: str):
    b, n, d = _shape_bnd(x)
    ws_bytes = kmedoids_workspace_bytes((b, n, d), num_clusters)  # the C++ check of every size runs here
    x = as_contiguous(x, "float32")
    assign = empty_like_kind(x, (b, n), "int64")  # (B, N)
    medoids = empty_like_kind(x, (b, num_clusters), "int64")  # (B, C)
    means = empty_like_kind(x, (b, num_clusters, d), "float32")  # (B, C, D)
    ws = empty_like_kind(x, (max(1, ws_bytes),), "uint8")
    launch_kmedoids(backend, data_ptr(x), data_ptr(assign), data_ptr(medoids), data_ptr(means), data_ptr(ws),
                    (b, n, d), int(num_clusters), int(max_iters), _stream(x, backend))
    return assign, medoids, means


def kmedoids(x: Any, num_clusters: int, max_iters: int = 40, device: str | None = None):
    """Batched cosine k-medoids; see `kmedoids_with_means`.

    Returns:
        assign (B, N) int64, medoids (B, C) int64 ascending.
    """
    assign, medoids, _ = kmedoids_with_means(x, num_clusters, max_iters, device)
    return assign, medoids


# ----------------------------------------------------------------------------- DARK

def _affine_rows(like: Any, n: int, center: Any, scale: Any, rotation: Any) -> Any:
    """(N, 5) float32 rows (cx, cy, sw, sh, rot_deg) on the heatmaps' device."""
    def col(v, width, name):
        a = np.asarray(v.detach().cpu() if is_torch(v) else v, dtype=np.float32).reshape(n, -1)
        if a.shape[1] != width:
            raise ValueError(f"dark_decode: {name} must have shape (N={n}, {width}), got {a.shape}")
        return a
    rot = np.zeros((n, 1), np.float32) if rotation is None else col(rotation, 1, "rotation")
    rows = np.concatenate([col(center, 2, "center"), col(scale, 2, "scale"), rot], axis=1)
    if is_torch(like):
        import torch
        return torch.from_numpy(rows).to(like.device)
    return rows


def dark_decode(heatmaps: Any, blur_kernel: int = 11, device: str | None = None,
                center: Any = None, scale: Any = None, rotation: Any = None):
    """Fused DARK decoding: argmax, Taylor refinement on the blurred log map, optional inverse affine.

    Args:
        heatmaps: (N, K, H, W) float32 or float16 (float64 is decoded in float32).
        blur_kernel: odd Gaussian kernel size in [3, 31] (cv2.getGaussianKernel(k, 0) weights); others
            raise ValueError from the C++ entry point.
        device: 'cpu' or 'cuda'; None = where the heatmaps live.
        center, scale, rotation: optional (N, 2), (N, 2) in units of 200 px, (N,) degrees: map the
            coordinates back to the image (size-1 convention, spec 10.3).
    Returns:
        coords (N, K, 2) float32 (x, y), scores (N, K) float32 (map maxima, NaN read as 0).
    """
    backend = _backend(device, heatmaps)
    if len(heatmaps.shape) != 4:
        raise ValueError(f"dark_decode: heatmaps must be (N, K, H, W), got shape {tuple(heatmaps.shape)}")
    if (center is None) != (scale is None):
        raise ValueError("dark_decode: pass both center and scale (or neither)")
    dt = _check_float(heatmaps, "dark_decode: heatmaps", ("float32", "float16"))
    maps = as_contiguous(heatmaps, dt)
    affine = _affine_rows(maps, int(maps.shape[0]), center, scale, rotation) if center is not None else None
    if is_torch(maps):
        import torch
        _ensure_torch_ops()
        return torch.ops.kitpose.dark_decode(maps, affine, int(blur_kernel))
    return _dark_impl(maps, affine, int(blur_kernel), backend)


def _dark_impl(maps: Any, affine: Any, blur_kernel: int, backend: str):
    n, k, h, w = (int(s) for s in maps.shape)
    coords = empty_like_kind(maps, (n, k, 2), "float32")  # (N, K, 2)
    scores = empty_like_kind(maps, (n, k), "float32")  # (N, K)
    launch_dark_decode(backend, data_ptr(maps), 0 if affine is None else data_ptr(affine), data_ptr(coords),
                       data_ptr(scores), (n, k, h, w), blur_kernel, dtype_name(maps) == "float16",
                       _stream(maps, backend))
    return coords, scores


# ----------------------------------------------------------------------------- warp

def warp_affine(frame: Any, mats: Any, out_hw: tuple[int, int], mean=IMAGENET_MEAN, std=IMAGENET_STD,
                swap_rb: bool = False, device: str | None = None):
    """Batched affine crops of one frame, bilinear, normalised: cv2.warpAffine + (v/255 - mean)/std.

    Args:
        frame: (h, w, 3) uint8.
        mats: (B, 2, 3) forward affines frame -> crop (cv2.warpAffine convention).
        out_hw: (h, w) of each crop.
        mean, std: per output channel, in [0, 1] units.
        swap_rb: read the frame's channels reversed (BGR frame -> RGB model input).
    Returns:
        (B, 3, h, w) float32.
    """
    backend = _backend(device, frame)
    if len(frame.shape) != 3 or int(frame.shape[2]) != 3:
        raise ValueError(f"warp_affine: frame must be (h, w, 3), got shape {tuple(frame.shape)}")
    if dtype_name(frame) != "uint8":
        raise TypeError(f"warp_affine: frame must be uint8, got dtype {dtype_name(frame)}")
    if len(mats.shape) != 3 or tuple(int(s) for s in mats.shape[1:]) != (2, 3):
        raise ValueError(f"warp_affine: mats must be (B, 2, 3), got shape {tuple(mats.shape)}")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError("warp_affine: mean and std need 3 values each")
    frame = as_contiguous(frame, "uint8")
    mats = as_contiguous(mats if not is_torch(frame) or is_torch(mats) else _to_torch(mats, frame), "float64")
    b, (oh, ow) = int(mats.shape[0]), (int(out_hw[0]), int(out_hw[1]))
    out = empty_like_kind(frame, (b, 3, oh, ow), "float32")  # (B, 3, h, w)
    launch_warp_affine(backend, data_ptr(frame), data_ptr(mats), data_ptr(out),
                       (int(frame.shape[0]), int(frame.shape[1])), b, (oh, ow), swap_rb, mean, std,
                       _stream(frame, backend))
    return out


def _to_torch(a: Any, like: Any) -> Any:
    import torch
    return torch.as_tensor(np.asarray(a, dtype=np.float64), device=like.device)


# ----------------------------------------------------------------------------- torch.library

_TORCH_OPS_REGISTERED = False


def _ensure_torch_ops() -> None:
    # A plain global flag (not functools.cache): torch.compile reads it as a constant and does not
    # trace into the registration.
    if not _TORCH_OPS_REGISTERED:
        register_torch_ops()


def register_torch_ops() -> None:
    """Register kitpose::kmedoids and kitpose::dark_decode (with fake kernels) with torch.library.

    Runs on the first eager call with a tensor; call it yourself before torch.compile / torch.export
    when the first call happens inside the compiled region.
    """
    global _TORCH_OPS_REGISTERED
    if _TORCH_OPS_REGISTERED:
        return
    import torch
    _TORCH_OPS_REGISTERED = True

    @torch.library.custom_op("kitpose::kmedoids", mutates_args=(),
                             schema="(Tensor x, int num_clusters, int max_iters) -> (Tensor, Tensor, Tensor)")
    def _kmedoids_op(x: torch.Tensor, num_clusters: int, max_iters: int
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _kmedoids_impl(x.contiguous(), num_clusters, max_iters, "cuda" if x.is_cuda else "cpu")

    @_kmedoids_op.register_fake
    def _(x, num_clusters, max_iters):
        b, n, d = x.shape
        return (x.new_empty((b, n), dtype=torch.int64), x.new_empty((b, num_clusters), dtype=torch.int64),
                x.new_empty((b, num_clusters, d), dtype=torch.float32))

    @torch.library.custom_op("kitpose::dark_decode", mutates_args=(),
                             schema="(Tensor heatmaps, Tensor? affine, int blur_kernel) -> (Tensor, Tensor)")
    def _dark_op(heatmaps: torch.Tensor, affine: torch.Tensor | None, blur_kernel: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        backend = "cuda" if heatmaps.is_cuda else "cpu"
        return _dark_impl(heatmaps.contiguous(), None if affine is None else affine.contiguous(), blur_kernel,
                          backend)

    @_dark_op.register_fake
    def _(heatmaps, affine, blur_kernel):
        n, k = heatmaps.shape[:2]
        return (heatmaps.new_empty((n, k, 2), dtype=torch.float32),
                heatmaps.new_empty((n, k), dtype=torch.float32))
