"""Stage 1: PyTorch model or checkpoint -> ONNX with the clustering inside and runtime metadata."""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from kitpose.config import ASSIGN_NAME, HEATMAPS_NAME, INPUT_NAME
from kitpose.export.checkpoint import eval_mode, load_for_export, model_name
from kitpose.export.config import ExportConfig, resolve_config
from kitpose.export.files import save_onnx
from kitpose.export.metadata import build_metadata, dataset_fields

BATCH_DIM = "batch"


class _GraphOutputs(nn.Module):
    """The exported outputs only: heatmaps, plus assign when the model clusters (KITPose)."""

    def __init__(self, model: nn.Module, with_assign: bool):
        super().__init__()
        self.model, self.with_assign = model, with_assign

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        out = self.model(x)
        return (out.heatmaps, out.assign) if self.with_assign else (out.heatmaps,)


def export_onnx(src: nn.Module | str | Path, dst: str | Path, cfg: ExportConfig | None = None,
                **overrides: Any) -> Path:
    """Export a pose model to ONNX: fixed I/O names, dynamic batch, metadata, simplified, checked.

    The k-medoids clustering is traced through `kitpose.ops.kmedoids_fixed` into standard ONNX
    operators with `cfg.kmedoids_iters` unrolled rounds, so `assign` is computed in the graph.

    Args:
        src: a kitpose model (nn.Module with .config) or a kitpose checkpoint file.
        dst: output .onnx file, or a folder (then `model.onnx` inside it).
        cfg: export settings; keyword overrides replace its fields.
    Returns:
        The written ONNX path. Inputs: INPUT_NAME (B, 3, h, w) float32. Outputs: HEATMAPS_NAME
        (B, K, H, W) float32 and, for clustering models, ASSIGN_NAME (B, K) int64.
    """
    import onnx

    cfg = resolve_config(cfg, overrides)
    model = load_for_export(src, cfg)
    with eval_mode(model):
        proto, meta = _export_in_eval(src, model, cfg)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, meta)
    onnx.checker.check_model(proto, full_check=True)
    return save_onnx(proto, _onnx_path(dst))


def _export_in_eval(src: Any, model: nn.Module, cfg: ExportConfig) -> tuple[Any, dict[str, str]]:
    """(simplified ONNX proto, metadata_props) of a model already in eval mode."""
    h, w = model.config.input_size
    dummy = torch.randn(2, model.config.in_channels if hasattr(model.config, "in_channels") else 3,
                        h, w, generator=torch.Generator().manual_seed(0))  # (B, 3, h, w)
    with torch.no_grad():
        probe = model(dummy)
    names = [HEATMAPS_NAME] + ([ASSIGN_NAME] if probe.assign is not None else [])
    wrapper = _GraphOutputs(model, probe.assign is not None).eval()
    proto = _trace(wrapper, dummy, names, cfg.opset)
    if cfg.simplify:
        from kitpose.export.simplify import simplify_model

        proto, _ = simplify_model(proto)
    meta = build_metadata(dataset_fields(cfg), probe.heatmaps.shape[1], (h, w),
                          tuple(probe.heatmaps.shape[2:]), model_name(src, model, cfg), cfg)
    return proto, meta


def _trace(module: nn.Module, dummy: Tensor, output_names: list[str], opset: int) -> Any:
    """TorchScript-based export (dynamo=False) into memory; batch is the only dynamic axis."""
    import onnx

    buffer = io.BytesIO()
    axes = {name: {0: BATCH_DIM} for name in [INPUT_NAME, *output_names]}
    try:
        with warnings.catch_warnings():
            # the legacy exporter is chosen on purpose (identical clustering); its notices are noise
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(module, (dummy,), buffer, input_names=[INPUT_NAME],
                              output_names=output_names, dynamic_axes=axes, opset_version=opset,
                              do_constant_folding=True, dynamo=False)
    except Exception as err:
        raise RuntimeError(f"torch.onnx.export of {type(module.model).__name__} (opset {opset}) "
                           f"failed: {err}") from err
    return onnx.load_from_string(buffer.getvalue())


def _onnx_path(dst: str | Path) -> Path:
    from kitpose.export.files import output_file

    return output_file(dst, "model.onnx")
