"""FMMP as two ONNX graphs: the support side (run once per support set) and the query side (run per
crop, the support tensors as inputs). Fixed tensor names, the batch (episodes) as the only dynamic
axis, metadata (K, shots, input size, mean/std) on both.

    support.onnx: support_images (B, S, 3, h, w) f32, support_points (B, S, 70, 2) f32,
                  support_visible (B, S, 70) bool
               -> f0 (B, 70, d), weights (B, S, 70), key_mask (B, 70) bool, pyramid0..2 (B, S, d, H_l, W_l)
    query.onnx:   query (B, 3, h, w), support_points, table (B, 70, M) int64, every support.onnx output
               -> points (B, 70, 2): the last layer's normalised xy in the query crop
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from kitpose.export.files import save_onnx
from kitpose.imagenet import IMAGENET_MEAN, IMAGENET_STD
from kitpose.models.fmmp import FMMP, SupportState

SUPPORT_INPUTS = ("support_images", "support_points", "support_visible")
STATE_NAMES = ("f0", "weights", "key_mask", "pyramid0", "pyramid1", "pyramid2")
QUERY_INPUTS = ("query", "support_points", "table", *STATE_NAMES)
POINTS_NAME = "points"
OPSET = 17  # grid_sample needs >= 16


class SupportGraph(nn.Module):
    def __init__(self, model: FMMP):
        super().__init__()
        self.model = model

    def forward(self, images: Tensor, points: Tensor, visible: Tensor):
        state = self.model.encode_support(images, points, visible, None)  # the table is a query input
        return (state.f0, state.weights, state.key_mask, *state.pyramid)


class QueryGraph(nn.Module):
    def __init__(self, model: FMMP):
        super().__init__()
        self.model = model

    def forward(self, query: Tensor, points: Tensor, table: Tensor, f0: Tensor,
                weights: Tensor, key_mask: Tensor, p0: Tensor, p1: Tensor, p2: Tensor) -> Tensor:
        state = SupportState(points, weights, key_mask, table, f0, [p0, p1, p2])
        return self.model.forward_query(query, state).points[-1]  # (B, 70, 2)


def dummy_support(model: FMMP, shots: int, batch: int = 2, seed: int = 0) -> tuple[Tensor, ...]:
    """Example support inputs (every point visible in shot 0, a BFS-free table of self references)."""
    c = model.config
    g = torch.Generator().manual_seed(seed)
    k, m = c.num_keypoints, c.structure_m
    visible = torch.rand(batch, shots, k, generator=g) > 0.3
    visible[:, 0] = True
    table = torch.randint(0, k, (batch, k, m), generator=g)
    return (torch.randn(batch, shots, 3, *c.input_size, generator=g), torch.rand(batch, shots, k, 2, generator=g),
            visible, table)


def _export(module: nn.Module, args: tuple, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> bytes:
    buffer = io.BytesIO()
    axes = {name: {0: "batch"} for name in (*inputs, *outputs)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's notices
        torch.onnx.export(module, args, buffer, input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
    return buffer.getvalue()


def export_cape_onnx(model: FMMP, out_dir: str | Path, shots: int = 1) -> dict[str, Path]:
    """Write out_dir/support.onnx and out_dir/query.onnx for `shots` support shots (a fixed axis).

    Returns:
        {"support": path, "query": path}.
    """
    import onnx

    if not isinstance(model, FMMP):
        raise TypeError(f"export_cape_onnx needs an FMMP model, got {type(model).__name__}")
    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    out = Path(out_dir)
    was_training = model.training
    model.eval()
    try:
        support_args = dummy_support(model, shots)
        with torch.no_grad():
            state = SupportGraph(model)(*support_args[:3])
        query = torch.randn(support_args[0].shape[0], 3, *model.config.input_size)
        query_args = (query, support_args[1], support_args[3], *state)
        blobs = {"support": _export(SupportGraph(model), support_args[:3], SUPPORT_INPUTS, STATE_NAMES),
                 "query": _export(QueryGraph(model), query_args, QUERY_INPUTS,
                                  (POINTS_NAME,))}
    finally:
        model.train(was_training)
    meta = {"kind": "fmmp", "num_keypoints": model.config.num_keypoints, "shots": shots,
            "input_size": list(model.config.input_size), "structure_m": model.config.structure_m,
            "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "size_order": "(h, w)"}
    written = {}
    for name, blob in blobs.items():
        proto = onnx.load_from_string(blob)
        onnx.helper.set_model_props(proto, {k: json.dumps(v) for k, v in {**meta, "graph": name}.items()})
        onnx.checker.check_model(proto)
        written[name] = save_onnx(proto, out / f"{name}.onnx")
    return written
