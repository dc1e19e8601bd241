"""Build and load the emulated CUDA kitpose._C (see tests/cuda_emulator/cuda_runtime_api.h).

kitpose._C is compiled a second time from the same csrc/ files with g++ and KITPOSE_WITH_CUDA: the
`<<<...>>>` launches are rewritten into emulator calls and tests/cuda_emulator/ stands in for CUDA's
headers. Its `*_cuda` entry points then run the kernels' own code on host pointers. The same kernels
also build into tests/cuda_emulator/sanitize_driver.cpp under the host sanitizers. Builds are cached
under build/cuda_emulator/<kind>/<hash of every input and flag>.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
EMULATOR = ROOT / "tests" / "cuda_emulator"
BUILD = ROOT / "build" / "cuda_emulator"
GRID_Z = 3  # instances per k-medoids launch in this build, so every batch above 3 is chunked
LAUNCH = re.compile(r"([\w:]+)<<<(.+?)>>>\((.*?)\);", re.S)
COMMON_FLAGS = ["-std=c++20", "-pthread", "-DKITPOSE_WITH_CUDA", f"-I{EMULATOR}", f"-I{CSRC}"]


def split_top_level(text: str) -> list[str]:
    """Split at the commas outside any (), [] or {} ('dim3(a, b), 256' -> ['dim3(a, b)', '256'])."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    return parts + [text[start:].strip()]


def rewrite_launches(source: str) -> str:
    """`kernel<<<grid, block, smem, stream>>>(args);` -> `::emu::launch(grid, block, [&] { kernel(args); });`"""
    def launch(m: re.Match) -> str:
        grid, block = split_top_level(m[2])[:2]
        return f"::emu::launch({grid}, {block}, [&] {{ {m[1]}({m[3]}); }});"
    return LAUNCH.sub(launch, source)


def _compile(args: list[str]) -> None:
    run = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"emulated build failed: {' '.join(args[-3:])}\n{run.stderr[-4000:]}")


def _fresh_dir(kind: str, inputs: list[Path], flags: list[str]) -> Path:
    """build/cuda_emulator/<kind>/<hash of inputs and flags>/, removing the kind's older builds."""
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in inputs:
        digest.update(path.name.encode() + path.read_bytes())
    out = BUILD / kind / digest.hexdigest()[:16]
    for stale in (p for p in (BUILD / kind).glob("*") if p != out):
        shutil.rmtree(stale, ignore_errors=True)
    return out


def _build(kind: str, name: str, flags: list[str], plain: list[Path], checked: list[Path] = (),
           sanitize: list[str] = (), link: list[str] = ()) -> Path:
    """Compile `plain` with `flags`, and csrc's .cu files (launches rewritten) plus `checked` with
    `flags + sanitize`; link them into build/cuda_emulator/<kind>/<hash>/<name>."""
    inputs = sorted(CSRC.rglob("*.[ch]*")) + sorted(EMULATOR.glob("*.[ch]*"))
    out = _fresh_dir(kind, inputs, [*flags, *sanitize, *link])
    target = out / name
    if target.is_file():
        return target
    out.mkdir(parents=True, exist_ok=True)
    checked = list(checked)
    for cu in CSRC.rglob("*.cu"):  # the kernels (and cuda_info), as C++ with emulator launches
        rewritten = out / (cu.stem + "_emulated.cpp")
        rewritten.write_text(f'#include "cuda_runtime_api.h"\n{rewrite_launches(cu.read_text())}')
        checked.append(rewritten)
    jobs = [(src, [*flags, *(sanitize if src in checked else ())]) for src in [*plain, *checked]]
    objects = [out / f"{i}_{src.stem}.o" for i, (src, _) in enumerate(jobs)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_compile, [["g++", *f, "-c", str(src), "-o", str(o)] for (src, f), o in zip(jobs, objects)]))
    _compile(["g++", *flags, *sanitize, *map(str, objects), *link, "-o", str(target) + ".tmp"])
    Path(str(target) + ".tmp").rename(target)
    return target


def build_emulated_module() -> Path:
    """The emulated kitpose._C: module.cpp, the bindings and CPU twins, the rewritten kernels."""
    import pybind11

    flags = [*COMMON_FLAGS, "-O1", "-fPIC", f"-DKITPOSE_KMEDOIDS_GRID_Z={GRID_Z}",
             f"-I{sysconfig.get_paths()['include']}", f"-I{pybind11.get_include()}"]
    name = f"_C{sysconfig.get_config_var('EXT_SUFFIX')}"
    return _build("module", name, flags, plain=sorted(CSRC.rglob("*.cpp")), link=["-shared"])


def build_sanitized_driver(sanitizer: str) -> Path:
    """tests/cuda_emulator/sanitize_driver.cpp, the rewritten kernels and the argument checks they share
    with the CPU twins (csrc/<op>/<op>_params.cpp) built with -fsanitize=`sanitizer`.

    No CPU twin is linked: the CUDA twins need only their `<op>_params.cpp`, as a TensorRT plugin would.
    """
    flags = [*COMMON_FLAGS, "-O1", "-g", "-fno-omit-frame-pointer", f"-DKITPOSE_KMEDOIDS_GRID_Z={GRID_Z}"]
    return _build(sanitizer.replace(",", "_"), "sanitize_driver", flags, plain=[],
                  checked=[EMULATOR / "sanitize_driver.cpp", *sorted(CSRC.glob("*/*_params.cpp"))],
                  sanitize=[f"-fsanitize={sanitizer}"])


def load_emulated_module() -> ModuleType:
    """Build (or reuse) the emulated module and import it under its own name, beside the real one."""
    spec = importlib.util.spec_from_file_location("_C", build_emulated_module())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
