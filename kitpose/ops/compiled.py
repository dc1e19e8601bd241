"""Python side of the compiled kernels in kitpose._C: argument checks, buffers, pointers, streams.

Inputs may be numpy arrays or torch tensors (CPU or CUDA); outputs are the same kind, on the same
device. torch is imported only when a tensor is passed, so the pointer-level `launch_*` helpers
serve the torch-free runtime too (it passes device pointers and a cudaStream_t as ints).
The ops are also registered with torch.library (`kitpose::kmedoids`, `kitpose::dark_decode`) on
first use with a tensor, or by `register_torch_ops()`, so torch.compile and torch.export see them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kitpose.native import require_cuda, require_native

MAX_POINTS = 64
MAX_CLUSTERS = 8
# ImageNet statistics in [0, 1] units, RGB order: the default normalisation of the model input.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _backend(device: str | None, x: Any) -> str:
    """'cpu' or 'cuda': the asked device, else the device the input lives on."""
    actual = "cuda" if _is_torch(x) and x.is_cuda else "cpu"
    if device is None:
        return actual
    device = str(device).split(":")[0]
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device != actual:
        raise ValueError(f"device={device!r} but the input lives on {actual!r}; move it first (e.g. x.to('{device}'))")
    return device


def _module(backend: str, what: str):
    return require_cuda(what) if backend == "cuda" else require_native(what)


def _dtype_name(x: Any) -> str:
    return str(x.dtype).replace("torch.", "")


def _as_contiguous(x: Any, dtype_name: str) -> Any:
    """x as a C-contiguous buffer of `dtype_name` ('float32', 'float16', 'float64', 'uint8')."""
    if _is_torch(x):
        import torch
        return x.to(getattr(torch, dtype_name)).contiguous()
    return np.ascontiguousarray(x, dtype=np.dtype(dtype_name))


def _empty_like_kind(x: Any, shape: tuple[int, ...], dtype_name: str) -> Any:
    if _is_torch(x):
        import torch
        return torch.empty(shape, dtype=getattr(torch, dtype_name), device=x.device)
    return np.empty(shape, dtype=np.dtype(dtype_name))


def _ptr(x: Any) -> int:
    return int(x.data_ptr()) if _is_torch(x) else int(x.ctypes.data)


def _stream(x: Any, backend: str) -> int:
    if backend != "cuda":
        return 0
    import torch
    return int(torch.cuda.current_stream(x.device).cuda_stream)


def _check_float(x: Any, name: str, allowed: tuple[str, ...]) -> str:
    dt = _dtype_name(x)
    if dt not in ("float16", "float32", "float64", "bfloat16"):
        raise TypeError(f"{name} must be a floating array ({', '.join(allowed)}), got dtype {dt}")
    return dt if dt in allowed else "float32"


# ----------------------------------------------------------------------------- k-medoids

def launch_kmedoids(backend: str, x: int, assign: int, medoids: int, means: int, workspace: int,
                    shape: tuple[int, int, int], num_clusters: int, max_iters: int, stream: int = 0) -> None:
    """Pointer-level k-medoids: x (B, N, D) f32 -> assign (B, N) i64, medoids (B, C) i64, means (B, C, D) f32."""
    mod = _module(backend, "kmedoids")
    args = (x, assign, medoids, means, workspace, *shape, num_clusters, max_iters)
    mod.kmedoids_cuda(*args, stream) if backend == "cuda" else mod.kmedoids_cpu(*args)


def kmedoids_workspace_bytes(shape: tuple[int, int, int], num_clusters: int) -> int:
    """Bytes of workspace k-medoids needs for x of shape (B, N, D)."""
    return int(require_native("kmedoids").kmedoids_workspace_bytes(*shape, num_clusters))


def _check_kmedoids(x: Any, num_clusters: int, max_iters: int) -> tuple[int, int, int]:
    if len(x.shape) != 3:
        raise ValueError(f"kmedoids: x must be (B, N, D), got shape {tuple(x.shape)}")
    b, n, d = (int(s) for s in x.shape)
    if not 1 <= n <= MAX_POINTS or d < 1:
        raise ValueError(f"kmedoids: x (B, N, D) needs 1 <= N <= {MAX_POINTS} and D >= 1, got {tuple(x.shape)}")
    if not 1 <= num_clusters <= min(MAX_CLUSTERS, n):
        raise ValueError(f"kmedoids: num_clusters must be in [1, min({MAX_CLUSTERS}, N={n})], got {num_clusters}")
    if max_iters < 0:
        raise ValueError(f"kmedoids: max_iters must be >= 0, got {max_iters}")
    return b, n, d


def kmedoids_with_means(x: Any, num_clusters: int, max_iters: int = 40, device: str | None = None):
    """Batched cosine k-medoids (KKZ seeding, lowest-index ties) plus the cluster means.

    Args:
        x: (B, N, D) floating array or tensor (computed in float32).
        num_clusters: C, 1 <= C <= min(8, N).
        max_iters: assignment/update rounds at most.
        device: 'cpu' or 'cuda'; None = where x lives.
    Returns:
        assign (B, N) int64, medoids (B, C) int64 ascending, means (B, C, D) float32 of the input rows.
    """
    backend = _backend(device, x)
    _check_float(x, "kmedoids: x", ("float32",))
    _check_kmedoids(x, int(num_clusters), int(max_iters))
    if _is_torch(x):
        import torch
        _ensure_torch_ops()
        return torch.ops.kitpose.kmedoids(x.float(), int(num_clusters), int(max_iters))
    return _kmedoids_impl(x, int(num_clusters), int(max_iters), backend)


def _kmedoids_impl(x: Any, num_clusters: int, max_iters: int, backend: str):
    b, n, d = _check_kmedoids(x, num_clusters, max_iters)
    x = _as_contiguous(x, "float32")
    assign = _empty_like_kind(x, (b, n), "int64")
    medoids = _empty_like_kind(x, (b, num_clusters), "int64")
    means = _empty_like_kind(x, (b, num_clusters, d), "float32")
    ws = _empty_like_kind(x, (max(1, kmedoids_workspace_bytes((b, n, d), num_clusters)),), "uint8")
    launch_kmedoids(backend, _ptr(x), _ptr(assign), _ptr(medoids), _ptr(means), _ptr(ws), (b, n, d),
                    int(num_clusters), int(max_iters), _stream(x, backend))
    return assign, medoids, means


def kmedoids(x: Any, num_clusters: int, max_iters: int = 40, device: str | None = None):
    """Batched cosine k-medoids; see `kmedoids_with_means`.

    Returns:
        assign (B, N) int64, medoids (B, C) int64 ascending.
    """
    assign, medoids, _ = kmedoids_with_means(x, num_clusters, max_iters, device)
    return assign, medoids


# ----------------------------------------------------------------------------- DARK

def launch_dark_decode(backend: str, heatmaps: int, affine: int, coords: int, scores: int,
                       shape: tuple[int, int, int, int], blur_kernel: int, half: bool, stream: int = 0) -> None:
    """Pointer-level DARK: heatmaps (N, K, H, W) f32/f16, affine (N, 5) f32 or 0 -> coords, scores."""
    mod = _module(backend, "dark_decode")
    args = (heatmaps, affine, coords, scores, *shape, blur_kernel, half)
    mod.dark_decode_cuda(*args, stream) if backend == "cuda" else mod.dark_decode_cpu(*args)


def _affine_rows(like: Any, n: int, center: Any, scale: Any, rotation: Any) -> Any:
    """(N, 5) float32 rows (cx, cy, sw, sh, rot_deg) on the heatmaps' device."""
    def col(v, width, name):
        a = np.asarray(v.detach().cpu() if _is_torch(v) else v, dtype=np.float32).reshape(n, -1)
        if a.shape[1] != width:
            raise ValueError(f"dark_decode: {name} must have shape (N={n}, {width}), got {a.shape}")
        return a
    rot = np.zeros((n, 1), np.float32) if rotation is None else col(rotation, 1, "rotation")
    rows = np.concatenate([col(center, 2, "center"), col(scale, 2, "scale"), rot], axis=1)
    if _is_torch(like):
        import torch
        return torch.from_numpy(rows).to(like.device)
    return rows


def dark_decode(heatmaps: Any, blur_kernel: int = 11, device: str | None = None,
                center: Any = None, scale: Any = None, rotation: Any = None):
    """Fused DARK decoding: argmax, Taylor refinement on the blurred log map, optional inverse affine.

    Args:
        heatmaps: (N, K, H, W) float32 or float16 (float64 is decoded in float32).
        blur_kernel: odd Gaussian kernel size (cv2.getGaussianKernel(k, 0) weights).
        device: 'cpu' or 'cuda'; None = where the heatmaps live.
        center, scale, rotation: optional (N, 2), (N, 2) in units of 200 px, (N,) degrees: map the
            coordinates back to the image (size-1 convention, spec 10.3).
    Returns:
        coords (N, K, 2) float32 (x, y), scores (N, K) float32 (map maxima, NaN read as 0).
    """
    backend = _backend(device, heatmaps)
    if len(heatmaps.shape) != 4:
        raise ValueError(f"dark_decode: heatmaps must be (N, K, H, W), got shape {tuple(heatmaps.shape)}")
    if blur_kernel < 1 or blur_kernel % 2 == 0 or blur_kernel > 31:
        raise ValueError(f"dark_decode: blur_kernel must be odd and in [1, 31], got {blur_kernel}")
    if (center is None) != (scale is None):
        raise ValueError("dark_decode: pass both center and scale (or neither)")
    dt = _check_float(heatmaps, "dark_decode: heatmaps", ("float32", "float16"))
    maps = _as_contiguous(heatmaps, dt)
    affine = _affine_rows(maps, int(maps.shape[0]), center, scale, rotation) if center is not None else None
    if _is_torch(maps):
        import torch
        _ensure_torch_ops()
        return torch.ops.kitpose.dark_decode(maps, affine, int(blur_kernel))
    return _dark_impl(maps, affine, int(blur_kernel), backend)


def _dark_impl(maps: Any, affine: Any, blur_kernel: int, backend: str):
    n, k, h, w = (int(s) for s in maps.shape)
    coords = _empty_like_kind(maps, (n, k, 2), "float32")
    scores = _empty_like_kind(maps, (n, k), "float32")
    launch_dark_decode(backend, _ptr(maps), 0 if affine is None else _ptr(affine), _ptr(coords), _ptr(scores),
                       (n, k, h, w), blur_kernel, _dtype_name(maps) == "float16", _stream(maps, backend))
    return coords, scores


# ----------------------------------------------------------------------------- warp

def launch_warp_affine(backend: str, frame: int, mats: int, out: int, frame_hw: tuple[int, int],
                       batch: int, out_hw: tuple[int, int], swap_rb: bool, mean, std, stream: int = 0) -> None:
    """Pointer-level warp: frame (h, w, 3) u8, mats (B, 2, 3) f64 -> out (B, 3, h_out, w_out) f32."""
    mod = _module(backend, "warp_affine")
    args = (frame, mats, out, batch, *frame_hw, *out_hw, bool(swap_rb), list(mean), list(std))
    mod.warp_affine_cuda(*args, stream) if backend == "cuda" else mod.warp_affine_cpu(*args)


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
    if _dtype_name(frame) != "uint8":
        raise TypeError(f"warp_affine: frame must be uint8, got dtype {_dtype_name(frame)}")
    if len(mats.shape) != 3 or tuple(int(s) for s in mats.shape[1:]) != (2, 3):
        raise ValueError(f"warp_affine: mats must be (B, 2, 3), got shape {tuple(mats.shape)}")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError("warp_affine: mean and std need 3 values each")
    frame = _as_contiguous(frame, "uint8")
    mats = _as_contiguous(mats if not _is_torch(frame) or _is_torch(mats) else _to_torch(mats, frame), "float64")
    b, (oh, ow) = int(mats.shape[0]), (int(out_hw[0]), int(out_hw[1]))
    out = _empty_like_kind(frame, (b, 3, oh, ow), "float32")
    launch_warp_affine(backend, _ptr(frame), _ptr(mats), _ptr(out), (int(frame.shape[0]), int(frame.shape[1])),
                       b, (oh, ow), swap_rb, mean, std, _stream(frame, backend))
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
