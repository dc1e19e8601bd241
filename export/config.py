"""ExportConfig: every setting of the export stages, one frozen dataclass (no inheritance).

Every stage takes `(src, dst, cfg)`; keyword overrides on a stage call replace fields of `cfg`
(`build_engine(src, dst, batch=(1, 4, 8))`), so one config can drive the whole pipeline.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from kitpose.imagenet import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class ExportConfig:
    """Settings of the onnx -> precision -> engine stages."""

    # --- onnx stage
    opset: int = 17
    # fixed clustering rounds unrolled in the graph; None keeps the model's (40). On 512 synthetic
    # Gaussian-heatmap instances (K=17, 64x48) fixed rounds matched the converged result from 5
    # (C=4), 6 (C=5) and 3 (C=7) rounds on; 10 leaves a margin at a quarter of the graph of 40
    kmedoids_iters: int | None = 10
    simplify: bool = True              # onnxslim pass before the checker
    dataset: str | None = "ap10k"      # kitpose.data.metadata.DATASETS key, looked up lazily
    metadata: dict[str, Any] | None = None  # keypoint_names, skeleton, flip_pairs, sigmas (wins over dataset)
    model_name: str | None = None      # recorded in the ONNX; default: the checkpoint's arch or class name
    mean: tuple[float, ...] = IMAGENET_MEAN  # of RGB / 255 inputs (kitpose.imagenet)
    std: tuple[float, ...] = IMAGENET_STD
    # --- precision stage
    precision: str = "fp16"            # "fp32" (copy), "fp16" (mixed), "int8" (explicit Q/DQ)
    fp32_op_types: tuple[str, ...] = ("LayerNormalization", "Softmax", "ReduceMean", "Pow", "Sqrt",
                                      "Erf")  # fp16 pass keeps these in fp32
    # int8 Q/DQ placement for the runtime that runs the file (export/int8.py says why they differ):
    # "modelopt" (NVIDIA ModelOpt, for TensorRT engines) or "onnxruntime" (its quantizer, for CPUs)
    int8_tool: str = "modelopt"
    calib_samples: int = 32            # synthetic animal crops when no calibration images are given
    calib_seed: int = 0
    # --- engine stage
    backend: str = "auto"              # "auto", "tensorrt", "tensorrt_rtx"
    batch: tuple[int, int, int] = (1, 8, 32)  # (min, opt, max) of the optimisation profile
    compute_capability: str | None = None  # e.g. "8.6": ahead-of-time target; None: the local GPU
    timing_cache: str | None = None    # file read before and written after the build
    dla_core: int | None = None        # TensorRT 10.x only (Jetson)
    tf32: bool = False                 # off by default so engines match fp32 references
    workspace_mb: int = 2048

    def __post_init__(self):
        choices = {"precision": ("fp32", "fp16", "int8"), "backend": ("auto", "tensorrt", "tensorrt_rtx"),
                   "int8_tool": ("modelopt", "onnxruntime")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"ExportConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.opset < 17:
            raise ValueError(f"ExportConfig.opset must be >= 17 (LayerNormalization), got {self.opset}")
        lo, opt, hi = self.batch
        if not 1 <= lo <= opt <= hi:
            raise ValueError(f"ExportConfig.batch must be (min, opt, max) with 1 <= min <= opt <= max, "
                             f"got {self.batch}")
        if self.kmedoids_iters is not None and self.kmedoids_iters < 1:
            raise ValueError(f"ExportConfig.kmedoids_iters must be >= 1 or None, got {self.kmedoids_iters}")


def resolve_config(cfg: ExportConfig | None, overrides: dict[str, Any]) -> ExportConfig:
    """cfg (default ExportConfig()) with `overrides` replacing fields; unknown names are an error."""
    cfg = cfg or ExportConfig()
    unknown = set(overrides) - {f.name for f in fields(ExportConfig)}
    if unknown:
        raise TypeError(f"unknown ExportConfig field(s) {sorted(unknown)}; fields: "
                        f"{', '.join(f.name for f in fields(ExportConfig))}")
    return replace(cfg, **overrides) if overrides else cfg


def config_hash(cfg: ExportConfig) -> str:
    """sha256 of the config as canonical JSON (the manifest's skip-if-unchanged key)."""
    text = json.dumps(asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
