"""Backend choice and array conversion shared by the ops fronts (`kmedoids`, `dark_decode`).

Backends: "reference" (pure PyTorch, `kitpose.ops.reference`), "cpu" / "cuda" (the compiled twins,
reached through `kitpose.ops.compiled.<op>(..., device)`), and "auto": the compiled twin for the
input's device when it is built, else the reference, with a `warnings.warn` the first time each op
falls back in this process.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from kitpose.native import NativeUnavailableError, load_native, native_has_cuda, require_cuda, require_native

BACKENDS = ("auto", "reference", "cpu", "cuda")
OPS = ("kmedoids", "dark_decode")
_warned_fallback: set[str] = set()


def compiled_op(op: str) -> Callable[..., Any]:
    """Return `kitpose.ops.compiled.<op>` (looked up at call time, so tests can stand in for it)."""
    from kitpose.ops import compiled

    return getattr(compiled, op)


def compiled_available(op: str, device_type: str) -> bool:
    """True when the compiled twin of op can run on device_type ("cpu" or "cuda") right now."""
    if op not in OPS:
        return False
    if device_type == "cpu":
        return load_native() is not None
    if device_type == "cuda":
        return native_has_cuda() and torch.cuda.is_available()
    return False


def available_backends(op: str | None = None) -> tuple[str, ...]:
    """Backends usable now for op ("kmedoids" or "dark_decode"), or for every op when op is None.

    Returns:
        A tuple starting with "reference", then "cpu" and/or "cuda" when their compiled twins run here.
    """
    if op is not None and op not in OPS:
        raise ValueError(f"available_backends: op must be one of {OPS}, got {op!r}")
    ops = OPS if op is None else (op,)
    compiled = [dev for dev in ("cpu", "cuda") if all(compiled_available(o, dev) for o in ops)]
    return ("reference", *compiled)


def choose_backend(op: str, backend: str, device_type: str, fits: bool = True) -> str:
    """Resolve backend ("auto" included) to "reference", "cpu" or "cuda" for an input on device_type.

    fits: False when the input is outside the compiled twin's size limits; "auto" then uses the reference.
    """
    if backend not in BACKENDS:
        raise ValueError(f"kitpose.ops.{op}: backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    if fits and compiled_available(op, device_type):
        return device_type
    if op not in _warned_fallback:
        _warned_fallback.add(op)
        warnings.warn(
            f"kitpose.ops.{op}: no compiled kernel for device '{device_type}' (kitpose._C not built, "
            "built without CUDA, or the input exceeds the kernel's size limits); using the PyTorch "
            "reference. Build with `pip install -e .` to get the kernels. "
            "Shown once per process.",
            RuntimeWarning, stacklevel=3)
    return "reference"


def require_backend(op: str, backend: str) -> Callable[..., Any]:
    """Return the compiled op for backend "cpu" or "cuda", raising NativeUnavailableError if it cannot run."""
    what = f"kitpose.ops.{op}(backend='{backend}')"
    if backend == "cpu":
        require_native(what)
    else:
        require_cuda(what)
        if not torch.cuda.is_available():
            raise NativeUnavailableError(f"{what}: this torch build sees no CUDA device; use backend='cpu'.")
    return compiled_op(op)


def as_tensor(x: Any, name: str, op: str) -> tuple[Tensor, bool]:
    """Turn a numpy array or torch tensor into a tensor; also say whether it was numpy."""
    if isinstance(x, Tensor):
        return x, False
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"kitpose.ops.{op}: {name} must hold floats, got numpy dtype {x.dtype} "
                            f"with shape {tuple(x.shape)}")
        return torch.from_numpy(np.ascontiguousarray(x)), True
    raise TypeError(f"kitpose.ops.{op}: {name} must be a numpy array or torch tensor, got {type(x).__name__}")


def check_float(x: Tensor, name: str, op: str) -> None:
    """Raise TypeError naming the dtype and shape unless x holds floating-point values."""
    if not x.is_floating_point():
        raise TypeError(f"kitpose.ops.{op}: {name} must be a floating-point array (float16, bfloat16, "
                        f"float32 or float64), got {x.dtype} with shape {tuple(x.shape)}")


def check_int(value: Any, name: str, op: str, low: int, high: int | None = None) -> int:
    """Return value as int, raising TypeError if it is not an integer and ValueError if out of range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"kitpose.ops.{op}: {name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"kitpose.ops.{op}: {name} must be {bound}, got {value}")
    return value


def to_caller(t: Any, was_numpy: bool, device: torch.device) -> Any:
    """Return a backend output as numpy (numpy callers) or as a tensor on the caller's device."""
    t = torch.as_tensor(t)
    return t.cpu().numpy() if was_numpy else t.to(device)
