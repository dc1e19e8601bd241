"""Shared test helpers: tolerances with their reasons, partition comparison, deterministic case generators."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# The project's shared folder sits beside the checkout (CI clones main with shared/ beside it);
# KITPOSE_SHARED overrides it.
SHARED = Path(os.environ.get("KITPOSE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FIXTURES = SHARED / "fixtures" / "real"          # real samples of each dataset format
OFFICIAL_KEYS_TSV = SHARED / "docs" / "official_checkpoint_keys_w32_256x256.tsv"

TOLERANCES = {
    # float64 reference vs an independent float64 NumPy + cv2 oracle: only summation order in the blur
    # and closed-form vs LAPACK 2x2 inverse differ, both ~1e-15 relative before the Taylor step
    "dark_oracle_px": 1e-6,
    # DARK on a clean sub-pixel Gaussian: residual bias from the 11x11 kernel truncation and map edges
    "dark_subpixel_px": 0.05,
    # a float32 twin (CPU, CUDA, emulated CUDA, aarch64 build) vs the float64 reference or another
    # twin: float32 rounding of the log map (~1e-7 relative) is amplified by the finite differences
    # and the Hessian inverse on smooth peaks; the brief's bound, and the one the twins meet
    "dark_twin_px": 1e-4,
    # k-medoids clustering cost (sum of member-to-medoid distances) of two float32 runs that broke a
    # near-tie differently: float32 rounding of N summed distances in [0, 2]
    "kmedoids_cost_rel": 1e-5,
}


def cpu_and_cuda() -> tuple:
    """Parametrisation over devices; the cuda case is skipped (with its reason) where no GPU is usable."""
    return ("cpu", pytest.param("cuda", marks=pytest.mark.cuda))


# --------------------------------------------------------------------------- k-medoids

def cosine_distances64(x: np.ndarray) -> np.ndarray:
    """(B, N, D) -> (B, N, N) float64 cosine distances with the kitpose rule (zero rows at distance 1)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.sqrt((x * x).sum(-1, keepdims=True))
    unit = x / np.maximum(norms, 1e-12)
    d = np.clip(1.0 - unit @ unit.transpose(0, 2, 1), 0.0, None)
    d[:, np.arange(x.shape[1]), np.arange(x.shape[1])] = 0.0
    return d


def clustering_cost(x: np.ndarray, assign: np.ndarray, medoids: np.ndarray) -> np.ndarray:
    """(B,) float64 sum over points of the cosine distance to the medoid of their cluster."""
    d = cosine_distances64(x)  # (B, N, N)
    assign, medoids = np.asarray(assign), np.asarray(medoids)
    own = np.take_along_axis(medoids, assign, axis=1)  # (B, N) medoid id of every point
    return np.take_along_axis(d, own[:, :, None], axis=2)[..., 0].sum(1)


def assert_kmedoids_like_reference(x: np.ndarray, c: int, assign, medoids, means) -> None:
    """A compiled twin's (assign, medoids, means) for x (B, N, D) against kmedoids_reference.

    Same partitions and medoids; where a near-tie was broken differently by rounding, the clustering
    costs agree instead; means are the float64 member means of x within 1e-5.
    """
    import torch

    from kitpose.ops.reference import kmedoids_reference

    assign, medoids, means = (np.asarray(a) for a in (assign, medoids, means))
    ref_assign, ref_medoids = (t.numpy() for t in kmedoids_reference(torch.from_numpy(x), c, 40))
    assert_same_partition(assign, ref_assign, x, medoids, ref_medoids)
    differ = ~((assign == ref_assign).all(axis=1) & (medoids == ref_medoids).all(axis=1))
    if differ.any():  # a near-tie broken by rounding: the clustering costs must agree instead
        tol = TOLERANCES["kmedoids_cost_rel"]
        np.testing.assert_allclose(clustering_cost(x[differ], assign[differ], medoids[differ]),
                                   clustering_cost(x[differ], ref_assign[differ], ref_medoids[differ]),
                                   rtol=tol, atol=tol * x.shape[1])
    onehot = (assign[:, None, :] == np.arange(c)[None, :, None]).astype(np.float64)  # (B, C, N)
    expected = onehot @ x.astype(np.float64) / onehot.sum(axis=2, keepdims=True)  # (B, C, D)
    np.testing.assert_allclose(means, expected, rtol=1e-5, atol=1e-6)


def hypothesis_points(seed: int, b: int, n: int, d: int, c: int, clustered: bool) -> np.ndarray:
    """(B, N, D) float32 points for the random k-medoids tests: standard normal, or heatmap-like
    (non-negative rows around C directions) when `clustered`."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, n, d))
    if clustered:
        x = np.abs(rng.standard_normal((b, c, d)))[:, rng.integers(0, c, n)] + 0.3 * np.abs(x)
    return x.astype(np.float32)


def hypothesis_heatmaps(seed: int, shape: tuple[int, int, int, int], kind: str) -> np.ndarray:
    """(N, K, H, W) float32 maps for the random DARK tests. kind: "bumps" (random_heatmaps),
    "negative" (shifted down), "nan" (5% NaN) or "sparse" (small peaks in a negative sea, where
    the 1e-10 clamp bites)."""
    maps = random_heatmaps(seed, shape)
    rng = np.random.default_rng(seed)
    if kind == "negative":
        maps -= rng.uniform(0.0, 1.2)
    elif kind == "nan":
        maps[rng.random(maps.shape) < 0.05] = np.nan
    elif kind == "sparse":
        maps = np.where(rng.random(maps.shape) < 0.03, rng.uniform(1e-3, 1.0, maps.shape), -rng.random(maps.shape))
    return maps.astype(np.float32)


DARK_MAP_KINDS = ("bumps", "negative", "nan", "sparse")


def random_affine(rng: np.random.Generator, frame_hw: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """(2, 3) float64 crop affine: random rotation, scale 0.3..3, centre up to 20 px outside the frame."""
    import cv2

    angle, s = rng.uniform(-180, 180), rng.uniform(0.3, 3.0)
    centre = (rng.uniform(-20, frame_hw[1] + 20), rng.uniform(-20, frame_hw[0] + 20))
    m = cv2.getRotationMatrix2D(centre, angle, s)
    m[:, 2] += [out_hw[1] / 2 - centre[0], out_hw[0] / 2 - centre[1]]
    return m


def _partition(labels: np.ndarray) -> frozenset:
    return frozenset(frozenset(np.flatnonzero(labels == k).tolist()) for k in np.unique(labels))


def assert_same_partition(assign_a, assign_b, x=None, medoids_a=None, medoids_b=None,
                          rtol: float = TOLERANCES["kmedoids_cost_rel"]) -> None:
    """Assert that two (B, N) assignments give the same partitions, label names aside.

    Where an instance's partitions differ and x plus both medoid sets are given, the clustering costs
    must agree within rtol instead (a near-tie broken differently by rounding); otherwise it fails.
    """
    assign_a, assign_b = np.asarray(assign_a), np.asarray(assign_b)
    assert assign_a.shape == assign_b.shape, f"shapes differ: {assign_a.shape} vs {assign_b.shape}"
    differ = [b for b in range(assign_a.shape[0]) if _partition(assign_a[b]) != _partition(assign_b[b])]
    if not differ:
        return
    if x is None or medoids_a is None or medoids_b is None:
        raise AssertionError(f"partitions differ in instances {differ}: "
                             f"{assign_a[differ[0]].tolist()} vs {assign_b[differ[0]].tolist()}")
    x = np.asarray(x)[differ]
    cost_a = clustering_cost(x, assign_a[differ], np.asarray(medoids_a)[differ])
    cost_b = clustering_cost(x, assign_b[differ], np.asarray(medoids_b)[differ])
    np.testing.assert_allclose(cost_a, cost_b, rtol=rtol, err_msg=f"partitions differ in instances {differ} "
                               "and so do their clustering costs")


def random_points(seed: int, shape: tuple[int, int, int], dtype=np.float32) -> np.ndarray:
    """Seeded (B, N, D) standard-normal points."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def separated_points(seed: int, batch: int, groups: int, per_group: int, dim: int) -> np.ndarray:
    """Seeded (B, groups*per_group, D) points in well-separated directional groups (a clear clustering)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[rng.permutation(dim)[:groups]] * 10.0  # (G, D) orthogonal directions
    pts = np.repeat(centres, per_group, axis=0)[None] + rng.standard_normal((batch, groups * per_group, dim))
    return pts.astype(np.float32)


def point_cases() -> dict[str, tuple[np.ndarray, int]]:
    """RNG-free named (x (B, N, D) float32, C) edge cases for k-medoids."""
    ramp = np.arange(1, 7 * 5 + 1, dtype=np.float32).reshape(1, 7, 5) % 7 - 3.0  # distinct, nonzero rows
    dup = np.repeat(np.array([[[1, 0, 0], [0, 1, 0]]], np.float32), 3, axis=1)  # two directions, 3 copies each
    zero = np.concatenate([np.zeros((1, 3, 4), np.float32), np.eye(4, dtype=np.float32)[None]], axis=1)
    return {
        "n_equals_c": (ramp, 7),
        "c_one": (ramp, 1),
        "all_equal": (np.ones((2, 6, 3), np.float32), 4),
        "all_zero": (np.zeros((1, 5, 3), np.float32), 3),
        "zero_rows": (zero, 3),
        "duplicates": (dup, 2),
    }


# --------------------------------------------------------------------------- heatmaps

def gaussian_map(h: int, w: int, centre_xy: tuple[float, float], sigma: float = 2.0) -> np.ndarray:
    """(h, w) float64 unnormalised Gaussian exp(-r^2 / (2 sigma^2)) centred at (x, y) in pixels."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.exp(-((xs - centre_xy[0]) ** 2 + (ys - centre_xy[1]) ** 2) / (2.0 * sigma * sigma))


def random_heatmaps(seed: int, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Seeded (N, K, H, W) float32 maps: a Gaussian at a random sub-pixel spot plus small noise."""
    rng = np.random.default_rng(seed)
    n, k, h, w = shape
    maps = np.empty(shape, np.float32)
    for i in range(n):
        for j in range(k):
            centre = (rng.uniform(-1, w), rng.uniform(-1, h))
            maps[i, j] = gaussian_map(h, w, centre, rng.uniform(1.5, 3.0)) + 0.01 * rng.standard_normal((h, w))
    return maps


def heatmap_cases(h: int = 16, w: int = 20) -> dict[str, np.ndarray]:
    """RNG-free named (1, K, h, w) float32 edge-case maps for DARK."""
    nan = gaussian_map(h, w, (7.3, 8.6)).astype(np.float32)
    nan[0, :] = np.nan
    nan[5, 3] = np.nan
    all_nan = np.full((h, w), np.nan, np.float32)
    negative = -1.0 - gaussian_map(h, w, (5.0, 5.0)).astype(np.float32)
    cases = {
        "interior_peak": gaussian_map(h, w, (9.4, 6.7)),
        "flat_positive": np.full((h, w), 0.5),
        "all_zero": np.zeros((h, w)),
        "all_negative": negative,
        "nan_containing": nan,
        "all_nan": all_nan,
        "peak_corner": gaussian_map(h, w, (0.0, 0.0)),
        "peak_right_edge": gaussian_map(h, w, (w - 1.0, 7.2)),
        "peak_next_to_edge": gaussian_map(h, w, (1.0, 7.0)),
        "peak_bottom_inner_border": gaussian_map(h, w, (8.0, h - 2.0)),
        # a sloped negative floor with one small positive pixel: the blurred max is <= 0
        "small_peak_in_negative": np.where(np.arange(h * w).reshape(h, w) == 6 * w + 9, 0.01,
                                           -1.0 - 0.05 * np.arange(w)[None, :] - 0.02 * np.arange(h)[:, None]),
    }
    return {name: np.asarray(m, np.float32)[None, None] for name, m in cases.items()}
