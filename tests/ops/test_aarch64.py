"""The C++ CPU twins built for aarch64 (Debian's cross g++) and run under qemu-aarch64 give the x86-64
build's results on the same inputs: k-medoids assignments and medoids identical, DARK within 1e-4 px,
the warp within one 8-bit level (both builds compute without FMA contraction, so in practice every
output is bit-identical). The SIMD loops the x86 build vectorises are vectorised with NEON too.

Builds: tests/cross_build.py (the project's CMake, cmake/aarch64-linux-gnu.cmake). The tools come from
`make cross-tools`, which `make test` runs first; without them these tests skip, saying which is missing.
The emulated run's time is printed as what it is: emulation on an x86 host, not an ARM CPU's speed.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cross_build import PY_HEADERS, ROOT, build, missing_tools, run_driver
from helpers import (DARK_MAP_KINDS, TOLERANCES, heatmap_cases, hypothesis_heatmaps, hypothesis_points, point_cases,
                     random_affine, random_heatmaps)

DARK_PX = TOLERANCES["dark_twin_px"]  # DARK coordinates of the two builds within 1e-4 px
WARP_LEVELS = 1.0   # brief: the warp within one 8-bit level
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CSRC = ROOT / "csrc"

pytestmark = pytest.mark.skipif(bool(missing_tools("aarch64")),
                                reason=f"needs {missing_tools('aarch64')} (make cross-tools installs them)")


def _i64(*v) -> bytes:
    return np.array(v, np.int64).tobytes()


def kmedoids_case(x: np.ndarray, c: int) -> tuple[bytes, list]:
    b, n, d = x.shape
    return _i64(0, b, n, d, c, 40) + np.ascontiguousarray(x, np.float32).tobytes(), \
        [("assign", np.int64, (b, n)), ("medoids", np.int64, (b, c)), ("means", np.float32, (b, c, d))]


def dark_case(maps: np.ndarray, half: bool, affine: np.ndarray | None, kernel: int = 11) -> tuple[bytes, list]:
    n, k, h, w = maps.shape
    data = maps.astype(np.float16).view(np.uint16) if half else maps.astype(np.float32)
    extra = b"" if affine is None else affine.astype(np.float32).tobytes()
    return _i64(1, n, k, h, w, kernel, int(half), int(affine is not None)) + data.tobytes() + extra, \
        [("coords", np.float32, (n, k, 2)), ("scores", np.float32, (n, k))]


def warp_case(frame: np.ndarray, mats: np.ndarray, out_hw: tuple[int, int], swap: bool) -> tuple[bytes, list]:
    (fh, fw, _), b = frame.shape, len(mats)
    stats = np.array([*MEAN, *STD], np.float32).tobytes()
    return _i64(2, b, fh, fw, *out_hw, int(swap)) + stats + frame.tobytes() + mats.astype(np.float64).tobytes(), \
        [("out", np.float32, (b, 3, *out_hw))]


def cases() -> list[tuple[str, str, bytes, list]]:
    """(op, name, record, output layout) for the twins' test cases (tests/ops/test_compiled.py's kinds)."""
    out = [("kmedoids", name, *kmedoids_case(x, c)) for name, (x, c) in point_cases().items()]
    for seed, (b, n, d, c, clustered) in enumerate([(3, 17, 64, 4, True), (2, 64, 257, 8, False),
                                                    (5, 8, 33, 8, True), (1, 1, 1, 1, False), (4, 17, 100, 5, False)]):
        out.append(("kmedoids", f"random{seed}", *kmedoids_case(hypothesis_points(seed, b, n, d, min(c, n), clustered),
                                                                min(c, n))))
    out += [("dark", name, *dark_case(m, False, None)) for name, m in heatmap_cases().items()]
    rng = np.random.default_rng(0)
    for seed, kind in enumerate(DARK_MAP_KINDS):
        out.append(("dark", kind, *dark_case(hypothesis_heatmaps(seed, (2, 3, 37, 29), kind), False, None)))
    maps = random_heatmaps(7, (3, 17, 64, 48))
    affine = np.column_stack([rng.uniform(50, 300, (3, 2)), rng.uniform(0.5, 2, (3, 2)), rng.uniform(-30, 30, 3)])
    out += [("dark", "fp16_affine", *dark_case(maps, True, affine)), ("dark", "fp32_affine", *dark_case(maps, False, affine)),
            ("dark", "kernel3", *dark_case(maps[:1], False, None, kernel=3))]
    for seed, (fh, fw, oh, ow, b, swap) in enumerate([(90, 70, 40, 32, 3, True), (37, 53, 9, 11, 4, False),
                                                      (1, 1, 5, 5, 1, False), (480, 640, 128, 128, 2, True)]):
        r = np.random.default_rng(seed)
        frame = r.integers(0, 256, (fh, fw, 3), dtype=np.uint8)
        mats = np.stack([random_affine(r, (fh, fw), (oh, ow)) for _ in range(b)])
        out.append(("warp", f"warp{seed}", *warp_case(frame, mats, (oh, ow), swap)))
    return out


def split_outputs(blob: bytes, layouts: list[list]) -> list[dict[str, np.ndarray]]:
    """The driver's concatenated outputs, one dict per case."""
    got, pos = [], 0
    for layout in layouts:
        arrays = {}
        for name, dtype, shape in layout:
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            arrays[name] = np.frombuffer(blob[pos:pos + size], dtype).reshape(shape)
            pos += size
        got.append(arrays)
    assert pos == len(blob), f"driver wrote {len(blob)} bytes, the cases account for {pos}"
    return got


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """{arch: [outputs per case]} plus the case list, both builds run on the same case file."""
    if missing_tools("x86_64"):
        pytest.skip(f"needs {missing_tools('x86_64')}")
    all_cases = cases()
    blob = b"".join(c[2] for c in all_cases)
    work = tmp_path_factory.mktemp("cross")
    result = {}
    for arch in ("x86_64", "aarch64"):
        out, seconds = run_driver(arch, build(arch), blob, work)
        result[arch] = split_outputs(out, [c[3] for c in all_cases])
        print(f"\ntwin_driver {arch}{' (emulated by qemu-aarch64 on x86-64)' if arch == 'aarch64' else ''}: "
              f"{len(all_cases)} cases in {seconds:.2f} s")
    return all_cases, result


def _by_op(outputs, op):
    all_cases, result = outputs
    return [(c[1], result["x86_64"][i], result["aarch64"][i]) for i, c in enumerate(all_cases) if c[0] == op]


def test_kmedoids_assignments_identical(outputs):
    for name, x86, arm in _by_op(outputs, "kmedoids"):
        np.testing.assert_array_equal(arm["assign"], x86["assign"], err_msg=name)
        np.testing.assert_array_equal(arm["medoids"], x86["medoids"], err_msg=name)
        np.testing.assert_allclose(arm["means"], x86["means"], rtol=1e-6, atol=1e-7, err_msg=name)


def test_dark_within_1e4_px(outputs):
    for name, x86, arm in _by_op(outputs, "dark"):
        np.testing.assert_allclose(arm["coords"], x86["coords"], atol=DARK_PX, rtol=0, err_msg=name)
        np.testing.assert_array_equal(arm["scores"], x86["scores"], err_msg=name)


def test_warp_within_one_level(outputs):
    std = np.array(STD, np.float32)[None, :, None, None]
    for name, x86, arm in _by_op(outputs, "warp"):
        levels = np.abs(arm["out"] - x86["out"]) * std * 255.0  # back to uint8 units
        assert levels.max() <= WARP_LEVELS + 1e-3, f"{name}: {levels.max():.3f} levels apart"


def test_every_output_is_bit_identical(outputs):
    """Stronger than the brief's tolerances: no contraction on either side, same expression order."""
    all_cases, result = outputs
    differ = [c[1] for i, c in enumerate(all_cases)
              if any(result["x86_64"][i][k].tobytes() != result["aarch64"][i][k].tobytes() for k in result["x86_64"][i])]
    assert not differ, f"outputs differ in bits (still within tolerance?) for {differ}"


def _vector_ops(objdump: str, tool: str, pattern: str) -> dict[str, int]:
    """Function name -> count of disassembled instructions matching `pattern`."""
    counts, name = {}, None
    for line in subprocess.run([tool, "-d", "--no-show-raw-insn", "-C", objdump], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        if m := re.match(r"^[0-9a-f]+ <(.*)>:$", line):
            name = m[1]
        elif name and re.search(pattern, line):
            counts[name] = counts.get(name, 0) + 1
    return counts


NEON = r"\t(fmul|fadd|fcmeq|fcmgt|fmax|fmaxnm|bsl|bif|bit)\s+v\d+\.(4s|2d)"
AVX = r"\tv(mulps|addps|maxps|cmpps|blendvps)\s.*%ymm"


@pytest.mark.parametrize("source,function", [("dark/dark_cpu.cpp", "decode_all"),
                                             ("kmedoids/kmedoids_cpu.cpp", "kmedoids_instance")])
def test_simd_loops_are_neon_vectorised(source, function):
    """dark's NaN-cleaning max/first-index passes (GCC vector types) and the k-medoids Gram tile
    (8-lane partial sums; an AVX2 clone on x86) compile to 128-bit NEON vector arithmetic."""
    obj = build("aarch64") / "CMakeFiles" / "kitpose_cpu.dir" / "csrc" / (source + ".o")
    counts = _vector_ops(str(obj), "aarch64-linux-gnu-objdump", NEON)
    assert sum(v for k, v in counts.items() if function in k) >= 8, f"no NEON arithmetic in {function}: {counts}"


def test_x86_build_has_its_avx2_gram_clone():
    obj = build("x86_64") / "CMakeFiles" / "kitpose_cpu.dir" / "csrc" / "kmedoids" / "kmedoids_cpu.cpp.o"
    counts = _vector_ops(str(obj), "objdump", AVX)
    assert any("dot_tile" in k and "avx2" in k for k in counts), f"no AVX2 clone of dot_tile: {list(counts)}"


@pytest.mark.skipif(not (PY_HEADERS / "Python.h").is_file(),
                    reason="no aarch64 CPython headers (make cross-tools fetches Debian's libpython3-dev:arm64)")
def test_kitpose_C_itself_builds_for_aarch64():
    """kitpose._C cross-built against Debian's arm64 CPython headers: an aarch64 module with its init
    symbol. (Importing it needs an aarch64 CPython, which is not installed here.)"""
    so = next(build("aarch64").glob("_C.cpython-*-aarch64-linux-gnu.so"))
    header = subprocess.run(["aarch64-linux-gnu-readelf", "-h", str(so)], capture_output=True, text=True).stdout
    assert "AArch64" in header
    symbols = subprocess.run(["aarch64-linux-gnu-nm", "-D", "--defined-only", str(so)], capture_output=True,
                             text=True).stdout
    assert "PyInit__C" in symbols


def _cuda_include() -> Path | None:
    """The toolkit's include folder beside the real nvcc (PATH may hold a wrapper script)."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    for line in Path(nvcc).read_text(errors="replace").splitlines()[:5] if Path(nvcc).stat().st_size < 4096 else []:
        if m := re.search(r"exec\s+(\S+/bin/nvcc)", line):
            nvcc = m[1]
    include = Path(nvcc).resolve().parents[1] / "include"
    return include if (include / "cuda_runtime.h").is_file() else None


@pytest.mark.skipif(_cuda_include() is None, reason="needs nvcc and the CUDA headers")
@pytest.mark.parametrize("source", sorted(p.relative_to(CSRC).as_posix() for p in CSRC.glob("*/*.cu")))
def test_cuda_twins_cross_compile_for_jetson_orin(source, tmp_path):
    """x86 nvcc with the aarch64 g++ as host compiler: each .cu becomes an aarch64 object with sm_87
    device code (Jetson Orin) and its kernels' launch stubs. Linking kitpose._C for a Jetson needs an
    aarch64 libcudart (JetPack's), which no registry reachable here provides for CUDA 13."""
    obj = tmp_path / "op.o"
    run = subprocess.run(["nvcc", "-ccbin", "aarch64-linux-gnu-g++", "-std=c++17", "--expt-relaxed-constexpr",
                          "-arch=sm_87", f"-I{_cuda_include()}", f"-I{CSRC}", "-c", str(CSRC / source), "-o",
                          str(obj)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    header = subprocess.run(["aarch64-linux-gnu-readelf", "-h", "-S", str(obj)], capture_output=True,
                            text=True).stdout
    assert "AArch64" in header and ".nv_fatbin" in header
    stubs = subprocess.run(["aarch64-linux-gnu-nm", str(obj)], capture_output=True, text=True).stdout
    assert "__device_stub" in stubs
