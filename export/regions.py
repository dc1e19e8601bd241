"""Graph regions of the precision stage: the clustering subgraph of `assign` (kept in fp32), the
convs int8 keeps in fp32, and the backbone ops ONNX Runtime's int8 placement quantises."""
from __future__ import annotations

from typing import Any

from kitpose.config import ASSIGN_NAME


def clustering_nodes(model: Any) -> list[str]:
    """Names of the nodes that compute ASSIGN_NAME downstream of the last Conv (the k-medoids).

    The clustering reads the intermediate heatmaps (a Conv output) and ends at `assign`; every
    node between them is kept in fp32 so fp16/int8 engines reproduce the fp32 assignments.

    Args:
        model: onnx.ModelProto (nodes named, as torch.onnx.export and onnxslim leave them).
    Returns:
        Node names, empty when the graph has no ASSIGN_NAME output.
    """
    graph = model.graph
    if ASSIGN_NAME not in [o.name for o in graph.output]:
        return []
    producer = {out: node for node in graph.node for out in node.output}
    ancestors = _ancestors(producer, [ASSIGN_NAME])
    convs = [n for n in ancestors if n.op_type == "Conv"]
    backbone = {id(n) for n in _ancestors(producer, [o for n in convs for o in n.output])}
    keep = {id(n) for n in ancestors} - backbone
    return [n.name for n in graph.node if id(n) in keep]


def int8_fp32_convs(model: Any) -> list[str]:
    """Conv nodes the int8 stage keeps in fp32: the first (raw pixels in), the last, and those whose
    outputs the clustering reads (the intermediate heatmaps).

    Measured on the default model (session 2): quantising every Conv and MatMul lost 2.5 AP points
    and changed two thirds of the cluster assignments; Conv only with the first and last kept in
    fp32 lost 0.5 points.

    Args:
        model: onnx.ModelProto.
    Returns:
        Node names.
    """
    graph = model.graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    if not convs:
        return []
    region = set(clustering_nodes(model))
    region_inputs = {t for n in graph.node if n.name in region for t in n.input}
    feeding = [n for n in convs if set(n.output) & region_inputs]
    names = [convs[0].name, convs[-1].name, *(n.name for n in feeding)]
    return list(dict.fromkeys(names))


# Ops of the conv backbone that ONNX Runtime runs in int8 when each is wrapped in Q/DQ on u8 tensors:
# Conv -> QLinearConv, Add -> QLinearAdd, Relu folded into the Q before it, Resize on u8 directly.
ORT_INT8_OP_TYPES = ("Conv", "Relu", "Add", "Resize")


def int8_ort_nodes(model: Any) -> list[str]:
    """Backbone nodes (ancestors of some Conv output) of ORT_INT8_OP_TYPES, less the clustering and
    `int8_fp32_convs`: the transformer after the backbone stays fp32 (quantising its Adds cost 49% of
    the keypoint argmaxes on the default model, the backbone's none beyond the convs' own).

    Args:
        model: onnx.ModelProto.
    Returns:
        Node names, in graph order.
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    backbone = {id(n) for n in _ancestors(producer, [o for n in convs for o in n.output])}
    kept = set(clustering_nodes(model)) | set(int8_fp32_convs(model))
    return [n.name for n in graph.node
            if id(n) in backbone and n.op_type in ORT_INT8_OP_TYPES and n.name not in kept]


def _ancestors(producer: dict[str, Any], tensors: list[str]) -> list[Any]:
    """Nodes (in discovery order, without duplicates) that the given tensors depend on."""
    seen: dict[int, Any] = {}
    stack = list(tensors)
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(node.input)
    return list(seen.values())
