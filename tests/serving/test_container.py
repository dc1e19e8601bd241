"""The `kitpose export --triton` repository loaded by a real tritonserver (the one nvidia-pytriton ships).

That binary has the Python backend only, so the network model runs through a Python-backend stand-in
with ONNX Runtime (ort_heatmaps_model.py); the ensemble, its dynamic batching configs, the decode
model and EnsembleClient are the real ones a container would serve.
"""
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from kitpose.runtime.pipeline import PoseEstimator
from kitpose.serving.client import EnsembleClient, PoseClient
from kitpose.serving.interpreter import env_python, stub_environment
from kitpose.serving.launch import free_ports
from kitpose.serving.repository import TritonSettings, write_repository

from .conftest import SERVED_PX

STAND_IN = Path(__file__).with_name("ort_heatmaps_model.py")


def _bundled_triton(env_dir: Path, dst: Path) -> Path:
    """tritonserver and its Python backend (with this Python's stub) copied from the serve env's pytriton."""
    query = "import pytriton, sys; print(pytriton.__path__[0]); print('%d.%d' % sys.version_info[:2])"
    root, minor = subprocess.run([str(env_python(env_dir)), "-c", query], capture_output=True, text=True,
                                 check=True).stdout.split()
    shutil.copytree(Path(root) / "tritonserver", dst, ignore=shutil.ignore_patterns("python_backend_stubs"))
    shutil.copy(Path(root) / "tritonserver" / "python_backend_stubs" / minor / "triton_python_backend_stub",
                dst / "backends" / "python")
    return Path(root).parent / "nvidia_pytriton.libs"


@pytest.fixture(scope="module")
def repository(small_onnx, tmp_path_factory):
    repo = write_repository(small_onnx, tmp_path_factory.mktemp("repo"),
                            TritonSettings(max_batch=8, preferred=(4, 8), kind="KIND_CPU"))
    config = repo / "kitpose_heatmaps" / "config.pbtxt"
    config.write_text(config.read_text().replace('platform: "onnxruntime_onnx"', 'backend: "python"'))
    shutil.copy(STAND_IN, repo / "kitpose_heatmaps" / "1" / "model.py")
    return repo


@pytest.fixture(scope="module")
def container(serve_env, repository, tmp_path_factory):
    """tritonserver --model-repository=<repository> on loopback; yields (http, grpc) urls."""
    root = tmp_path_factory.mktemp("tritonserver")
    libs = _bundled_triton(serve_env, root / "ts")
    env = stub_environment()  # the stub must load this Python's libpython (interpreter.py)
    env["LD_LIBRARY_PATH"] += f":{libs}"
    env["PATH"] = f"{env_python(serve_env).parent}:{env['PATH']}"  # the stub's Python finds the serve env
    http, grpc, metrics = free_ports(3)
    log = (root / "tritonserver.log").open("w")
    process = subprocess.Popen([str(root / "ts" / "bin" / "tritonserver"), f"--model-repository={repository}",
                                f"--backend-directory={root / 'ts' / 'backends'}", f"--http-port={http}",
                                f"--grpc-port={grpc}", f"--metrics-port={metrics}", "--http-address=127.0.0.1",
                                "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1"],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    urls = (f"127.0.0.1:{http}", f"127.0.0.1:{grpc}")
    deadline = time.monotonic() + 90
    with PoseClient(urls[0], model="kitpose_pose") as probe:
        while not probe.ready():
            alive = process.poll() is None and time.monotonic() < deadline
            assert alive, (root / "tritonserver.log").read_text()[-3000:]
            time.sleep(0.25)
    yield urls
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    log.close()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_ensemble_gives_the_pipelines_keypoints(container, small_onnx, real_frame, protocol):
    frame, boxes = real_frame
    many = np.concatenate([boxes] * 9 + [[[5000, 5000, 10, 10]]]).astype(np.float32)  # >= 9 crops > max_batch 8
    with EnsembleClient(container[protocol == "grpc"], protocol) as client, \
            PoseEstimator.from_file(small_onnx) as estimator:
        assert client.metadata == estimator.metadata and client.max_batch == 8
        served = client.infer(frame, many, request_id="ensemble")
        reference = estimator(frame, many)
    assert served.kept.tolist() == [True] * (len(many) - 1) + [False]
    np.testing.assert_allclose(served.to_poses(many).keypoints, reference.keypoints, atol=SERVED_PX, rtol=0)


def test_decode_model_matches_in_triton(container, small_onnx):
    """The decode model alone over HTTP: heatmaps + crop rows -> the C++ twin's keypoints."""
    import tritonclient.http as http

    from helpers import random_heatmaps
    from kitpose.runtime.decode import affine_rows, decode_heatmaps

    maps = random_heatmaps(2, (5, 17, 32, 32))
    centers, scales = np.random.default_rng(1).uniform(50, 300, (5, 2)), np.full((5, 2), 0.8)
    inputs = [http.InferInput("heatmaps", list(maps.shape), "FP32"),
              http.InferInput("crop", [5, 5], "FP32")]
    inputs[0].set_data_from_numpy(maps)
    inputs[1].set_data_from_numpy(affine_rows(centers, scales))
    client = http.InferenceServerClient(container[0])
    keypoints = client.infer("kitpose_decode", inputs).as_numpy("keypoints")
    np.testing.assert_allclose(keypoints, decode_heatmaps(maps, centers, scales), atol=1e-4, rtol=0)
    config = client.get_model_config("kitpose_heatmaps")
    assert config["dynamic_batching"]["preferred_batch_size"] == [4, 8] and json.dumps(config)
