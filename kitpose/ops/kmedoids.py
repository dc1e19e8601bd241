"""Batched k-medoids front: argument checks, numpy/torch in and out, backend dispatch.

The rule (cosine distance, KKZ seeding on the original norms, every tie to the lowest index, medoids
sorted, per-instance convergence) is a deliberate, deterministic fix of the official routine; it is
written out in full in `kitpose.ops.reference`. Two forms:

- `kmedoids(x, C, max_iters)`: stops when no instance's medoids moved (the model calls it under
  no_grad); backends "reference", "cpu", "cuda" or "auto".
- `kmedoids_fixed(x, C, num_iters)`: exactly num_iters rounds, no data-dependent Python control
  flow, only ONNX opset-17 ops, for tracing and export. Same outputs as `kmedoids(x, C, num_iters)`,
  because a converged state is a fixed point.

Inputs: (B, N, D) float16/bfloat16/float32/float64 (the reference computes in float32, float64 stays
float64; the compiled twins compute everything in float32),
B may be 0 (empty outputs), N >= 1, D >= 1, 1 <= C <= N, iterations >= 1. The reference backend
rejects NaN/inf with ValueError; compiled backends do not check (that would cost a device sync) and
their output for non-finite input is unspecified. Outputs follow the input: numpy in, numpy out;
tensors come back on the input's device (the "cpu"/"cuda" backends move the input there first).
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from kitpose import native_calls
from kitpose.ops.dispatch import as_tensor, check_float, check_int, choose_backend, require_backend, to_caller
from kitpose.ops.reference import kmedoids_fixed_reference, kmedoids_reference

_OP = "kmedoids"


def _check_points(t: Tensor) -> None:
    """Raise naming the shape unless t is (B, N, D) float with N, D >= 1."""
    if t.dim() != 3:
        raise ValueError(f"kitpose.ops.{_OP}: x must have shape (B, N, D), got {tuple(t.shape)} "
                         f"({t.dim()} dims); add a batch axis with x[None] for one instance")
    check_float(t, "x", _OP)
    if t.size(1) < 1 or t.size(2) < 1:
        raise ValueError(f"kitpose.ops.{_OP}: x must have N >= 1 points and D >= 1 features, "
                         f"got shape {tuple(t.shape)}")


def _validate(x: Any, num_clusters: Any, iters: Any, iters_name: str) -> tuple[Tensor, bool, int, int]:
    """Return (tensor, was_numpy, C, iters) after checking every argument."""
    t, was_numpy = as_tensor(x, "x", _OP)
    _check_points(t)
    c = check_int(num_clusters, "num_clusters", _OP, 1, t.size(1))
    return t, was_numpy, c, check_int(iters, iters_name, _OP, 1)


def _empty(t: Tensor, c: int, was_numpy: bool) -> tuple[Any, Any]:
    """Outputs for a batch of zero instances."""
    assign = torch.zeros(0, t.size(1), dtype=torch.int64)  # (0, N)
    medoids = torch.zeros(0, c, dtype=torch.int64)  # (0, C)
    return to_caller(assign, was_numpy, t.device), to_caller(medoids, was_numpy, t.device)


def kmedoids(x: Any, num_clusters: int, max_iters: int = 40, backend: str = "auto") -> tuple[Any, Any]:
    """Cluster the N rows of every instance into C clusters with deterministic k-medoids.

    Args:
        x: (B, N, D) float numpy array or torch tensor.
        num_clusters: C, 1 <= C <= N.
        max_iters: rounds at most (>= 1); stops earlier when no medoid of any instance moves.
        backend: "auto", "reference", "cpu" or "cuda".
    Returns:
        assign (B, N) int64 cluster per row in [0, C), and medoids (B, C) int64 row ids sorted
        ascending (cluster k is the one whose medoid has the k-th smallest row id).
    """
    t, was_numpy, c, iters = _validate(x, num_clusters, max_iters, "max_iters")
    if t.size(0) == 0:
        return _empty(t, c, was_numpy)
    fits = t.size(1) <= native_calls.MAX_POINTS and c <= native_calls.MAX_CLUSTERS
    chosen = choose_backend(_OP, backend, t.device.type, fits)
    if chosen == "reference":
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"kitpose.ops.{_OP}: x of shape {tuple(t.shape)} contains NaN or inf; "
                             "clustering needs finite rows")
        assign, medoids = kmedoids_reference(t, c, iters)
    else:
        op = require_backend(_OP, chosen)
        assign, medoids = op(t.to(chosen).contiguous(), c, iters, chosen)
    return to_caller(assign, was_numpy, t.device), to_caller(medoids, was_numpy, t.device)


def kmedoids_fixed(x: Any, num_clusters: int, num_iters: int) -> tuple[Any, Any]:
    """k-medoids with exactly num_iters rounds and no data-dependent control flow (for tracing/ONNX).

    Args:
        x: (B, N, D) float numpy array or torch tensor (non-finite values give unspecified output).
        num_clusters: C, 1 <= C <= N.
        num_iters: rounds (>= 1).
    Returns:
        assign (B, N) int64 and medoids (B, C) int64, equal to `kmedoids(x, C, max_iters=num_iters)`.
    """
    with warnings.catch_warnings():
        # the checks read N and D, which a traced graph fixes anyway; B is never read here
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        t, was_numpy, c, iters = _validate(x, num_clusters, num_iters, "num_iters")
    assign, medoids = kmedoids_fixed_reference(t, c, iters)
    if was_numpy:
        return assign.numpy(), medoids.numpy()
    return assign, medoids
