"""What the parity gate counts as passing: the limits per precision, the numbers a backend is judged
on (heatmap error, cluster agreement, keypoint error, AP change) and the report's exit code.

Torch-free: everything here works on numpy arrays and report dicts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kitpose.export.eval_run import BackendRun

AP_UNIT = "AP in points (percent): 0.1 point = 0.001 as a fraction"


@dataclass(frozen=True)
class Gates:
    """Pass limits per precision; AP limits in points (percent), heatmap limit in heatmap units."""

    fp32_heatmap_max_abs: float = 1e-4
    fp32_ap_delta: float = 0.0         # "identical AP": |AP - AP_torch| <= this
    fp16_ap_drop: float = 0.1          # AP_torch - AP <= this
    int8_ap_drop: float = 1.0


class ParityError(RuntimeError):
    """A parity gate failed; the message names the report with the numbers."""


def compare(ref: BackendRun, run: BackendRun) -> dict[str, Any]:
    """Heatmap error, cluster agreement, keypoint error (image px) and AP change of run vs ref.

    Returns:
        dict with heatmap_max_abs, heatmap_mean_abs, assign_agreement (fraction of forward-pass
        instances whose (K,) labels are identical; None without clustering), keypoint_error_px
        {mean, max} over all keypoints, ap and ap_delta (run - ref, points).
    """
    if ref.heatmaps.shape != run.heatmaps.shape:
        raise ValueError(f"heatmaps {run.heatmaps.shape} vs reference {ref.heatmaps.shape}: "
                         f"the exported file does not match the model (input or heatmap size)")
    diff = np.abs(ref.heatmaps.astype(np.float64) - run.heatmaps)  # (N, K, H, W)
    agreement = None
    if ref.assign is not None and run.assign is not None:
        agreement = float(np.mean(np.all(ref.assign == run.assign, axis=1)))
    error = keypoint_error(ref.results, run.results)
    return {"heatmap_max_abs": float(diff.max()), "heatmap_mean_abs": float(diff.mean()),
            "assign_agreement": agreement, "keypoint_error_px": error,
            "ap": run.ap, "ap_delta": run.ap - ref.ap}


def keypoint_error(ref: list[dict], run: list[dict]) -> dict[str, float]:
    """Mean and max Euclidean distance (image px) between keypoints of results paired by ann_id."""
    by_ann = {r["ann_id"]: np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3) for r in ref}
    if len(run) != len(ref) or any(r["ann_id"] not in by_ann for r in run):
        raise ValueError(f"results cover different instances ({len(run)} vs {len(ref)} reference)")
    dists = [np.linalg.norm(np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3)[:, :2]
                            - by_ann[r["ann_id"]][:, :2], axis=1) for r in run]  # N x (K,)
    dists = np.concatenate(dists) if dists else np.zeros(0)
    return {"mean": float(dists.mean()) if dists.size else 0.0,
            "max": float(dists.max()) if dists.size else 0.0}


def check_gates(precision: str, row: dict[str, Any], gates: Gates = Gates()) -> dict[str, Any]:
    """The gate of one backend row: named checks with value, limit and passed, plus overall passed.

    Args:
        precision: "fp32", "fp16" or "int8".
        row: output of `compare` (heatmap_max_abs, assign_agreement, ap_delta in points).
        gates: limits.
    Returns:
        {"checks": {name: {"value", "limit", "passed"}}, "passed": bool}.
    """
    drop = -row["ap_delta"]
    if precision == "fp32":
        checks = {"heatmap_max_abs": (row["heatmap_max_abs"], gates.fp32_heatmap_max_abs,
                                      row["heatmap_max_abs"] <= gates.fp32_heatmap_max_abs),
                  "ap_abs_delta": (abs(row["ap_delta"]), gates.fp32_ap_delta,
                                   abs(row["ap_delta"]) <= gates.fp32_ap_delta)}
        if row.get("assign_agreement") is not None:
            checks["assign_agreement"] = (row["assign_agreement"], 1.0, row["assign_agreement"] == 1.0)
    elif precision in ("fp16", "int8"):
        limit = gates.fp16_ap_drop if precision == "fp16" else gates.int8_ap_drop
        checks = {"ap_drop": (drop, limit, drop <= limit)}
    else:
        raise ValueError(f"precision {precision!r}: expected fp32, fp16 or int8")
    named = {k: {"value": v, "limit": lim, "passed": bool(ok)} for k, (v, lim, ok) in checks.items()}
    return {"checks": named, "passed": all(c["passed"] for c in named.values())}


def exit_code(report: dict[str, Any]) -> int:
    """0 when every backend ran and passed its gate, 1 when a gate failed, 2 when one was skipped."""
    rows = [r for r in report["rows"] if r["backend"] != "torch"]
    if any(r.get("gate") and not r["gate"]["passed"] for r in rows):
        return 1
    if not rows or any(r.get("skipped") for r in rows):
        return 2
    return 0
