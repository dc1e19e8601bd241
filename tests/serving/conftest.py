"""Serving fixtures: a small random-weight ONNX, the serve env, one loopback server per module."""
import json
import subprocess

import cv2
import numpy as np
import pytest

from helpers import FIXTURES

PRESET = "kitpose-w8-128"  # as the runtime tests: the embedded default's shape, seconds to export
# Keypoints from the server vs PoseEstimator in the same environment: ONNX Runtime runs the crops in
# other batch compositions (a dynamic batch, other requests' crops), and its CPU kernels round batch
# sizes differently by ~1e-6 in heatmaps, which DARK turns into ~1e-5 px.
SERVED_PX = 1e-3

# PoseEstimator run inside the serve env: the server's numpy 1 / OpenCV 4.11 cut crops that differ from
# the main env's OpenCV 5 warpAffine by up to ~0.05 (normalised units; ~1 grey level), so "the same
# keypoints" is checked against the pipeline in the server's own environment.
_REFERENCE = """
import sys, numpy as np
from kitpose.runtime.pipeline import PoseEstimator
cases = np.load(sys.argv[2])
with PoseEstimator.from_file(sys.argv[1]) as estimator:
    out = {}
    for i in range(len(cases.files) // 2):
        poses = estimator(cases[f"image{i}"], cases[f"boxes{i}"])
        out[f"keypoints{i}"], out[f"boxes{i}"] = poses.keypoints, poses.boxes
np.savez(sys.argv[3], **out)
"""


def serve_env_poses(env_dir, model, cases, tmp_path):
    """[(keypoints (N, K, 3), boxes (N, 4))] of PoseEstimator in the serve env for [(image, boxes)]."""
    from kitpose.serving.interpreter import env_python

    arrays = {f"{name}{i}": array for i, case in enumerate(cases) for name, array in zip(("image", "boxes"), case)}
    np.savez(tmp_path / "cases.npz", **arrays)
    subprocess.run([str(env_python(env_dir)), "-c", _REFERENCE, str(model), str(tmp_path / "cases.npz"),
                    str(tmp_path / "poses.npz")], check=True, capture_output=True)
    out = np.load(tmp_path / "poses.npz")
    return [(out[f"keypoints{i}"], out[f"boxes{i}"]) for i in range(len(cases))]


@pytest.fixture(scope="session")
def small_onnx(tmp_path_factory):
    """KITPose w8 128x128, seeded random weights, exported with kitpose.export.export_onnx."""
    torch = pytest.importorskip("torch")
    from kitpose.export import export_onnx
    from kitpose.models import create_model

    torch.manual_seed(0)
    return export_onnx(create_model(PRESET).eval(), tmp_path_factory.mktemp("onnx") / "small.onnx")


@pytest.fixture(scope="session")
def serve_env():
    """The serve env (`make serve-env` builds it before the suite; built here when it is missing)."""
    from kitpose.serving.interpreter import create_env, default_env_dir, env_ready, link_kitpose

    env_dir = default_env_dir()
    if env_ready(env_dir):
        link_kitpose(env_dir)
    else:
        create_env(env_dir)
    return env_dir


@pytest.fixture(scope="module")
def server(serve_env, small_onnx, tmp_path_factory):
    """`kitpose serve` on free loopback ports (max 8 boxes, statistics open); must stop cleanly."""
    from kitpose.serving.launch import ServerProcess

    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process = ServerProcess(small_onnx, log, ("--max-boxes", "8", "--statistics", "--exit-timeout", "5")).start()
    yield process
    assert process.stop() == 0, f"server did not stop cleanly:\n{process.log_tail()}"
    assert "kitpose serve: stopped" in process.log_tail()


@pytest.fixture(scope="session")
def real_frame():
    """An AP-10K fixture image (BGR) and its ground-truth boxes (N, 4) x, y, w, h."""
    ann = FIXTURES / "ap10k" / "test_ap10k.json"
    if not ann.is_file():
        pytest.skip(f"{ann} is missing (the shared fixtures sit beside the checkout)")
    data = json.loads(ann.read_text())
    image = data["images"][0]
    frame = cv2.imread(str(ann.parent / image["file_name"]))
    if frame is None:
        pytest.skip(f"{ann.parent / image['file_name']} is missing or unreadable")
    boxes = [a["bbox"] for a in data["annotations"] if a["image_id"] == image["id"]]
    return frame, np.asarray(boxes, np.float32)

