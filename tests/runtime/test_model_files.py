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


def test_two_resolvers_of_one_checkpoint_both_get_the_export(tmp_path, monkeypatch):
    """Two processes resolving the same new checkpoint shared one fixed `.partial.onnx` name, so the
    second one's rename found nothing (issue 13, item 6). Two threads, held at a barrier after both
    have written, each get a complete file and leave no temp file behind."""
    import threading

    import kitpose.export
    import kitpose.models
    from kitpose.atomic import write_atomic

    both_written = threading.Barrier(2, timeout=20)

    def slow_export(model, dst):  # writes the way export_onnx does, then waits for the other writer
        write_atomic(dst, b"onnx bytes")
        both_written.wait()
        return dst

    monkeypatch.setattr(kitpose.export, "export_onnx", slow_export)
    monkeypatch.setattr(kitpose.models, "load_model", lambda spec: object())
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"a checkpoint")
    results, errors = [], []

    def resolve() -> None:
        try:
            results.append(resolve_model(str(ckpt), cache=tmp_path / "cache"))
        except Exception as err:  # noqa: BLE001 - reported by the assert below
            errors.append(repr(err))

    threads = [threading.Thread(target=resolve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert results[0].read_bytes() == b"onnx bytes"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [results[0].name]
