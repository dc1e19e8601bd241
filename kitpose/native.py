"""Access to the compiled module kitpose._C, with errors that say what to do when it is missing."""
from __future__ import annotations

import functools
from types import ModuleType


class NativeUnavailableError(RuntimeError):
    """A compiled (C++ or CUDA) path was asked for and this installation does not have it."""


@functools.cache
def load_native() -> ModuleType | None:
    """Return kitpose._C, or None when the extension was not built."""
    try:
        from kitpose import _C
    except ImportError:
        return None
    return _C


def require_native(what: str) -> ModuleType:
    """Return kitpose._C or raise naming the op that needed it and how to build it."""
    mod = load_native()
    if mod is None:
        raise NativeUnavailableError(
            f"{what} needs the compiled module kitpose._C, which is not built. "
            "Reinstall from the repository root with `pip install -e .` (needs CMake and a C++17 compiler).")
    return mod


def require_cuda(what: str) -> ModuleType:
    """Return kitpose._C when it was built with CUDA and a GPU is visible; otherwise say which is missing."""
    mod = require_native(what)
    if not mod.has_cuda():
        raise NativeUnavailableError(
            f"{what} asked for CUDA, but kitpose._C was built without CUDA kernels. "
            "Rebuild with a CUDA compiler on PATH (`KITPOSE_CUDA=1 pip install -e .`), or use backend='cpu'.")
    if mod.cuda_device_count() == 0:
        raise NativeUnavailableError(
            f"{what} asked for CUDA, but no CUDA device is visible (no GPU or no NVIDIA driver). "
            "Use backend='cpu' on this machine.")
    return mod


def native_has_cuda() -> bool:
    """True when kitpose._C exists, was built with CUDA, and a device is visible."""
    mod = load_native()
    return bool(mod is not None and mod.has_cuda() and mod.cuda_device_count() > 0)
