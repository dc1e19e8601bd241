"""The GPU pipeline stage (kitpose/runtime/cuda_stage.py: frame upload -> warp kernel into the engine's
input buffer -> engine -> DARK kernel -> keypoints to the host) run end to end without a GPU.

Three stand-ins meet here: the fake `tensorrt`/cuda-python modules of tests/fake_trt.py (host memory
behind "device" pointers), an engine whose network is the embedded default model in ONNX Runtime,
and the emulated CUDA build of kitpose._C (tests/emulated_cuda.py), whose warp and DARK kernels run
their own code on those pointers. So CudaStage's plumbing (buffer sizes, argument order, the R/B
swap, the inverse affine, batches above the engine's maximum) is checked against the CPU pipeline on
the same frame. A real GPU, TensorRT and cuda-python are what `make gpu-check` and the cuda tests add.
"""
import cv2
import numpy as np
import pytest

from fake_trt import install
from kitpose.bench.frames import synthetic_frame
from kitpose.runtime.runners import open_runner
from kitpose.runtime.model_files import resolve_model
from kitpose.runtime.pipeline import PoseEstimator

# Keypoints of the two pipelines on the same frame (frame pixels): measured at most 1.2e-4 px apart
# (the GPU warp may differ from cv2.warpAffine by one uint8 level on a few pixels, and the DARK
# twins by float32 rounding); a wrong matrix, channel order or decode moves them by pixels.
KEYPOINT_PX = 1e-3


@pytest.fixture(scope="module")
def default_onnx():
    return resolve_model("default")


def ort_network(onnx):
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    return lambda x: session.run(["heatmaps"], {"input": np.ascontiguousarray(x)})[0]


@pytest.mark.parametrize("animals", [3, 10], ids=["one-batch", "beyond-max-batch"])
def test_gpu_stage_matches_the_cpu_pipeline(monkeypatch, tmp_path, cuda_emu, default_onnx, animals):
    engine = tmp_path / "model.engine"
    fake = install(monkeypatch, default_onnx, engine, ort_network(default_onnx))
    monkeypatch.setattr("kitpose.native_calls.require_cuda", lambda what: cuda_emu)
    data, boxes = synthetic_frame(animals, (360, 640), seed=animals)
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    with PoseEstimator.from_file(default_onnx, "ort") as cpu:
        want = cpu(frame, boxes)
    runner = open_runner(engine)
    with PoseEstimator(runner, runner.metadata, device="cuda") as gpu:
        got = gpu(frame, boxes)
        assert len(gpu(frame, boxes[:0]).keypoints) == 0  # a frame without boxes runs nothing

    assert got.keypoints.shape == want.keypoints.shape == (animals, 17, 3)
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_allclose(got.keypoints[..., :2], want.keypoints[..., :2], atol=KEYPOINT_PX, rtol=0)
    np.testing.assert_allclose(got.keypoints[..., 2], want.keypoints[..., 2], atol=1e-4, rtol=0)  # measured 3.6e-6
    assert fake.plain_runs == -(-animals // runner.max_batch)  # one engine run per max-batch chunk
