"""The model under test: a --model spec as a PyTorch model, its ONNX variants, and its weights' origin."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PRESET = "kitpose-w8-128"  # the embedded default model's shape


@dataclass
class BenchModel:
    """A loaded model plus what the rows say about it."""

    spec: str                     # the --model argument
    model: Any                    # nn.Module in eval mode
    weights: str                  # "trained", "random" or "checkpoint"
    note: str = ""                # e.g. why the default fell back to random weights
    onnx: dict[str, Path] = field(default_factory=dict)  # precision -> file ONNX Runtime runs
    # precision -> file engines are built from, where it differs (int8: TensorRT's Q/DQ placement)
    engine_onnx: dict[str, Path] = field(default_factory=dict)

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.model.config.input_size)


def load_bench_model(spec: str, seed: int = 0) -> BenchModel:
    """'default', a preset name (seeded random weights) or a kitpose checkpoint.

    The embedded default falls back to the kitpose-w8-128 preset with random weights while its
    trained asset is absent; speed does not depend on weights, and `note` says so.
    """
    import torch

    import kitpose.models as models

    torch.manual_seed(seed)  # random presets are the same model in every run
    if spec == "default":
        if models.DEFAULT_CHECKPOINT.is_file():
            return BenchModel(spec, models.load_model("default"), "trained")
        note = f"embedded default {models.DEFAULT_CHECKPOINT} missing; {DEFAULT_PRESET} with random weights"
        return BenchModel(spec, models.create_model(DEFAULT_PRESET).eval(), "random", note)
    if spec in models.MODELS:
        return BenchModel(spec, models.create_model(spec).eval(), "random")
    if not Path(spec).is_file():
        raise FileNotFoundError(f"--model {spec!r}: neither 'default', a preset "
                                f"({', '.join(sorted(models.MODELS))}) nor a checkpoint file")
    return BenchModel(spec, models.load_model(spec), "checkpoint")


def export_onnx_variants(bench_model: BenchModel, out_dir: Path, precisions: list[str],
                         dataset: str = "ap10k", engines: bool = False) -> dict[str, str]:
    """Export fp32 ONNX and the requested fp16/int8 variants with kitpose.export into out_dir.

    int8 is placed for ONNX Runtime (`int8_tool="onnxruntime"`, model_int8.onnx); with `engines`
    also for TensorRT (ModelOpt, model_int8_trt.onnx). Fills `bench_model.onnx` and
    `engine_onnx`; returns precision -> reason for each variant that could not be made (e.g.
    ModelOpt missing), which the report lists instead of a row.
    """
    from dataclasses import replace

    from kitpose.export.config import ExportConfig
    from kitpose.export.pipeline import run_pipeline

    cfg = ExportConfig(dataset=dataset, model_name=_slug(bench_model.spec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter notices
        fp32 = run_pipeline(bench_model.model, out_dir, cfg, stop_after="onnx")
    bench_model.onnx["fp32"] = fp32
    ort_tool = {"int8": "onnxruntime"}
    jobs = [(p, "", replace(cfg, precision=p, int8_tool=ort_tool.get(p, cfg.int8_tool)), bench_model.onnx)
            for p in precisions if p != "fp32"]
    if engines and "int8" in precisions:
        jobs.append(("int8", "_trt", replace(cfg, precision="int8", int8_tool="modelopt"), bench_model.engine_onnx))
    skipped = {}
    for precision, suffix, job_cfg, files in jobs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # quantiser notices
                files[precision] = run_pipeline(fp32, out_dir, job_cfg, start="precision",
                                                stop_after="precision",
                                                dst=out_dir / f"model_{precision}{suffix}.onnx")
        except (ImportError, RuntimeError, ValueError) as err:
            skipped[precision + suffix] = f"ONNX {precision}{suffix} export failed: {str(err).splitlines()[0][:200]}"
    return skipped


def model_metadata(bench_model: BenchModel, dataset: str = "ap10k"):
    """The runtime ModelMetadata the export would write for this model (sizes from one probe call),
    so pipelines that run no ONNX file crop and decode exactly as the exported one would."""
    import torch

    from kitpose.export.config import ExportConfig
    from kitpose.export.metadata import build_metadata, dataset_fields
    from kitpose.runtime.metadata import ModelMetadata

    cfg = ExportConfig(dataset=dataset, model_name=_slug(bench_model.spec))
    h, w = bench_model.input_size
    with torch.no_grad():
        heatmaps = bench_model.model(torch.zeros(1, 3, h, w)).heatmaps  # (1, K, H, W)
    props = build_metadata(dataset_fields(cfg), heatmaps.shape[1], (h, w), tuple(heatmaps.shape[2:]),
                           cfg.model_name, cfg)
    return ModelMetadata.from_props(props, f"--model {bench_model.spec}")


def _slug(spec: str) -> str:
    """A file-name-safe model name ('runs/x/best.pt' -> 'best')."""
    return Path(spec).stem if Path(spec).suffix else spec
