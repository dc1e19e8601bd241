"""Jetson record parsing on fixture strings (the real tools exist only on a Jetson)."""
from kitpose.bench.machine import (clock_warning, jetson_record, machine_record, parse_jetson_clocks,
                                   parse_nvpmodel, parse_tegra_release)

TEGRA = "# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, DATE: Fri Jul 19 2024\n"
NVPMODEL = "NV Power Mode: MAXN\n0\n"
NVPMODEL_15W = "NVPM WARN: fan mode is not set!\nNV Power Mode: 15W\n2\n"
# `jetson_clocks --show` on an Orin before `sudo jetson_clocks`: CPUs and GPU scale (Min != Max)
CLOCKS_DEFAULT = """SOC family:tegra234  Machine:NVIDIA Jetson AGX Orin Developer Kit
Online CPUs: 0-11
cpu0: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=2201600 CurrentFreq=1420800 IdleStates: WFI=1 c7=1
cpu1: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=2201600 CurrentFreq=729600 IdleStates: WFI=1 c7=1
GPU MinFreq=306000000 MaxFreq=1300500000 CurrentFreq=306000000
EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=2133000000 FreqOverride=0
NV Power Mode: MAXN
"""
# after `sudo jetson_clocks`: Min == Max everywhere, EMC overridden; an offline core is ignored
CLOCKS_LOCKED = """SOC family:tegra234  Machine:NVIDIA Jetson AGX Orin Developer Kit
cpu0: Online=1 Governor=schedutil MinFreq=2201600 MaxFreq=2201600 CurrentFreq=2201600 IdleStates: WFI=0 c7=0
cpu1: Online=1 Governor=schedutil MinFreq=2201600 MaxFreq=2201600 CurrentFreq=2201600 IdleStates: WFI=0 c7=0
cpu2: Online=0 Governor=schedutil MinFreq=729600 MaxFreq=2201600 CurrentFreq=729600 IdleStates: WFI=1 c7=1
GPU MinFreq=1300500000 MaxFreq=1300500000 CurrentFreq=1300500000
EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=3199000000 FreqOverride=1
NV Power Mode: MAXN
"""


def test_tegra_release():
    assert parse_tegra_release(TEGRA) == "R36.3.0"
    assert parse_tegra_release("garbage") is None


def test_nvpmodel():
    assert parse_nvpmodel(NVPMODEL) == {"mode": "MAXN", "id": 0}
    assert parse_nvpmodel(NVPMODEL_15W) == {"mode": "15W", "id": 2}
    assert parse_nvpmodel("") == {"mode": None, "id": None}


def test_clocks_unlocked_names_what_scales():
    clocks = parse_jetson_clocks(CLOCKS_DEFAULT)
    assert clocks == {"locked": False, "unlocked": ["cpu0", "cpu1", "GPU", "EMC"]}
    assert "cpu0, cpu1, GPU, EMC" in clock_warning(clocks)


def test_clocks_locked_ignores_offline_cores():
    clocks = parse_jetson_clocks(CLOCKS_LOCKED)
    assert clocks == {"locked": True, "unlocked": []}
    assert clock_warning(clocks) is None


def test_clocks_unreadable_is_unknown_with_a_warning():
    clocks = parse_jetson_clocks("jetson_clocks: permission denied\n")
    assert clocks["locked"] is None
    assert "needs root" in clock_warning(clocks)


def test_not_a_jetson(tmp_path):
    assert jetson_record(tmp_path / "nv_tegra_release") is None


def test_jetson_without_tools_warns(tmp_path, monkeypatch):
    release = tmp_path / "nv_tegra_release"
    release.write_text(TEGRA)
    monkeypatch.setenv("PATH", str(tmp_path))  # neither nvpmodel nor jetson_clocks is found
    record = jetson_record(release)
    assert record["l4t"] == "R36.3.0" and record["power_mode"] is None
    assert record["clocks"]["locked"] is None and "jetson_clocks" in record["warning"]


def test_machine_record_has_system_info_and_load():
    record = machine_record(threads=2)
    assert record["threads"] == 2 and len(record["load_avg"]) == 3
    assert record["cpu_count"] >= 1 and "packages" in record
    assert isinstance(record["warnings"], list)


def test_jetson_with_fake_tools(tmp_path, monkeypatch):
    release = tmp_path / "nv_tegra_release"
    release.write_text(TEGRA)
    for name, text in (("nvpmodel", NVPMODEL), ("jetson_clocks", CLOCKS_DEFAULT)):
        tool = tmp_path / name
        (tmp_path / f"{name}.txt").write_text(text)
        tool.write_text(f"#!/bin/sh\ncat {tmp_path / (name + '.txt')}\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/bin:/usr/bin")
    record = jetson_record(release)
    assert record["power_mode"] == {"mode": "MAXN", "id": 0}
    assert record["clocks"]["locked"] is False and "not locked" in record["warning"]


def test_kitpose_info_recognises_a_jetson(tmp_path):
    from kitpose.info import format_info, jetson_info, system_info

    release, model = tmp_path / "nv_tegra_release", tmp_path / "model"
    release.write_text(TEGRA)
    model.write_bytes(b"NVIDIA Jetson AGX Orin Developer Kit\x00")
    assert jetson_info(release, model) == {"model": "NVIDIA Jetson AGX Orin Developer Kit", "l4t": "R36.3.0"}
    assert jetson_info(tmp_path / "absent", model) is None
    info = {**system_info(), "jetson_board": jetson_info(release, model)}
    assert "NVIDIA Jetson AGX Orin Developer Kit, L4T R36.3.0" in format_info(info)
