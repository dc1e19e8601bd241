"""Which TensorRT flavour to build with: `tensorrt` (10.x/11.x) or `tensorrt_rtx` (same API)."""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any

FLAVOURS = ("tensorrt", "tensorrt_rtx")


def import_trt(backend: str = "auto") -> tuple[Any, str]:
    """(module, flavour) for backend "tensorrt", "tensorrt_rtx" or "auto" (tensorrt first).

    Raises ImportError that names the pip package to install when none is present.
    """
    names = FLAVOURS if backend == "auto" else (backend,)
    for name in names:
        if importlib.util.find_spec(name) is not None:
            return importlib.import_module(name), name
    raise ImportError(f"no TensorRT Python package for backend={backend!r}: pip install "
                      f"tensorrt-rtx-cu13 (builds without a GPU) or install tensorrt from NVIDIA")


def trt_major(trt: Any) -> int:
    """Major version of the imported module (TensorRT-RTX counts from 1)."""
    return int(trt.__version__.split(".")[0])


def parse_compute_capability(value: str) -> str:
    """"8.6" / "86" / "sm_86" -> "SM86", the ComputeCapability enum name."""
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    if len(digits) not in (2, 3):
        raise ValueError(f"compute_capability {value!r}: expected a form like '8.6' or 'sm_86'")
    return f"SM{digits}"


def local_gpu() -> tuple[str, str] | None:
    """(name, "major.minor") of CUDA device 0 via torch when it sees one, else None."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return torch.cuda.get_device_name(0), f"{major}.{minor}"
