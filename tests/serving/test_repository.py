"""The container model repository: configs valid for Triton's schema, and its maths equal to the pipeline."""
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kitpose.runtime.decode import affine_rows, decode_heatmaps
from kitpose.runtime.metadata import ModelMetadata, read_model_metadata
from kitpose.runtime.ort_runner import OrtRunner
from kitpose.runtime.pipeline import PoseEstimator
from kitpose.serving import triton_decode
from kitpose.serving.client import crop_rows
from kitpose.serving.repository import TritonSettings, write_repository

from helpers import TOLERANCES, heatmap_cases, random_heatmaps

from .conftest import SERVED_PX


def _config(path):
    """Parse a config.pbtxt with Triton's own ModelConfig message (unknown fields or bad syntax raise)."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_configs_follow_tritons_schema(small_onnx, tmp_path):
    settings = TritonSettings(max_batch=16, preferred=(4, 8, 16, 32), queue_delay_us=500, instances=2)
    repo = write_repository(small_onnx, tmp_path / "repo", settings)
    meta = read_model_metadata(small_onnx)
    net, decode, pose = (_config(repo / name / "config.pbtxt")
                         for name in ("kitpose_heatmaps", "kitpose_decode", "kitpose_pose"))
    assert (net.platform, net.max_batch_size, list(net.dynamic_batching.preferred_batch_size)) == \
        ("onnxruntime_onnx", 16, [4, 8, 16])
    assert net.dynamic_batching.max_queue_delay_microseconds == 500
    assert (net.instance_group[0].count, net.instance_group[0].kind) == (2, net.instance_group[0].KIND_GPU)
    assert list(net.input[0].dims) == [3, *meta.input_size]
    assert list(net.output[0].dims) == [meta.num_keypoints, *meta.heatmap_size]
    assert decode.backend == "python" and list(decode.output[0].dims) == [meta.num_keypoints, 3]
    assert pose.platform == "ensemble"
    steps = pose.ensemble_scheduling.step
    assert [s.model_name for s in steps] == ["kitpose_heatmaps", "kitpose_decode"]
    assert dict(steps[1].input_map) == {"heatmaps": "heatmaps", "crop": "crop"}
    props = {k: v.string_value for k, v in pose.parameters.items()}
    assert ModelMetadata.from_props(props, "ensemble parameters") == meta
    assert (repo / "kitpose_heatmaps" / "1" / "model.onnx").read_bytes() == small_onnx.read_bytes()
    assert (repo / "kitpose_decode" / "1" / "model.py").read_text() == Path(triton_decode.__file__).read_text()
    assert (repo / "kitpose_pose" / "1").is_dir()


def test_engine_is_served_as_a_plan(small_onnx, tmp_path):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"plan bytes")
    repo = write_repository(small_onnx, tmp_path / "repo", engine=engine)
    assert _config(repo / "kitpose_heatmaps" / "config.pbtxt").platform == "tensorrt_plan"
    assert (repo / "kitpose_heatmaps" / "1" / "model.plan").read_bytes() == b"plan bytes"
    assert not (repo / "kitpose_heatmaps" / "1" / "model.onnx").exists()


def test_decode_model_equals_the_compiled_twin():
    """The container's numpy DARK vs kitpose._C's CPU twin, random maps and the named edge cases."""
    rng = np.random.default_rng(0)
    cases = [random_heatmaps(1, (6, 17, 32, 24)), *heatmap_cases().values()]
    for maps in cases:
        centers, scales = rng.uniform(50, 300, (len(maps), 2)), rng.uniform(0.3, 2.0, (len(maps), 2))
        expected = decode_heatmaps(maps, centers, scales)
        got = triton_decode.decode(maps, affine_rows(centers, scales))
        np.testing.assert_allclose(got, expected, atol=TOLERANCES["dark_twin_px"], rtol=0)


def test_decode_model_rejects_mismatched_rows():
    with pytest.raises(ValueError, match=r"crop \(N, 5\), got \(2, 17, 8, 8\) and \(3, 5\)"):
        triton_decode.decode(np.zeros((2, 17, 8, 8), np.float32), np.zeros((3, 5), np.float32))


def test_ensemble_chain_equals_pose_estimator(small_onnx, real_frame):
    """Client crops -> the network -> the decode model: the ensemble's path gives the pipeline's keypoints."""
    frame, boxes = real_frame
    meta = read_model_metadata(small_onnx)
    crops, rows, kept = crop_rows(frame, boxes, meta)
    with OrtRunner(small_onnx) as run, PoseEstimator.from_file(small_onnx) as estimator:
        keypoints = triton_decode.decode(run(crops), rows)
        reference = estimator(frame, boxes)
    assert kept.all()
    np.testing.assert_allclose(keypoints, reference.keypoints, atol=SERVED_PX, rtol=0)


def test_export_cli_writes_the_repository(small_onnx, tmp_path, monkeypatch):
    """`kitpose export --triton DIR` passes the exported ONNX to write_repository (stages stubbed out)."""
    from kitpose.export import cli

    monkeypatch.setattr(cli, "_load_model", lambda spec, official: None)
    monkeypatch.setattr(cli, "export_variants", lambda *args, **kwargs: {"fp32": small_onnx})
    result = CliRunner().invoke(cli.export_cmd, ["--model", "x", "--out", str(tmp_path / "out"),
                                                 "--triton", str(tmp_path / "repo")])
    assert result.exit_code == 0, result.output
    assert f"triton: {tmp_path / 'repo'}" in result.output
    assert _config(tmp_path / "repo" / "kitpose_pose" / "config.pbtxt").platform == "ensemble"
