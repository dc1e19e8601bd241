"""Build the C++ CPU twins for x86-64 and aarch64 with the project's CMake, and run them on the same cases.

`make cross-tools` installs Debian's cross toolchain and qemu-user and puts Debian's arm64 CPython
headers under build/cross/python-aarch64 (tests/cross/fetch_python_headers.sh); cmake/
aarch64-linux-gnu.cmake is the toolchain file. Each arch builds twin_driver (tests/cross/twin_driver.cpp)
and, for aarch64 when the headers are there, kitpose._C itself, into build/cross/<arch>/<hash of
csrc/, the build files and the driver>. aarch64 programs run under qemu-aarch64 (emulated: its speed
says nothing about an ARM CPU's).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "cross"
PY_VERSION = sysconfig.get_config_var("py_version_short")  # "3.11"
PY_HEADERS = BUILD / "python-aarch64" / "include" / f"python{PY_VERSION}"
QEMU = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
TOOLS = {"x86_64": ["cmake", "g++"], "aarch64": ["cmake", "aarch64-linux-gnu-g++", "qemu-aarch64"]}


def missing_tools(arch: str) -> list[str]:
    """Programs the build and run of `arch` need that are not on PATH."""
    return [t for t in TOOLS[arch] if shutil.which(t) is None]


def _inputs_hash(arch: str, flags: list[str]) -> str:
    digest = hashlib.sha256(" ".join([arch, *flags]).encode())
    files = [*sorted((ROOT / "csrc").rglob("*.[ch]*")), ROOT / "CMakeLists.txt",
             ROOT / "cmake" / "aarch64-linux-gnu.cmake", ROOT / "tests" / "cross" / "twin_driver.cpp"]
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _module_flags() -> list[str]:
    """CMake flags of the aarch64 kitpose._C: the arm64 headers, this pybind11, the module suffix."""
    import pybind11

    suffix = f".cpython-{PY_VERSION.replace('.', '')}-aarch64-linux-gnu.so"
    return ["-DKITPOSE_PYTHON=ON", f"-DPython_INCLUDE_DIR={PY_HEADERS}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", f"-DPYTHON_MODULE_EXTENSION={suffix}"]


def build(arch: str) -> Path:
    """Configure and build `arch` (Release, no CUDA) with CMake; returns the build folder."""
    flags = ["-DCMAKE_BUILD_TYPE=Release", "-DKITPOSE_CUDA=OFF", "-DKITPOSE_TWIN_DRIVER=ON"]
    if arch == "aarch64":
        flags.append(f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'cmake' / 'aarch64-linux-gnu.cmake'}")
        flags += _module_flags() if (PY_HEADERS / "Python.h").is_file() else ["-DKITPOSE_PYTHON=OFF"]
    else:
        flags.append("-DKITPOSE_PYTHON=OFF")
    out = BUILD / arch / _inputs_hash(arch, flags)
    if (out / "twin_driver").is_file():
        return out
    for stale in (p for p in (BUILD / arch).glob("*") if p != out):
        shutil.rmtree(stale, ignore_errors=True)
    for cmd in (["cmake", "-S", str(ROOT), "-B", str(out), *flags], ["cmake", "--build", str(out), "-j", "2"]):
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            raise RuntimeError(f"{arch} build failed: {' '.join(cmd[:3])}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
    return out


def run_driver(arch: str, build_dir: Path, cases: bytes, work: Path) -> tuple[bytes, float]:
    """twin_driver's outputs for `cases` (natively, or under qemu-aarch64) and its wall seconds."""
    import time

    src, dst = work / f"cases_{arch}.bin", work / f"out_{arch}.bin"
    src.write_bytes(cases)
    cmd = [*(QEMU if arch == "aarch64" else []), str(build_dir / "twin_driver"), str(src), str(dst)]
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "2"})
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"twin_driver ({arch}) failed with {run.returncode}: {run.stderr[-2000:]}")
    return dst.read_bytes(), seconds
