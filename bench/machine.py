"""The machine record of every bench row: system_info() plus load, threads and, on a Jetson, the
power mode (`nvpmodel -q`) and whether clocks were locked (`jetson_clocks --show`).

A Jetson is recognised by /etc/nv_tegra_release. Unlocked clocks (or a state that cannot be read)
add a warning to the record, because such numbers move with DVFS and are not comparable.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from kitpose.info import TEGRA_RELEASE, parse_tegra_release

_FREQ = re.compile(r"MinFreq=(\d+)\s+MaxFreq=(\d+)")


def parse_nvpmodel(text: str) -> dict:
    """`nvpmodel -q` output -> {"mode": name or None, "id": int or None}.

    The tool prints "NV Power Mode: <NAME>" and then the mode id on a line of its own.
    """
    mode = re.search(r"NV Power Mode:\s*(\S+)", text)
    ids = [line.strip() for line in text.splitlines() if line.strip().isdigit()]
    return {"mode": mode.group(1) if mode else None, "id": int(ids[0]) if ids else None}


def parse_jetson_clocks(text: str) -> dict:
    """`jetson_clocks --show` output -> {"locked": bool | None, "unlocked": [names]}.

    Locked means what jetson_clocks sets: every online CPU and the GPU run with MinFreq == MaxFreq,
    and the memory clock (EMC) has FreqOverride=1 where that field is printed. `locked` is None
    when the text names no CPU or GPU frequencies.
    """
    unlocked, seen = [], 0
    for line in text.splitlines():
        name = line.split(":")[0].split()[0] if line.strip() else ""
        is_cpu, is_gpu = re.fullmatch(r"cpu\d+", name) is not None, name == "GPU"
        freq = _FREQ.search(line)
        if (is_cpu or is_gpu) and freq:
            if is_cpu and "Online=0" in line:
                continue
            seen += 1
            if freq.group(1) != freq.group(2):
                unlocked.append(name)
        elif name == "EMC" and "FreqOverride=0" in line:
            unlocked.append("EMC")
    return {"locked": (not unlocked) if seen else None, "unlocked": unlocked}


def _command(args: list[str]) -> str | None:
    """stdout of a short command, or None when it is missing, fails or hangs."""
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def jetson_record(release_file: Path = TEGRA_RELEASE) -> dict | None:
    """Jetson release, power mode and clock state, with a warning when clocks are not locked;
    None on anything that is not a Jetson."""
    if not release_file.is_file():
        return None
    nvp, clocks = _command(["nvpmodel", "-q"]), _command(["jetson_clocks", "--show"])
    record = {"l4t": parse_tegra_release(release_file.read_text(errors="replace")),
              "power_mode": parse_nvpmodel(nvp) if nvp else None,
              "clocks": parse_jetson_clocks(clocks) if clocks else {"locked": None, "unlocked": []}}
    record["warning"] = clock_warning(record["clocks"])
    return record


def clock_warning(clocks: dict) -> str | None:
    """The warning for a clock state (None when locked)."""
    if clocks["locked"] is True:
        return None
    if clocks["locked"] is None:
        return ("could not read the clock state (`jetson_clocks --show` needs root); run "
                "`sudo jetson_clocks` before benchmarking and record it")
    return (f"clocks not locked ({', '.join(clocks['unlocked'])} scale with load); run `sudo "
            f"jetson_clocks` before benchmarking, or these numbers are not comparable")


def machine_record(threads: int | None = None) -> dict:
    """system_info() plus the 1/5/15-minute load, the thread setting and the Jetson record."""
    from kitpose.info import system_info

    record = {**system_info(), "load_avg": list(os.getloadavg()), "threads": threads,
              "jetson": jetson_record()}
    record["warnings"] = [w for w in [(record["jetson"] or {}).get("warning")] if w]
    return record
