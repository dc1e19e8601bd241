"""DARK decoding: hand-checkable edge cases, sub-pixel Gaussians, a cv2 oracle, the front's checks, twins."""
import sys
import types

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import TOLERANCES, cpu_and_cuda, gaussian_map, heatmap_cases, random_heatmaps
import kitpose.native
import kitpose.ops
from kitpose.native import NativeUnavailableError
from kitpose.ops import available_backends, dark_decode, dispatch
from kitpose.ops.reference import gaussian_kernel_1d


def dark_oracle(hm: np.ndarray, k: int = 11) -> tuple[float, float, float]:
    """Independent per-map DARK in float64 NumPy + cv2 (pad, blur, crop as the official code does)."""
    hm = np.where(np.isnan(hm), 0.0, hm).astype(np.float64)
    h, w = hm.shape
    idx = int(np.argmax(hm))
    maxval = float(hm.flat[idx])
    if maxval <= 0:
        return 0.0, 0.0, maxval
    px, py = idx % w, idx // w
    r = (k - 1) // 2
    blurred = cv2.GaussianBlur(np.pad(hm, r), (k, k), opencv4_sigma(k))[r:-r, r:-r]
    if blurred.max() <= 0 or not (1 < px < w - 2 and 1 < py < h - 2):
        return float(px), float(py), maxval
    lm = np.log(np.maximum(blurred * (maxval / blurred.max()), 1e-10))
    grad = np.array([0.5 * (lm[py, px + 1] - lm[py, px - 1]), 0.5 * (lm[py + 1, px] - lm[py - 1, px])])
    dxx = 0.25 * (lm[py, px + 2] - 2 * lm[py, px] + lm[py, px - 2])
    dyy = 0.25 * (lm[py + 2, px] - 2 * lm[py, px] + lm[py - 2, px])
    dxy = 0.25 * (lm[py + 1, px + 1] - lm[py - 1, px + 1] - lm[py + 1, px - 1] + lm[py - 1, px - 1])
    hess = np.array([[dxx, dxy], [dxy, dyy]])
    if dxx * dyy - dxy * dxy == 0:
        return float(px), float(py), maxval
    off = -np.linalg.inv(hess) @ grad
    return px + off[0], py + off[1], maxval


def opencv4_sigma(k: int) -> float:
    """The sigma argument that gives OpenCV 4's sigma=0 taps on any OpenCV (5 also tabulates k = 9)."""
    return 0.0 if k <= 7 else 0.3 * ((k - 1) * 0.5 - 1) + 0.8


def oracle_batch(maps: np.ndarray, k: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, H, W) -> coords (N, K, 2), scores (N, K) from `dark_oracle`, float64."""
    n, kk = maps.shape[:2]
    out = np.array([[dark_oracle(maps[i, j], k) for j in range(kk)] for i in range(n)])  # (N, K, 3)
    return out[..., :2], out[..., 2]


# --------------------------------------------------------------------------- hand-checkable cases

# (x, y) each case must decode to, from the rule alone (no oracle): border and degenerate maps keep the
# integer argmax or (0, 0); the interior cases are checked against the oracle and the true centre below.
EXPECTED_XY = {
    "flat_positive": (0.0, 0.0),  # argmax tie -> first pixel, a border point
    "all_zero": (0.0, 0.0),  # max <= 0
    "all_negative": (0.0, 0.0),
    "all_nan": (0.0, 0.0),  # NaN -> 0, then max <= 0
    "peak_corner": (0.0, 0.0),
    "peak_right_edge": (19.0, 7.0),  # w = 20
    "peak_next_to_edge": (1.0, 7.0),  # px = 1 is not > 1
    "peak_bottom_inner_border": (8.0, 14.0),  # h = 16, py = h - 2 is not < h - 2
    "small_peak_in_negative": (9.0, 6.0),  # the blurred max is <= 0: argmax kept
}
EXPECTED_SCORE = {"flat_positive": 0.5, "all_zero": 0.0, "all_nan": 0.0, "peak_corner": 1.0,
                  "small_peak_in_negative": np.float32(0.01)}


@pytest.mark.parametrize("name", sorted(EXPECTED_XY), ids=str)
def test_degenerate_and_border_maps_keep_the_defined_answer(name):
    maps = heatmap_cases()[name]
    coords, scores = dark_decode(maps, backend="reference")
    np.testing.assert_array_equal(coords[0, 0], np.array(EXPECTED_XY[name], np.float32))
    assert np.isfinite(coords).all()
    if name in EXPECTED_SCORE:
        assert scores[0, 0] == np.float32(EXPECTED_SCORE[name])
    assert scores[0, 0] == np.float32(np.nanmax(np.where(np.isnan(maps), 0, maps)))


def test_negative_map_scores_its_maximum():
    maps = heatmap_cases()["all_negative"]
    _, scores = dark_decode(maps, backend="reference")
    assert scores[0, 0] == maps.max() and scores[0, 0] < 0


def test_nan_entries_count_as_zero():
    maps = heatmap_cases()["nan_containing"]
    coords, scores = dark_decode(maps, backend="reference")
    zeroed, _ = dark_decode(np.nan_to_num(maps, nan=0.0), backend="reference")
    np.testing.assert_array_equal(coords, zeroed)
    assert np.isfinite(coords).all() and np.isfinite(scores).all()


def test_peak_at_an_integer_pixel_needs_no_offset():
    coords, _ = dark_decode(gaussian_map(21, 25, (12.0, 10.0))[None, None], backend="reference")
    np.testing.assert_allclose(coords[0, 0], [12.0, 10.0], atol=1e-9)


def test_argmax_ties_go_to_the_lowest_flat_index():
    maps = np.zeros((1, 1, 6, 7), np.float32)
    maps[0, 0, 4, 0] = maps[0, 0, 0, 6] = 1.0  # both on the border, so no Taylor step
    coords, _ = dark_decode(maps, backend="reference")
    np.testing.assert_array_equal(coords[0, 0], [6.0, 0.0])


def test_one_pixel_map():
    coords, scores = dark_decode(np.full((2, 3, 1, 1), 0.7, np.float32), backend="reference")
    assert (coords == 0).all() and np.allclose(scores, 0.7)


# --------------------------------------------------------------------------- sub-pixel accuracy and oracle

@pytest.mark.parametrize("centre", [(20.3, 30.7), (9.5, 6.5), (31.9, 12.05), (5.25, 40.8)],
                         ids=lambda c: f"x{c[0]}_y{c[1]}")
@pytest.mark.parametrize("sigma", [1.5, 2.0, 3.0], ids=lambda s: f"sigma{s}")
def test_subpixel_gaussian_centre_is_recovered(centre, sigma):
    maps = gaussian_map(64, 48, centre, sigma)[None, None].astype(np.float32)
    coords, scores = dark_decode(maps, backend="reference")
    np.testing.assert_allclose(coords[0, 0], centre, atol=TOLERANCES["dark_subpixel_px"])
    assert scores[0, 0] == maps.max()


@pytest.mark.parametrize("name", sorted(heatmap_cases()), ids=str)
def test_edge_cases_match_the_cv2_oracle(name):
    maps = heatmap_cases()[name]
    coords, scores = dark_decode(maps, backend="reference")
    want_xy, want_score = oracle_batch(maps)
    np.testing.assert_allclose(coords, want_xy, atol=TOLERANCES["dark_oracle_px"])
    np.testing.assert_array_equal(scores, want_score.astype(np.float32))


@pytest.mark.parametrize("kernel", [3, 5, 7, 9, 11, 15], ids=lambda k: f"k{k}")
@pytest.mark.parametrize("seed", [0, 1], ids=lambda s: f"seed{s}")
def test_random_maps_match_the_cv2_oracle(kernel, seed):
    maps = random_heatmaps(seed, (2, 5, 24, 20))
    coords, scores = dark_decode(maps, blur_kernel=kernel, backend="reference")
    want_xy, want_score = oracle_batch(maps, kernel)
    np.testing.assert_allclose(coords, want_xy, atol=TOLERANCES["dark_oracle_px"])
    np.testing.assert_array_equal(scores, want_score.astype(np.float32))


@pytest.mark.parametrize("kernel", [3, 5, 7, 9, 11, 15], ids=lambda k: f"k{k}")
def test_blur_taps_are_opencvs_sigma_zero_taps(kernel):
    # the official code calls cv2.GaussianBlur with sigma 0 under OpenCV 4: tables up to 7, then the formula
    want = cv2.getGaussianKernel(kernel, opencv4_sigma(kernel), ktype=cv2.CV_64F).ravel()
    np.testing.assert_allclose(gaussian_kernel_1d(kernel).numpy(), want, rtol=0, atol=1e-15)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 2), k=st.integers(1, 3), h=st.integers(1, 24), w=st.integers(1, 24),
       seed=st.integers(0, 2**16), offset=st.floats(-1.0, 0.5))
def test_random_shapes_match_the_oracle_and_stay_finite(n, k, h, w, seed, offset):
    maps = (np.random.default_rng(seed).random((n, k, h, w)) + offset).astype(np.float32)
    coords, scores = dark_decode(maps, backend="reference")
    want_xy, want_score = oracle_batch(maps)
    assert coords.shape == (n, k, 2) and coords.dtype == np.float32 and np.isfinite(coords).all()
    # noise maps can have a near-singular Hessian, so the tolerance scales with the offset size
    np.testing.assert_allclose(coords, want_xy, rtol=1e-6, atol=TOLERANCES["dark_oracle_px"])
    np.testing.assert_array_equal(scores, want_score.astype(np.float32))


# --------------------------------------------------------------------------- front: types, dtypes, errors

def test_fp16_input_decodes_like_its_float32_values():
    maps = random_heatmaps(3, (2, 4, 16, 16)).astype(np.float16)
    got = dark_decode(torch.from_numpy(maps), backend="reference")
    want = dark_decode(torch.from_numpy(maps.astype(np.float32)), backend="reference")
    assert got[0].dtype == torch.float32 and got[1].dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_numpy_in_numpy_out_and_torch_in_torch_out():
    maps = random_heatmaps(4, (2, 3, 12, 10))
    np_coords, np_scores = dark_decode(maps, backend="reference")
    t_coords, t_scores = dark_decode(torch.from_numpy(maps), backend="reference")
    assert isinstance(np_coords, np.ndarray) and isinstance(t_coords, torch.Tensor)
    assert np_coords.shape == (2, 3, 2) and np_scores.shape == (2, 3)
    np.testing.assert_array_equal(np_coords, t_coords.numpy())
    np.testing.assert_array_equal(np_scores, t_scores.numpy())


def test_empty_batch_gives_empty_outputs():
    coords, scores = dark_decode(np.zeros((0, 17, 64, 48), np.float32), backend="reference")
    assert coords.shape == (0, 17, 2) and scores.shape == (0, 17) and coords.dtype == np.float32


@pytest.mark.parametrize("maps,kwargs,error,words", [
    (np.zeros((17, 64, 48), np.float32), {}, ValueError, ["heatmaps", "(17, 64, 48)"]),
    (np.zeros((1, 1, 17, 64, 48), np.float32), {}, ValueError, ["heatmaps", "(1, 1, 17, 64, 48)"]),
    (np.zeros((1, 17, 64, 48), np.int64), {}, TypeError, ["heatmaps", "int64"]),
    (torch.zeros(1, 17, 64, 48, dtype=torch.bool), {}, TypeError, ["heatmaps", "bool"]),
    (np.zeros((1, 0, 64, 48), np.float32), {}, ValueError, ["heatmaps", "(1, 0, 64, 48)"]),
    (np.zeros((1, 2, 0, 48), np.float32), {}, ValueError, ["heatmaps", "(1, 2, 0, 48)"]),
    (np.zeros((1, 2, 8, 8), np.float32), {"blur_kernel": 10}, ValueError, ["blur_kernel", "10"]),
    (np.zeros((1, 2, 8, 8), np.float32), {"blur_kernel": 1}, ValueError, ["blur_kernel", "1"]),
    (np.zeros((1, 2, 8, 8), np.float32), {"blur_kernel": 11.0}, TypeError, ["blur_kernel"]),
    (np.zeros((1, 2, 8, 8), np.float32), {"backend": "gpu"}, ValueError, ["backend", "gpu"]),
    ([[[[0.0]]]], {}, TypeError, ["heatmaps", "list"]),
], ids=["rank3", "rank5", "int", "bool", "no_keypoints", "no_rows", "even_kernel", "kernel_1",
        "float_kernel", "bad_backend", "list_input"])
def test_bad_arguments_raise_naming_the_argument(maps, kwargs, error, words):
    kwargs = {"backend": "reference", **kwargs}
    with pytest.raises(error) as info:
        dark_decode(maps, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_compiled_backend_missing_says_what_to_build(monkeypatch):
    monkeypatch.setattr(kitpose.native, "load_native", lambda: None)  # kitpose._C not built
    monkeypatch.setattr(dispatch, "load_native", lambda: None)
    with pytest.raises(NativeUnavailableError, match="pip install -e"):
        dark_decode(np.ones((1, 1, 8, 8), np.float32), backend="cpu")


def test_cuda_style_backend_gets_the_documented_arguments(monkeypatch):
    calls = []

    def fake(heatmaps, blur_kernel, device):
        calls.append((heatmaps.dtype, tuple(heatmaps.shape), blur_kernel, device))
        n, k = heatmaps.shape[:2]
        return torch.ones(n, k, 2), torch.ones(n, k)

    fake_module = types.SimpleNamespace(dark_decode=fake)
    monkeypatch.setitem(sys.modules, "kitpose.ops.compiled", fake_module)
    monkeypatch.setattr(kitpose.ops, "compiled", fake_module, raising=False)
    monkeypatch.setattr(dispatch, "require_native", lambda what: None)
    coords, scores = dark_decode(np.zeros((2, 3, 8, 6), np.float16), blur_kernel=5, backend="cpu")
    assert calls == [(torch.float16, (2, 3, 8, 6), 5, "cpu")]
    assert isinstance(coords, np.ndarray) and coords.shape == (2, 3, 2) and scores.shape == (2, 3)


# --------------------------------------------------------------------------- compiled twins vs reference

@pytest.mark.parametrize("device", cpu_and_cuda())
def test_compiled_twin_matches_the_reference(device):
    if device not in available_backends("dark_decode"):
        pytest.skip(f"the compiled dark_decode for {device} is not built (kitpose/ops/compiled.py or kitpose._C)")
    cases = list(heatmap_cases().values()) + [random_heatmaps(5, (1, 6, 64, 48))]
    for maps in cases:
        t = torch.from_numpy(maps).to(device)
        got_xy, got_score = dark_decode(t, backend=device)
        want_xy, want_score = dark_decode(t, backend="reference")
        torch.testing.assert_close(got_xy, want_xy, rtol=0, atol=TOLERANCES["dark_twin_px"])
        torch.testing.assert_close(got_score, want_score, rtol=0, atol=0)


def test_cpu_twin_threaded_batch_equals_its_single_thread_slices():
    """A batch above the threading threshold (2^22 map entries, csrc/dark/dark_cpu.cpp) runs on the
    OpenMP team; small slices stay on the calling thread. Every map is decoded alone, so they agree
    bit for bit."""
    if "cpu" not in available_backends("dark_decode"):
        pytest.skip("the compiled dark_decode for cpu is not built (kitpose._C)")
    rng = np.random.default_rng(11)
    maps = rng.standard_normal((64, 17, 64, 64)).astype(np.float32)  # 4.46 M entries
    maps[:, :, 20:40, 20:40] += 4.0  # a broad bump so the DARK step moves off the integer peaks
    coords, scores = dark_decode(maps, backend="cpu")
    for i in range(0, 64, 4):  # 4 x 17 x 64 x 64 = 0.28 M entries per slice: one thread
        part_xy, part_score = dark_decode(maps[i:i + 4], backend="cpu")
        np.testing.assert_array_equal(coords[i:i + 4], part_xy)
        np.testing.assert_array_equal(scores[i:i + 4], part_score)
