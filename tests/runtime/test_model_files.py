"""--model resolution: checkpoints are exported to ONNX once into the cache, then reused."""
import dataclasses

import pytest

from kitpose.runtime.model_files import default_checkpoint, resolve_model
from kitpose.runtime.pipeline import PoseEstimator


def test_checkpoint_is_exported_once_and_cached(small_model, tmp_path):
    from kitpose.checkpoint import save_checkpoint

    ckpt = save_checkpoint(tmp_path / "run" / "best.pt", {
        "arch": "kitpose", "config": dataclasses.asdict(small_model.config),
        "model": small_model.state_dict()})
    onnx_path = resolve_model(str(ckpt), cache=tmp_path / "cache")
    assert onnx_path.parent == tmp_path / "cache" and onnx_path.name.startswith("best-")
    stamp = onnx_path.stat().st_mtime_ns
    assert resolve_model(str(ckpt), cache=tmp_path / "cache") == onnx_path
    assert onnx_path.stat().st_mtime_ns == stamp  # reused, not exported again
    assert not list((tmp_path / "cache").glob("*.partial.onnx"))
    with PoseEstimator.from_file(onnx_path) as est:
        assert est.metadata.input_size == (128, 128) and est.metadata.num_keypoints == 17


def test_default_model_resolves(tmp_path):
    if not default_checkpoint().is_file():
        pytest.skip(f"the embedded default model {default_checkpoint()} is not in this checkout yet")
    onnx_path = resolve_model("default", cache=tmp_path)
    assert onnx_path.suffix == ".onnx" and onnx_path.stat().st_size > 0
