"""Environment report: versions, compiled ops, accelerators (`kitpose info`, `python -m kitpose.info`).

`system_info()` is also the machine record written next to every benchmark row.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path

import kitpose
from kitpose.default_model import CAPE_NOTE, HOW_TO_REAL, SHORT_NOTE
from kitpose.native import load_native

# Python packages whose presence and version matter to one of the backends.
_PACKAGES = ("torch", "numpy", "opencv-python-headless", "onnx", "onnxruntime", "tensorrt",
             "tensorrt-rtx", "tensorrt_rtx", "cuda-python", "pycocotools")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_names() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def _native_info() -> dict:
    mod = load_native()
    if mod is None:
        return {"built": False}
    return {"built": True, "cuda": bool(mod.has_cuda()), "cuda_version": int(mod.cuda_version()),
            "cuda_devices": int(mod.cuda_device_count()),
            "ops": sorted(n for n in dir(mod) if not n.startswith("_") and n not in
                          ("has_cuda", "cuda_version", "cuda_device_count"))}


def _git_commit() -> str | None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(kitpose.__file__)))
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _onnxruntime_providers() -> list[str]:
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError:
        return []
    return list(ort.get_available_providers())


# A Jetson (L4T) says what it is in these two files; nvidia-smi does not see its integrated GPU.
TEGRA_RELEASE = Path("/etc/nv_tegra_release")
DEVICE_MODEL = Path("/proc/device-tree/model")


def parse_tegra_release(text: str) -> str | None:
    """'# R36 (release), REVISION: 3.0, ...' -> 'R36.3.0' (None when the line is not recognised)."""
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"R{match.group(1)}.{match.group(2)}" if match else None


def jetson_info(release_file: Path = TEGRA_RELEASE, model_file: Path = DEVICE_MODEL) -> dict | None:
    """{"model": e.g. "NVIDIA Jetson AGX Orin Developer Kit", "l4t": "R36.3.0"} on a Jetson, else None."""
    if not release_file.is_file():
        return None
    model = model_file.read_bytes().decode(errors="replace").strip("\x00\n ") if model_file.is_file() else None
    return {"model": model or "unknown Jetson", "l4t": parse_tegra_release(release_file.read_text(errors="replace"))}


def system_info() -> dict:
    """Machine and software record: CPU, GPUs, Python, package versions, compiled module, git commit."""
    return {
        "kitpose": kitpose.__version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpus": _gpu_names(),
        "jetson_board": jetson_info(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "onnxruntime_providers": _onnxruntime_providers(),
        "native": _native_info(),
    }


def format_info(info: dict) -> str:
    """One aligned line per fact, for people."""
    native = info["native"]
    if not native["built"]:
        native_line = "not built (pip install -e . builds it)"
    else:
        cuda = f"CUDA {native['cuda_version']}, {native['cuda_devices']} device(s)" if native["cuda"] else "CPU only"
        native_line = f"built, {cuda}; ops: {', '.join(native['ops']) or 'none'}"
    rows = [("kitpose", f"{info['kitpose']} ({info['git_commit'] or 'no git'})"),
            ("python", info["python"]), ("platform", info["platform"]),
            ("cpu", f"{info['cpu']} ({info['cpu_count']} logical cores)"),
            ("gpus", "; ".join(info["gpus"]) or "none visible"),
            ("jetson", f"{info['jetson_board']['model']}, L4T {info['jetson_board']['l4t'] or '?'}"
             if info.get("jetson_board") else "no"),
            ("kitpose._C", native_line),
            ("default model", f"{SHORT_NOTE}; {HOW_TO_REAL}"),
            ("default-cape", CAPE_NOTE)]
    rows += [(name, ver or "not installed") for name, ver in info["packages"].items()
             if ver or name in ("torch", "onnxruntime", "tensorrt", "tensorrt-rtx")]
    rows.append(("onnxruntime providers", ", ".join(info["onnxruntime_providers"]) or "-"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


if __name__ == "__main__":
    print(format_info(system_info()))
