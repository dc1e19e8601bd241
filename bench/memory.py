"""Peak memory of a measurement: host resident set (Linux VmHWM, reset per measurement) and CUDA.

The host peak is the process high-water mark. Linux lets a process reset it (writing "5" to
/proc/self/clear_refs), so each measurement reports its own peak; where that is refused the
peak is the process's since it started, and `peak_scope` says so.
"""
from __future__ import annotations

from pathlib import Path


def _status_kib(field: str) -> float | None:
    """A `kB` field of /proc/self/status (VmRSS, VmHWM), or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> str:
    """Start a new host peak; returns the scope the next `peak_rss_mib` covers ("measurement" or "process")."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "measurement"
    except OSError:
        return "process"


def rss_mib() -> float | None:
    """Host resident set size now, in MiB (None where /proc is absent)."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024.0


def peak_rss_mib() -> float | None:
    """Host resident-set high-water mark in MiB (None where /proc is absent)."""
    kib = _status_kib("VmHWM")
    return None if kib is None else kib / 1024.0


def reset_device_peak(device: str) -> None:
    """Reset torch's CUDA peak counter (device "cuda"); nothing on the CPU."""
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()


def device_peak_mib(device: str) -> float | None:
    """Peak CUDA memory torch allocated since the reset, MiB; None on the CPU.

    Only allocations through torch's caching allocator are seen: ONNX Runtime's and TensorRT's
    own device buffers are not, which the row's backend makes plain.
    """
    if device != "cuda":
        return None
    import torch

    return torch.cuda.max_memory_allocated() / 2**20
