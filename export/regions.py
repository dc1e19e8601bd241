"""Graph regions the precision stage must keep in fp32: the clustering subgraph of `assign`."""
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
