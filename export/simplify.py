"""Helper of the onnx stage: graph simplification with onnxslim (constant folding, dead nodes)."""
from __future__ import annotations

from typing import Any


def simplify_model(model: Any) -> tuple[Any, str]:
    """Simplified copy of an ONNX model and the tool that did it.

    onnxslim is used (it installs from PyPI as a pure-Python wheel); metadata_props are set by
    the caller after this pass.

    Args:
        model: onnx.ModelProto.
    Returns:
        (simplified model, "onnxslim <version>").
    """
    try:
        import onnxslim
    except ImportError as err:
        raise ImportError("the onnx stage simplifies with onnxslim: pip install onnxslim "
                          "(or export with ExportConfig(simplify=False))") from err
    import onnx

    try:
        # data propagation through Shape -> Gather -> Expand lets onnxslim fold the If nodes the
        # TorchScript exporter emits for `squeeze` on a dim it cannot prove is 1 (kkz_init)
        slim = onnxslim.slim(onnx.shape_inference.infer_shapes(model, data_prop=True))
    except Exception as err:
        raise RuntimeError(f"onnxslim {onnxslim.__version__} failed to simplify the graph: {err}; "
                           f"export with ExportConfig(simplify=False) to skip this pass") from err
    return slim, f"onnxslim {onnxslim.__version__}"
