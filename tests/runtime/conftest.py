"""Shared fixtures: a small random-weight KITPose exported once per session to a tmp ONNX."""
import pytest

PRESET = "kitpose-w8-128"  # the embedded default's shape: the smallest KITPose preset


@pytest.fixture(scope="session")
def small_model():
    """The default architecture (KITPose W8 128x128) with seeded random weights, in eval mode."""
    torch = pytest.importorskip("torch")
    from kitpose.models import create_model

    torch.manual_seed(0)
    return create_model(PRESET).eval()


@pytest.fixture(scope="session")
def small_onnx(small_model, tmp_path_factory):
    """Path of `small_model` exported with kitpose.export.export_onnx (AP-10K metadata)."""
    from kitpose.export import export_onnx

    return export_onnx(small_model, tmp_path_factory.mktemp("onnx") / "small.onnx")

