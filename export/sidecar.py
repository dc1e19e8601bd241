"""The engine sidecar (`<engine>.json`) and the check that an engine fits this machine."""
from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from kitpose.atomic import write_atomic
from kitpose.export.files import ExportFileError, require_file, sha256_file

# TensorRT-RTX runtimes run on these compute capabilities only (not Hopper)
RTX_RUNTIME_CAPABILITIES = ("7.5", "8.0", "8.6", "8.9", "12.0", "12.1")


class EngineCompatibilityError(RuntimeError):
    """An engine that cannot run here; the message says which mismatch and how to rebuild."""


def sidecar_path(engine: str | Path) -> Path:
    """`model.engine` -> `model.engine.json`."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def write_sidecar(engine: Path, record: dict[str, Any]) -> Path:
    """Write the sidecar of a freshly built engine (adds engine sha256, size and build host)."""
    full = {**record, "engine_sha256": sha256_file(engine), "engine_bytes": engine.stat().st_size,
            "host": platform.node(), "platform": platform.platform()}
    return write_atomic(sidecar_path(engine), (json.dumps(full, indent=2) + "\n").encode())


def read_sidecar(engine: str | Path) -> dict[str, Any]:
    """The sidecar record of an engine; missing or unreadable sidecars raise naming the file."""
    path = sidecar_path(engine)
    if not path.is_file():
        raise EngineCompatibilityError(f"{path}: engine sidecar missing; rebuild the engine with "
                                       f"kitpose.export.build_engine so its build target is recorded")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ExportFileError(f"{path}: corrupted sidecar JSON ({err}); rebuild the engine") from None


def check_engine_compatible(engine: str | Path, backend: str = "auto",
                            gpu_capability: str | None = None) -> dict[str, Any]:
    """Compare an engine's sidecar with this machine; raise EngineCompatibilityError on mismatch.

    Args:
        engine: engine file written by `build_engine`.
        backend: TensorRT flavour to run with ("auto", "tensorrt", "tensorrt_rtx").
        gpu_capability: "major.minor" to check against; None: the local GPU (skipped without one).
    Returns:
        The sidecar record (the engine file's sha256 matched it).
    """
    from kitpose.export.trt_backend import import_trt, local_gpu

    path = require_file(engine, "engine file")
    record = read_sidecar(path)
    if sha256_file(path) != record.get("engine_sha256"):
        raise ExportFileError(f"{path}: engine bytes do not match the sidecar sha256 (truncated or "
                              f"corrupted copy); copy it again or rebuild with build_engine")
    rebuild = (f"rebuild: build_engine({record.get('onnx')!r}, {str(path)!r}, "
               f"backend=...) on this machine or with its compute_capability")
    try:
        trt, flavour = import_trt(backend if backend != "auto" else record.get("flavour", "auto"))
    except ImportError as err:
        raise EngineCompatibilityError(f"{path}: built with {record.get('flavour')} "
                                       f"{record.get('version')}, which is not installed ({err})") from None
    if (flavour, trt.__version__) != (record.get("flavour"), record.get("version")):
        raise EngineCompatibilityError(f"{path}: built with {record.get('flavour')} "
                                       f"{record.get('version')}, this machine has {flavour} "
                                       f"{trt.__version__}; {rebuild}")
    if gpu_capability is None and local_gpu() is not None:
        gpu_capability = local_gpu()[1]
    if gpu_capability is not None:
        _check_capability(path, record, flavour, gpu_capability, rebuild)
    return record


def _check_capability(path: Path, record: dict, flavour: str, capability: str, rebuild: str) -> None:
    """Raise when the GPU's compute capability is not a build target (or not an RTX runtime one)."""
    if flavour == "tensorrt_rtx" and capability not in RTX_RUNTIME_CAPABILITIES:
        raise EngineCompatibilityError(f"{path}: the TensorRT-RTX runtime does not support compute "
                                       f"capability {capability} (e.g. Hopper); build with "
                                       f"backend='tensorrt' on this GPU instead")
    targets = record.get("compute_capabilities", [])
    if capability not in targets:
        raise EngineCompatibilityError(f"{path}: engine targets compute capability {targets}, this "
                                       f"GPU is {capability}; {rebuild}")
