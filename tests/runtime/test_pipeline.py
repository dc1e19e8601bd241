"""Crops, decode and the whole PoseEstimator: hand cases first, then ORT vs the PyTorch model."""
import numpy as np
import pytest

from kitpose.runtime.decode import decode_heatmaps
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.pipeline import PoseEstimator, flip_back
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops

META = ModelMetadata(keypoint_names=("a", "b"), skeleton=((0, 1),), flip_pairs=((0, 1),),
                     sigmas=(0.1, 0.1), input_size=(8, 8), heatmap_size=(8, 8))


def test_box_center_goes_to_crop_center():
    # box (10, 20, 40, 40) spans pixels 10..49 (sanitised w = 39, official convention): centre
    # (29.5, 39.5), crop 39 * 1.25 = 48.75 px; UDP maps the centre to (3.5, 3.5)
    centers, scales, kept = boxes_to_crops(np.array([[10, 20, 40, 40]]), (100, 100), (8, 8))
    np.testing.assert_allclose(centers, [[29.5, 39.5]])
    np.testing.assert_allclose(scales, [[48.75 / 200, 48.75 / 200]])
    mat = crop_matrices(centers, scales, (8, 8))[0]
    np.testing.assert_allclose(mat @ [29.5, 39.5, 1.0], [3.5, 3.5])
    np.testing.assert_allclose(mat[0, 0], 7.0 / 47.75)  # (w_out - 1) / (crop_w - 1)


def test_box_outside_frame_is_dropped():
    _, _, kept = boxes_to_crops(np.array([[500, 500, 10, 10], [0, 0, 5, 5]]), (100, 100), (8, 8))
    assert kept.tolist() == [False, True]


def test_warp_normalises_rgb():
    # a flat BGR frame (10, 20, 30): every crop pixel is (RGB / 255 - mean) / std
    frame = np.zeros((50, 50, 3), np.uint8)
    frame[:] = (10, 20, 30)
    mats = crop_matrices(np.array([[25.0, 25.0]]), np.array([[0.1, 0.1]]), (8, 8))
    crops = warp_crops(frame, mats, (8, 8), mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    expect = (np.array([30, 20, 10]) / 255.0 - 0.5) / np.array([0.25, 0.5, 1.0])
    np.testing.assert_allclose(crops[0, :, 4, 4], expect, atol=1e-6)


def gaussian_maps(points_hm, size=(16, 16), sigma=1.5):
    """(1, K, H, W) Gaussians centred on heatmap points (K, 2)."""
    ys, xs = np.mgrid[:size[0], :size[1]]
    maps = [np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2)) for x, y in points_hm]
    return np.asarray(maps, np.float32)[None]


def test_decode_maps_back_to_frame():
    # 16 px crop around (100, 50) and 16 px maps: (W - 1) / (16 - 1) = 1 frame px per map px
    center, scale = np.array([[100.0, 50.0]]), np.array([[16.0 / 200, 16.0 / 200]])
    maps = gaussian_maps([(7.5, 7.5), (4.25, 10.5)])
    kp = decode_heatmaps(maps, center, scale)
    np.testing.assert_allclose(kp[0, :, :2], [[100.0, 50.0], [96.75, 53.0]], atol=0.05)
    np.testing.assert_allclose(kp[0, :, 2], maps.max(axis=(2, 3))[0], rtol=1e-6)


def test_flip_back_mirrors_and_swaps():
    maps = np.arange(2 * 2 * 3, dtype=np.float32).reshape(1, 2, 2, 3)
    out = flip_back(maps, [(0, 1)])
    np.testing.assert_array_equal(out[0, 0], maps[0, 1, :, ::-1])
    np.testing.assert_array_equal(out[0, 1], maps[0, 0, :, ::-1])


class _ConstRunner:
    """Returns fixed Gaussians at heatmap (x, y) = (2, 3) and (5, 5) for every crop."""

    def __init__(self):
        self.calls = []

    def __call__(self, inputs):
        self.calls.append(inputs.shape)
        maps = gaussian_maps([(2.0, 3.0), (5.0, 5.0)], size=(8, 8), sigma=1.0)
        return np.repeat(maps, len(inputs), axis=0)

    def close(self):
        pass


def test_estimator_batches_and_maps_to_frame():
    runner = _ConstRunner()
    est = PoseEstimator(runner, META, max_batch=2)
    # w = 9 sanitises to 8: centre x + 4, crop 8 * 1.25 = 10 px, (10 - 1) / 7 frame px per map px
    boxes = np.array([[0, 0, 9, 9], [10, 10, 9, 9], [20, 0, 9, 9]])
    poses = est(np.zeros((40, 40, 3), np.uint8), boxes)
    assert [s[0] for s in runner.calls] == [2, 1]
    assert poses.keypoints.shape == (3, 2, 3)
    centers = boxes[:, :2] + 4.0
    k = 9.0 / 7.0
    expect = centers[:, None, :] + k * (np.array([[2.0, 3.0], [5.0, 5.0]]) - 3.5)
    np.testing.assert_allclose(poses.keypoints[..., :2], expect, atol=0.05)


def test_flip_test_without_pairs_is_refused():
    meta = ModelMetadata(("a",), (), (), (0.1,), (8, 8), (8, 8))
    with pytest.raises(ValueError, match="flip pairs"):
        PoseEstimator(_ConstRunner(), meta, flip_test=True)


def test_gpu_crops_need_an_engine_runner():
    with pytest.raises(ValueError, match="TensorRT engine runner, got _ConstRunner"):
        PoseEstimator(_ConstRunner(), META, device="cuda")


def _frame_and_boxes():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    return frame, np.array([[10, 10, 60, 80], [40, 20, 100, 90], [0, 0, 160, 120]])


def test_ort_matches_torch_model(small_model, small_onnx):
    from kitpose.runtime.ort_runner import OrtRunner
    from kitpose.runtime.torch_runner import TorchRunner

    frame, boxes = _frame_and_boxes()
    with OrtRunner(small_onnx) as ort_runner:
        meta = ort_runner.metadata
        ort_kp = PoseEstimator(ort_runner, meta)(frame, boxes).keypoints
    torch_kp = PoseEstimator(TorchRunner(small_model), meta)(frame, boxes).keypoints
    assert ort_kp.shape == (3, 17, 3)
    # Random-weight maps are nearly flat, so DARK's Newton step sometimes flies far off the frame;
    # there it amplifies ORT's ~1e-7 heatmap differences. Keypoints in the frame: 1e-3 px.
    inside = ((torch_kp[..., 0] >= 0) & (torch_kp[..., 0] < 160) & (torch_kp[..., 1] >= 0)
              & (torch_kp[..., 1] < 120))
    assert inside.sum() >= 25, f"only {inside.sum()} of 51 keypoints in the frame"
    np.testing.assert_allclose(ort_kp[inside][:, :2], torch_kp[inside][:, :2], atol=1e-3, rtol=0)
    np.testing.assert_allclose(ort_kp[..., :2], torch_kp[..., :2], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(ort_kp[..., 2], torch_kp[..., 2], atol=1e-5)


def test_flip_test_heatmaps_match_torch(small_model, small_onnx):
    # Flip-averaged random maps are near-symmetric with argmax ties that 1e-7 differences break
    # either way, so the flip path is compared on the averaged heatmaps themselves.
    from kitpose.runtime.ort_runner import OrtRunner
    from kitpose.runtime.torch_runner import TorchRunner

    frame, boxes = _frame_and_boxes()
    with OrtRunner(small_onnx) as ort_runner:
        est = PoseEstimator(ort_runner, ort_runner.metadata, flip_test=True)
        mats = crop_matrices(*boxes_to_crops(boxes, frame.shape[:2], (128, 128))[:2], (128, 128))
        crops = warp_crops(frame, mats, (128, 128), est.metadata.mean, est.metadata.std)
        ort_maps = est.heatmaps(crops)
        assert est(frame, boxes).keypoints.shape == (3, 17, 3)
    torch_maps = PoseEstimator(TorchRunner(small_model), est.metadata, flip_test=True).heatmaps(crops)
    plain = TorchRunner(small_model)(crops)
    np.testing.assert_allclose(ort_maps, torch_maps, atol=1e-5)
    mirrored = TorchRunner(small_model)(crops[..., ::-1].copy())
    expect = 0.5 * (plain + flip_back(mirrored, est.metadata.flip_pairs))
    np.testing.assert_allclose(torch_maps, expect, atol=1e-6)


def test_cuda_device_with_an_onnx_file_says_crops_stay_on_the_cpu(monkeypatch, small_onnx, caplog):
    """device="cuda" on an ONNX file runs ORT's GPU providers with CPU crops, and says so."""
    from kitpose.runtime import pipeline
    from kitpose.runtime.ort_runner import OrtRunner

    monkeypatch.setattr(pipeline, "open_runner", lambda *args: OrtRunner(small_onnx))  # no GPU here
    with caplog.at_level("WARNING", logger="kitpose.runtime"), \
            PoseEstimator.from_file(small_onnx, device="cuda") as est:
        assert est._cuda is None
    assert "crops and DARK decode stay on the CPU" in caplog.text


@pytest.fixture()
def fake_engine(monkeypatch, small_onnx, tmp_path):
    """A TrtRunner over the fake TensorRT modules (tests/fake_trt.py; profile max batch 8), with the
    GPU stage stubbed (these tests run no frame; tests/runtime/test_cuda_stage.py runs the real one)."""
    from types import SimpleNamespace

    from fake_trt import install

    from kitpose.runtime.runners import open_runner

    install(monkeypatch, small_onnx, tmp_path / "model.engine")
    stub = lambda runner, meta: SimpleNamespace(close=lambda: None)  # noqa: E731
    monkeypatch.setattr("kitpose.runtime.cuda_stage.CudaStage", stub)
    return open_runner(tmp_path / "model.engine")


@pytest.mark.parametrize("max_batch,used,warned", [(None, 8, False), (4, 4, False), (32, 8, True)],
                         ids=["default", "below-profile", "above-profile"])
def test_gpu_crops_batch_at_most_the_engine_profile(fake_engine, caplog, max_batch, used, warned):
    with caplog.at_level("WARNING", logger="kitpose.runtime"):
        est = PoseEstimator(fake_engine, fake_engine.metadata, max_batch=max_batch, device="cuda")
    assert est.max_batch == used
    assert ("exceeds the engine's profile maximum 8" in caplog.text) is warned
    est.close()


@pytest.mark.parametrize("kwargs,message", [({"max_batch": 0}, "max_batch must be >= 1"),
                                            ({"device": "gpu"}, "device must be 'cpu' or 'cuda'")],
                         ids=["zero-batch", "unknown-device"])
def test_bad_batch_and_device_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PoseEstimator(_ConstRunner(), META, **kwargs)
