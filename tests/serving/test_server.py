"""A real Triton server on loopback (`kitpose serve` in the serve env) against the in-process pipeline."""
import json
import signal
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from click.testing import CliRunner

from kitpose.bench import triton as bench_triton
from kitpose.serving.tensors import MODEL_NAME
from kitpose.serving.client import PoseClient, ServingError

from .conftest import SERVED_PX, serve_env_poses


def _url(server, protocol):
    return server.http_url if protocol == "http" else server.grpc_url


def _synthetic(frame):
    return frame, np.array([[10, 10, 60, 50], [40, 20, 70, 60], [500, 500, 10, 10]], np.float32)  # last: outside


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_same_keypoints_as_in_process(server, serve_env, small_onnx, frame, real_frame, tmp_path, protocol):
    cases = [_synthetic(frame), real_frame]
    references = serve_env_poses(serve_env, small_onnx, cases, tmp_path)
    with PoseClient(_url(server, protocol), protocol) as client:
        for (image, boxes), (keypoints, kept_boxes) in zip(cases, references):
            served = client.infer(image, boxes, request_id=f"{protocol}-parity")
            assert served.request_id == f"{protocol}-parity"
            poses = served.to_poses(boxes)
            np.testing.assert_array_equal(poses.boxes, kept_boxes)
            np.testing.assert_allclose(poses.keypoints, keypoints, atol=SERVED_PX, rtol=0)
            assert np.isnan(served.keypoints[~served.kept]).all()
    assert [len(k) for k, _ in references] == [2, len(real_frame[1])]


def test_health_endpoints(server):
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL_NAME}/ready"):
        with urllib.request.urlopen(f"http://{server.http_url}{path}", timeout=10) as response:
            assert response.status == 200, path
    config = json.load(urllib.request.urlopen(f"http://{server.http_url}/v2/models/{MODEL_NAME}/config"))
    assert config["max_batch_size"] == 16 and config["dynamic_batching"]["preferred_batch_size"] == [4, 8, 16]
    with PoseClient(server.grpc_url, "grpc") as client:
        assert client.ready()


def _answers_200(server, path):
    try:
        with urllib.request.urlopen(f"http://{server.http_url}{path}", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def test_ready_means_the_model_answers(serve_env, small_onnx, frame, tmp_path):
    """A load balancer probing /v2/health/ready sent traffic too early: PyTriton started Triton, which then
    said ready, before it loaded the model ('unknown model'). Now the first moment Triton says ready, the
    model is ready and answers; `kitpose serve` prints ready after that, naming the model's endpoint."""
    from kitpose.serving.launch import ServerProcess

    server = ServerProcess(small_onnx, tmp_path / "serve.log").launch()
    try:
        deadline = time.monotonic() + 120
        while not _answers_200(server, "/v2/health/ready"):
            assert server.process.poll() is None and time.monotonic() < deadline, server.log_tail()
            time.sleep(0.01)
        assert _answers_200(server, f"/v2/models/{MODEL_NAME}/ready")
        with PoseClient(server.http_url) as client:
            assert len(client.poses(frame, np.array([[10, 10, 60, 50]], np.float32))) == 1
            client.wait_ready()
        while "kitpose serve: ready" not in server.log_tail(100_000):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        [line] = [t for t in server.log_tail(100_000).splitlines() if t.startswith("kitpose serve: ready")]
        assert f"ready=http://{server.http_url}/v2/models/{MODEL_NAME}/ready" in line
    finally:
        assert server.stop() == 0, server.log_tail()


def _raw(client, image, boxes, request_id):
    """Send the arrays as they are (no client-side checks), return the server's error text or ''."""
    try:
        client.infer_inputs(client.inputs(image, boxes), request_id)
    except ServingError as err:
        return str(err)
    return ""


MALFORMED = {
    "dtype": (np.zeros((8, 8, 3), np.float32), np.ones((1, 4)),
              "data-type is 'FP32', but model 'kitpose_pose' expects 'UINT8'"),
    "shape": (np.zeros((8, 8, 4), np.uint8), np.ones((1, 4)), "unexpected shape for input 'image'"),
    "boxes-shape": (np.zeros((8, 8, 3), np.uint8), np.ones((1, 5)), "unexpected shape for input 'boxes'"),
    "empty-image": (np.zeros((0, 8, 3), np.uint8), np.ones((1, 4)), "RequestError: image: empty image of shape (0, 8, 3)"),
    "too-wide": (np.zeros((1, 32767, 3), np.uint8), np.ones((1, 4)), "RequestError: image: (h, w) = (1, 32767)"),
    "too-many-boxes": (np.zeros((8, 8, 3), np.uint8), np.ones((9, 4)), "RequestError: boxes: 9 boxes for one image, "
                       "more than the server's --max-boxes 8"),
}


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_malformed_requests_fail_clearly_and_serving_goes_on(server, frame, protocol):
    boxes = np.array([[10, 10, 60, 50]], np.float32)
    with PoseClient(_url(server, protocol), protocol) as client:
        reference = client.poses(frame, boxes)
        for name, (image, bad_boxes, message) in MALFORMED.items():
            error = _raw(client, image, bad_boxes.astype(np.float32), name)
            assert message in error, f"{name}: {error!r}"
            assert f"request {name}:" in error
            np.testing.assert_allclose(client.poses(frame, boxes).keypoints, reference.keypoints, atol=SERVED_PX)
        with pytest.raises(ValueError, match=r"h, w >= 1, got \(0, 8, 3\)"):
            client.infer(np.zeros((0, 8, 3), np.uint8), boxes)  # the helper refuses it before sending
        assert client.infer(frame, np.zeros((0, 4))).keypoints.shape == (0, 17, 3)  # answered locally
        served = client.infer_inputs(client.inputs(frame, np.zeros((0, 4), np.float32)), "no-boxes")
        assert served.keypoints.shape == (0, 17, 3) and served.kept.shape == (0,)  # sent: answered too


def _post_json(server, image, boxes):
    """POST an inference request as Triton's JSON; (HTTP status, parsed body)."""
    body = json.dumps({"inputs": [
        {"name": name, "shape": [1, *array.shape], "datatype": datatype, "data": array.reshape(-1).tolist()}
        for name, array, datatype in (("image", image, "UINT8"), ("boxes", boxes, "FP32"))]}).encode()
    request = urllib.request.Request(f"http://{server.http_url}/v2/models/{MODEL_NAME}/infer", body,
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize("image, boxes, message", [
    (np.zeros((1, 32767, 3), np.uint8), np.array([[0, 0, 100, 1]], np.float32), "(h, w) = (1, 32767)"),
    (np.zeros((0, 8, 3), np.uint8), np.ones((1, 4), np.float32), "empty image of shape (0, 8, 3)"),
    (np.zeros((8, 8, 3), np.uint8), np.ones((9, 4), np.float32), "9 boxes for one image"),
], ids=["width-32767", "zero-size-image", "too-many-boxes"])
def test_bad_requests_get_400_and_one_line(server, image, boxes, message):
    """Not HTTP 500 with PyTriton's proxy traceback and its temporary workspace path."""
    status, body = _post_json(server, image, boxes)
    assert status == 400, body
    error = body["error"]
    assert error.startswith("RequestError: ") and message in error and "\n" not in error
    for internal in ("Traceback", ".py", "workspace", "/tmp", "/root"):
        assert internal not in error, error


def test_zero_boxes_are_answered(server):
    status, body = _post_json(server, np.zeros((8, 8, 3), np.uint8), np.zeros((0, 4), np.float32))
    assert status == 200, body
    shapes = {out["name"]: out["shape"] for out in body["outputs"]}
    assert shapes == {"keypoints": [1, 0, 17, 3], "kept": [1, 0]}


def test_malformed_beside_good_requests(server, frame):
    """Malformed and good requests in flight together: each good one gets the answer it gets alone."""
    boxes = np.array([[10, 10, 60, 50], [30, 20, 50, 60]], np.float32)
    with PoseClient(server.http_url) as client:
        reference = client.poses(frame, boxes).keypoints
    results, lock = [], threading.Lock()

    def send(i):
        with PoseClient(server.http_url) as client:
            bad = i % 2 == 1
            outcome = _raw(client, frame, np.ones((9, 4), np.float32), str(i)) if bad else \
                client.infer(frame, boxes, request_id=str(i))
            with lock:
                results.append((i, bad, outcome))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(i for i, _, _ in results) == list(range(8))
    for i, bad, outcome in results:
        if bad:
            assert "--max-boxes 8" in outcome
        else:
            assert outcome.request_id == str(i)
            np.testing.assert_allclose(outcome.keypoints, reference, atol=SERVED_PX, rtol=0)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_bounded_load(server, tmp_path, protocol):
    """8 clients, ids checked: every request answered or failed clearly, none lost or duplicated."""
    out = tmp_path / "load.jsonl"
    code = bench_triton.main(["--url", _url(server, protocol), "--protocol", protocol, "--concurrency", "8",
                              "--requests", "120", "--time-limit", "60", "--boxes", "3", "--image-size", "120x160",
                              "--malformed-every", "20", "--json", str(out)])
    row = json.loads(out.read_text().splitlines()[-1])
    assert code == 0, row["problems"]
    assert (row["sent"], row["lost"], row["duplicated"], row["unexpected"]) == (120, 0, 0, 0)
    assert row["answered"] + row["failed"] == 120 and row["failed"] == row["malformed_sent"] == 6
    assert row["latency_ms"]["count"] == row["answered"] and row["throughput_rps"] > 0
    assert row["system"]["kitpose"] and row["command"].startswith("python -m kitpose.bench.triton --url")


def test_sigint_stops_cleanly(serve_env, small_onnx, tmp_path):
    from kitpose.serving.launch import ServerProcess

    with ServerProcess(small_onnx, tmp_path / "serve.log") as server:
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=30) == 0, server.log_tail()
    assert "kitpose serve: stopped" in server.log_tail()


def test_missing_env_is_a_clear_error(small_onnx, tmp_path, monkeypatch):
    from kitpose.serving.cli import serve_cmd

    result = CliRunner().invoke(serve_cmd, ["--model", str(small_onnx), "--env", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no serve env at" in result.output and "kitpose serve --setup-env" in result.output


def test_serve_started_outside_the_checkout(serve_env, small_onnx, frame, tmp_path):
    """`kitpose serve` from another working directory (the serve env's .pth once held a relative path)."""
    from kitpose.serving.launch import ServerProcess

    with ServerProcess(small_onnx, tmp_path / "serve.log", cwd=tmp_path) as server:
        with PoseClient(server.http_url) as client:
            assert len(client.poses(frame, np.array([[10, 10, 60, 50]], np.float32))) == 1
