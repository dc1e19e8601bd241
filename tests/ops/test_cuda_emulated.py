"""The CUDA kernels' own code, run on the CPU under an emulated CUDA runtime (tests/cuda_emulator/).

kitpose._C is built a second time from the same csrc/ files with KITPOSE_WITH_CUDA, the `<<<...>>>`
launches rewritten into emulator calls and tests/cuda_emulator/ in place of CUDA's headers: one OS
thread per CUDA thread, real barriers for __syncthreads/__syncwarp, warp shuffles through a slot
array, the hardware's launch limits checked. Its `*_cuda` entry points then take host pointers, and
are compared with the reference ops and the CPU twins on the cases the GPU tests use.

This checks the kernels' indexing, reductions, tie rules, barriers and launch configurations without
a GPU. It cannot show the GPU memory model, races this schedule happens to order, or speed: those are
the GPU's tests (`-m cuda`, compute-sanitizer, `make gpu-check`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emulated_cuda import CSRC, EMULATOR, LAUNCH, ROOT, rewrite_launches
from helpers import (DARK_MAP_KINDS, TOLERANCES, assert_kmedoids_like_reference, heatmap_cases, hypothesis_heatmaps,
                     hypothesis_points, point_cases, random_affine, random_heatmaps, random_points)
from kitpose.ops import compiled
from kitpose.ops.reference import dark_reference

HYP = settings(max_examples=15, deadline=None)  # each example starts thousands of emulated threads
DARK_PX = TOLERANCES["dark_twin_px"]  # DARK coordinates within 1e-4 px of the reference


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


# ----------------------------------------------------------------------------- the rewrite itself

def test_launch_rewrite_keeps_grid_block_and_arguments():
    src = "k<<<dim3(t, t, static_cast<unsigned>(q.batch)), dim3(16, 16), 0, stream>>>(q, x, g);"
    assert rewrite_launches(src) == ("::emu::launch(dim3(t, t, static_cast<unsigned>(q.batch)), dim3(16, 16), "
                                     "[&] { k(q, x, g); });")


def test_every_cuda_source_launch_is_rewritten():
    for cu in CSRC.rglob("*_cuda.cu"):
        text = cu.read_text()
        assert LAUNCH.search(text), f"{cu.name}: no kernel launch found"
        assert "<<<" not in rewrite_launches(text), f"{cu.name}: a launch the rewrite does not understand"


def test_undefined_barrier_use_is_an_error_not_a_hang(tmp_path):
    """Threads meeting at barriers on different lines, and a barrier some threads never reach, fail
    the launch with a message; a well-formed kernel on the same emulator runs clean."""
    if shutil.which("g++") is None:
        pytest.skip("needs g++ to build the emulated kernels")
    exe = tmp_path / "divergence_probe"
    subprocess.run(["g++", "-std=c++20", "-pthread", f"-I{EMULATOR}", str(EMULATOR / "divergence_probe.cpp"),
                    "-o", str(exe)], check=True, capture_output=True, timeout=300)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "EMU_BARRIER_TIMEOUT_S": "1"})
    lines = dict(line.split(": ", 1) for line in run.stdout.splitlines())
    assert "divergent __syncthreads" in lines["split"] and "divergence_probe.cpp:11" in lines["split"]
    assert "before the timeout" in lines["shuffle"]
    assert lines["uniform"] == "no error"


# ----------------------------------------------------------------------------- k-medoids

def emulated_kmedoids(cuda_emu, x: np.ndarray, c: int, iters: int = 40) -> tuple[np.ndarray, ...]:
    x = np.ascontiguousarray(x, np.float32)
    b, n, d = x.shape
    assign, medoids = np.empty((b, n), np.int64), np.empty((b, c), np.int64)
    means = np.empty((b, c, d), np.float32)
    workspace = np.empty(cuda_emu.kmedoids_workspace_bytes(b, n, d, c), np.uint8)
    cuda_emu.kmedoids_cuda(_ptr(x), _ptr(assign), _ptr(medoids), _ptr(means), _ptr(workspace), b, n, d, c, iters, 0)
    return assign, medoids, means


@pytest.mark.parametrize("name", list(point_cases()))
def test_kmedoids_kernels_match_the_reference_on_edge_cases(cuda_emu, name):
    x, c = point_cases()[name]
    assert_kmedoids_like_reference(x, c, *emulated_kmedoids(cuda_emu, x, c))


@pytest.mark.parametrize("b,n,d,c", [(8, 17, 64, 4), (5, 64, 33, 8), (4, 17, 1024, 4), (7, 3, 2, 1)])
def test_kmedoids_kernels_match_the_reference_and_the_cpu_twin(cuda_emu, b, n, d, c):
    """Batches above GRID_Z run in chunks; N = 64 fills the cluster kernel's shared distance matrix."""
    x = random_points(b * n + d, (b, n, d))
    got = emulated_kmedoids(cuda_emu, x, c)
    assert_kmedoids_like_reference(x, c, *got)
    cpu = compiled.kmedoids_with_means(x, c, 40, device="cpu")
    np.testing.assert_allclose(got[2], cpu[2], rtol=1e-5, atol=1e-6)


@given(b=st.integers(1, 5), n=st.integers(1, 64), d=st.sampled_from([1, 3, 8, 17, 100]),
       c=st.integers(1, 8), seed=st.integers(0, 2**31 - 1), clustered=st.booleans())
@HYP
def test_kmedoids_kernels_match_the_reference_on_random_shapes(cuda_emu, b, n, d, c, seed, clustered):
    c = min(c, n)
    x = hypothesis_points(seed, b, n, d, c, clustered)
    assert_kmedoids_like_reference(x, c, *emulated_kmedoids(cuda_emu, x, c))


def test_kmedoids_kernels_leave_medoids_fixed_after_convergence(cuda_emu):
    x = random_points(3, (6, 17, 48))
    once = emulated_kmedoids(cuda_emu, x, 4, iters=40)
    again = emulated_kmedoids(cuda_emu, x, 4, iters=200)
    for a, b in zip(once, again):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- DARK

def emulated_dark(cuda_emu, maps: np.ndarray, affine: np.ndarray | None = None, kernel: int = 11):
    half = maps.dtype == np.float16
    maps = np.ascontiguousarray(maps)
    n, k, h, w = maps.shape
    coords, scores = np.empty((n, k, 2), np.float32), np.empty((n, k), np.float32)
    rows = None if affine is None else np.ascontiguousarray(affine, np.float32)
    cuda_emu.dark_decode_cuda(_ptr(maps), 0 if rows is None else _ptr(rows), _ptr(coords), _ptr(scores),
                              n, k, h, w, kernel, half, 0)
    return coords, scores


def assert_dark_like_reference(cuda_emu, maps: np.ndarray, kernel: int = 11) -> None:
    """Emulated DARK kernel vs dark_reference: coordinates within DARK_PX, scores exact."""
    coords, scores = emulated_dark(cuda_emu, maps, kernel=kernel)
    ref_coords, ref_scores = dark_reference(torch.from_numpy(maps), kernel)
    np.testing.assert_allclose(coords, ref_coords.numpy(), atol=DARK_PX, rtol=0)
    np.testing.assert_array_equal(scores, ref_scores.numpy())


@pytest.mark.parametrize("name", list(heatmap_cases()))
def test_dark_kernel_matches_the_reference_on_edge_cases(cuda_emu, name):
    assert_dark_like_reference(cuda_emu, heatmap_cases()[name].astype(np.float32))


@pytest.mark.parametrize("half", [False, True], ids=["fp32", "fp16"])
@pytest.mark.parametrize("kernel", [11, 5])
def test_dark_kernel_matches_the_reference_on_random_maps(cuda_emu, half, kernel):
    maps = random_heatmaps(7, (3, 17, 64, 48))
    maps[0, 0] = np.where(maps[0, 0] > 0.9, maps[0, 0], -0.5)  # the clamp path (whole-map blurred max)
    assert_dark_like_reference(cuda_emu, maps.astype(np.float16) if half else maps, kernel)


@given(n=st.integers(1, 3), k=st.integers(1, 4), h=st.integers(1, 40), w=st.integers(1, 40),
       seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(DARK_MAP_KINDS))
@HYP
def test_dark_kernel_matches_the_reference_on_random_shapes(cuda_emu, n, k, h, w, seed, kind):
    assert_dark_like_reference(cuda_emu, hypothesis_heatmaps(seed, (n, k, h, w), kind))


@pytest.mark.parametrize("kernel", [11, 5])
def test_dark_kernel_clamp_path_equals_the_cpu_twin_bit_for_bit(cuda_emu, kernel):
    """Peaks in a negative background: every map's Taylor points straddle zero, so every map takes the
    whole-map blurred maximum (the clamp path). Both twins evaluate the same blur terms in the same
    order and neither build contracts to FMA, so their coordinates are identical, not merely close:
    a kernel that sums the wrong rows moves the maximum a little and fails here."""
    maps = random_heatmaps(11, (4, 17, 64, 48))
    maps = np.where(maps > 0.9, maps, -0.5).astype(np.float32)
    got, got_scores = emulated_dark(cuda_emu, maps, kernel=kernel)
    want, want_scores = compiled.dark_decode(maps, kernel)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_scores, want_scores)


def test_dark_kernel_maps_back_to_the_image_like_the_cpu_twin(cuda_emu):
    maps = random_heatmaps(9, (5, 17, 64, 48))
    rng = np.random.default_rng(9)
    center, scale = rng.uniform(50, 500, (5, 2)), rng.uniform(0.5, 2.0, (5, 2))
    rotation = rng.uniform(-45, 45, (5, 1))
    affine = np.concatenate([center, scale, rotation], axis=1)
    got, _ = emulated_dark(cuda_emu, maps, affine)
    want, _ = compiled.dark_decode(maps, center=center, scale=scale, rotation=rotation)
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=0)


# ----------------------------------------------------------------------------- warp

def assert_warp_like_cpu_twin(cuda_emu, frame: np.ndarray, mats: np.ndarray, out_hw: tuple[int, int],
                              swap_rb: bool) -> None:
    """Emulated warp kernel (B, 3, h, w) vs the C++ CPU twin, ImageNet normalisation, within 1e-5."""
    mean, std = compiled.IMAGENET_MEAN, compiled.IMAGENET_STD
    out = np.empty((len(mats), 3, *out_hw), np.float32)
    cuda_emu.warp_affine_cuda(_ptr(frame), _ptr(mats), _ptr(out), len(mats), *frame.shape[:2], *out_hw, swap_rb,
                              mean, std, 0)
    want = compiled.warp_affine(frame, mats, out_hw, mean, std, swap_rb=swap_rb)
    np.testing.assert_allclose(out, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("swap_rb", [False, True])
def test_warp_kernel_matches_the_cpu_twin(cuda_emu, swap_rb):
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
    out_hw = (12, 9)
    mats = np.stack([random_affine(rng, frame.shape[:2], out_hw) for _ in range(3)])
    assert_warp_like_cpu_twin(cuda_emu, frame, mats, out_hw, swap_rb)


@given(fh=st.integers(1, 60), fw=st.integers(1, 60), oh=st.integers(1, 24), ow=st.integers(1, 24),
       b=st.integers(1, 3), swap=st.booleans(), seed=st.integers(0, 2**31 - 1))
@HYP
def test_warp_kernel_matches_the_cpu_twin_on_random_shapes(cuda_emu, fh, fw, oh, ow, b, swap, seed):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (fh, fw, 3), dtype=np.uint8)
    mats = np.stack([random_affine(rng, (fh, fw), (oh, ow)) for _ in range(b)])
    assert_warp_like_cpu_twin(cuda_emu, frame, mats, (oh, ow), swap)


@pytest.mark.parametrize("call,words", [
    (lambda emu, p: emu.kmedoids_cuda(p, p, p, p, p, 1, 5, 3, 2, 0, 0), ["kmedoids", "max_iters", "0"]),
    (lambda emu, p: emu.dark_decode_cuda(p, 0, p, p, 1, 1, 8, 8, 1, False, 0), ["dark_decode", "blur_kernel", "1"]),
    (lambda emu, p: emu.warp_affine_cuda(p, p, p, 1, 0, 4, 2, 2, False, [0, 0, 0], [1, 1, 1], 0), ["warp_affine"]),
], ids=["kmedoids_iters", "dark_kernel", "warp_frame"])
def test_cuda_entry_points_refuse_bad_sizes_with_a_status_the_binding_raises(cuda_emu, call, words):
    """The CUDA twins return cudaErrorInvalidValue without launching (no throw: they can sit in a
    TensorRT plugin); the binding turns that into the ValueError the CPU twins raise, with its reason."""
    scratch = np.zeros(64, np.float32)
    with pytest.raises(ValueError) as info:
        call(cuda_emu, _ptr(scratch))
    for word in words:
        assert word in str(info.value)


def test_emulated_module_is_a_separate_build():
    """The emulated build never replaces the real kitpose._C."""
    import kitpose._C

    assert Path(kitpose._C.__file__).parent == ROOT / "kitpose" and "_C" not in sys.modules
