"""The staged pipelines against the runtime and the model they take apart."""
import cv2
import numpy as np
import pytest

from kitpose.bench.frames import synthetic_frame
from kitpose.bench.pipelines import STAGES, OfficialPipeline, StagedPipeline


def test_synthetic_frame_holds_n_animals():
    data, boxes = synthetic_frame(5, (240, 320), seed=3)
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (240, 320, 3) and boxes.shape == (5, 4)
    assert (boxes[:, 2:] > 10).all() and (boxes[:, 0] + boxes[:, 2] <= 320).all()
    assert synthetic_frame(5, (240, 320), seed=3)[0] == data  # deterministic
    with pytest.raises(ValueError, match="count must be >= 1"):
        synthetic_frame(0)


@pytest.fixture(scope="module")
def ort_runner(tiny_bench):
    from kitpose.runtime.ort_runner import OrtRunner

    with OrtRunner(tiny_bench.onnx["fp32"], threads=1) as runner:
        yield runner


def test_staged_ort_equals_pose_estimator(ort_runner):
    from kitpose.runtime.pipeline import PoseEstimator

    data, boxes = synthetic_frame(3, (240, 320))
    laps = {}
    records = StagedPipeline(ort_runner, ort_runner.metadata, max_batch=2).run(data, boxes, laps)
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    poses = PoseEstimator(ort_runner, ort_runner.metadata, max_batch=2)(frame, boxes)
    got = np.array([r["keypoints"] for r in records])  # (N, K, 3), rounded to 1e-3
    np.testing.assert_allclose(got, poses.keypoints, atol=6e-4)
    assert sorted(laps) == sorted(STAGES) and all(len(v) == 1 for v in laps.values())


def test_official_forward_matches_the_model(tiny_bench):
    torch = pytest.importorskip("torch")
    from kitpose.bench.official import official_forward

    x = torch.randn(2, 3, *tiny_bench.input_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expect = tiny_bench.model(x).heatmaps
    # same layers, clustering by the official routine: equal labels give the same maps up to
    # float32 summation order in the cluster means
    torch.testing.assert_close(official_forward(tiny_bench.model, x), expect, atol=1e-5, rtol=1e-5)


def test_official_pipeline_agrees_with_torch_pipeline(tiny_bench, ort_runner):
    from kitpose.runtime.torch_runner import TorchRunner

    data, boxes = synthetic_frame(2, (240, 320))
    torch_records = StagedPipeline(TorchRunner(tiny_bench.model), ort_runner.metadata).run(data, boxes)
    official_records = OfficialPipeline(tiny_bench.model, ort_runner.metadata).run(data, boxes)
    a = np.array([r["keypoints"] for r in torch_records])
    b = np.array([r["keypoints"] for r in official_records])
    # per-map NumPy DARK + per-point affine vs the compiled twin: float32 rounding only (< 0.01 px),
    # crops are the same bilinear warp; scores equal to the rounding of the records
    np.testing.assert_allclose(a[..., :2], b[..., :2], atol=1e-2)
    np.testing.assert_allclose(a[..., 2], b[..., 2], atol=2e-3)


def test_model_metadata_equals_the_exported_files(tiny_bench, ort_runner):
    from kitpose.bench.models import model_metadata

    assert model_metadata(tiny_bench) == ort_runner.metadata


def _keypoints(records):
    return np.array([r["keypoints"] for r in records])  # (N, K, 3)


@pytest.fixture(scope="module")
def trained():
    """The embedded default model (trained: its keypoints follow the image, unlike random weights')."""
    from kitpose.bench.models import load_bench_model, model_metadata

    bench = load_bench_model("default")
    assert bench.weights == "trained"
    return bench, model_metadata(bench)


def _torch_pipeline_keypoints(bench, meta, data, boxes):
    import copy

    from kitpose.runtime.torch_runner import TorchRunner

    return _keypoints(StagedPipeline(TorchRunner(copy.deepcopy(bench.model)), meta).run(data, boxes))


def test_kernel_pipeline_on_the_cpu_equals_the_torch_pipeline(trained):
    import copy

    from kitpose.bench.kernel_pipeline import KernelPipeline

    bench, meta = trained
    data, boxes = synthetic_frame(3, (240, 320))
    laps = {}
    pipe = KernelPipeline(copy.deepcopy(bench.model), meta, max_batch=2, device="cpu")
    got = _keypoints(pipe.run(data, boxes, laps))
    expect = _torch_pipeline_keypoints(bench, meta, data, boxes)
    # same crops (the warp twin reads BGR as RGB like warp_crops), model and DARK: record rounding only;
    # crops read without the R/B swap move keypoints by about a pixel
    np.testing.assert_allclose(got, expect, atol=2e-3)
    assert pipe.precision == "fp32" and set(laps) == {*STAGES, "kernels/warp_affine", "kernels/dark_decode"}


def test_compiled_kernel_pipeline_on_the_cpu_equals_the_torch_pipeline(trained):
    """kernels-compile: the model through torch.compile (inductor's C++ code here) gives the eager
    pipeline's keypoints up to float reassociation."""
    import copy

    from kitpose.bench.kernel_pipeline import KernelPipeline

    bench, meta = trained
    data, boxes = synthetic_frame(2, (240, 320))
    pipe = KernelPipeline(copy.deepcopy(bench.model), meta, max_batch=2, device="cpu", compile_model=True)
    got = _keypoints(pipe.run(data, boxes))
    expect = _torch_pipeline_keypoints(bench, meta, data, boxes)
    np.testing.assert_allclose(got, expect, atol=1e-2)
    assert type(pipe.model).__name__ == "OptimizedModule"


@pytest.mark.cuda
def test_kernel_pipeline_on_the_gpu_agrees_with_the_fp32_cpu_pipeline(trained):
    import copy

    from kitpose.bench.kernel_pipeline import KernelPipeline

    bench, meta = trained
    data, boxes = synthetic_frame(5, (240, 320))
    pipe = KernelPipeline(copy.deepcopy(bench.model), meta, max_batch=4, device="cuda")
    for _ in range(2):  # the second frame replays the captured graphs (buckets 4 and 1)
        got = _keypoints(pipe.run(data, boxes))
    assert sorted(pipe.graphs) == [1, 4] and pipe.precision == "fp16"
    expect = _torch_pipeline_keypoints(bench, meta, data, boxes)
    # fp16 model: peaks move by a fraction of a heatmap pixel (4 frame px here) at most
    err = np.abs(got[..., :2] - expect[..., :2])
    assert np.median(err) < 0.5 and err.max() < 4.0, (np.median(err), err.max())
    np.testing.assert_allclose(got[..., 2], expect[..., 2], atol=2e-2)


@pytest.mark.cuda
def test_compiled_kernel_pipeline_on_the_gpu_agrees_with_the_fp32_cpu_pipeline(trained):
    """kernels-compile on a GPU: each bucket's CUDA graph captures torch.compile's code."""
    import copy

    from kitpose.bench.kernel_pipeline import KernelPipeline

    bench, meta = trained
    data, boxes = synthetic_frame(4, (240, 320))
    pipe = KernelPipeline(copy.deepcopy(bench.model), meta, max_batch=4, device="cuda", compile_model=True)
    for _ in range(2):  # the second frame replays the captured graph
        got = _keypoints(pipe.run(data, boxes))
    assert sorted(pipe.graphs) == [4]
    expect = _torch_pipeline_keypoints(bench, meta, data, boxes)
    err = np.abs(got[..., :2] - expect[..., :2])
    assert np.median(err) < 0.5 and err.max() < 4.0, (np.median(err), err.max())
