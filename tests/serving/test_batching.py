"""PoseBatcher (the served model's maths) against PoseEstimator, and request validation; no server."""
import numpy as np
import pytest

from kitpose.runtime.pipeline import PoseEstimator
from kitpose.serving.batching import PoseBatcher
from kitpose.serving.tensors import BOXES, IMAGE, KEPT, KEYPOINTS, RequestError, validate_request

from .conftest import SERVED_PX


@pytest.fixture(scope="module")
def estimator(small_onnx):
    with PoseEstimator.from_file(small_onnx, max_batch=4) as est:
        yield est


def _frames():
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), rng.integers(0, 256, (150, 90, 3), dtype=np.uint8),
            rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)]


BOX_LISTS = [np.array([[10, 10, 60, 50], [40, 20, 70, 60], [500, 500, 10, 10]], np.float64),  # last: outside
             np.array([[5, 30, 80, 100], [np.nan, 1, 2, 3], [20, 40, 30, 30]], np.float64),   # NaN box: dropped
             np.array([[0, 0, 64, 64]], np.float64)]


def test_frames_batched_together_match_one_by_one(estimator):
    """7 crops over 3 frames of different sizes, 4 crops per runner call, vs PoseEstimator per frame."""
    frames = _frames()
    batched = PoseBatcher(estimator)(frames, BOX_LISTS)
    for frame, boxes, (keypoints, kept) in zip(frames, BOX_LISTS, batched):
        reference = estimator(frame, boxes[np.isfinite(boxes).all(axis=1)])
        assert keypoints.shape == (len(boxes), estimator.metadata.num_keypoints, 3)
        np.testing.assert_array_equal(boxes[kept], reference.boxes)
        np.testing.assert_allclose(keypoints[kept], reference.keypoints, atol=SERVED_PX, rtol=0)
        assert np.isnan(keypoints[~kept]).all()
    assert [k.tolist() for _, k in batched] == [[True, True, False], [True, False, True], [True]]


def test_serve_requests_shapes(estimator):
    frames = np.stack([_frames()[0]] * 2)  # (2, 96, 128, 3): one request with two images
    boxes = np.stack([BOX_LISTS[0], BOX_LISTS[0][::-1]]).astype(np.float32)  # (2, 3, 4)
    (out,) = PoseBatcher(estimator).serve_requests([{IMAGE: frames, BOXES: boxes}], max_boxes=8)
    assert out[KEYPOINTS].shape == (2, 3, estimator.metadata.num_keypoints, 3)
    assert out[KEPT].tolist() == [[True, True, False], [False, True, True]]
    np.testing.assert_array_equal(out[KEYPOINTS][0, 0], out[KEYPOINTS][1, 2])


@pytest.mark.parametrize("image, boxes, message", [
    (np.zeros((1, 0, 10, 3), np.uint8), np.ones((1, 1, 4), np.float32), "empty image of shape (0, 10, 3)"),
    (np.zeros((1, 8, 8, 3), np.uint8), np.ones((1, 9, 4), np.float32), "9 boxes for one image, more than"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.ones((1, 1, 4), np.float32), "batch of 1 box lists for 2 images"),
    (np.zeros((1, 8, 8, 3), np.float32), np.ones((1, 1, 4), np.float32), "expected (b, h, w, 3) uint8"),
    (np.zeros((1, 8, 8, 3), np.uint8), np.ones((1, 4), np.float32), "expected (b, N, 4)"),
    (np.zeros((1, 2, 32767, 3), np.uint8), np.ones((1, 1, 4), np.float32), "(h, w) = (2, 32767): "
     "OpenCV crops frames under 32767 px a side"),
    (np.zeros((1, 40000, 2, 3), np.uint8), np.ones((1, 1, 4), np.float32), "(h, w) = (40000, 2)"),
], ids=["empty-image", "too-many-boxes", "batch-mismatch", "dtype", "boxes-rank", "too-wide", "too-tall"])
def test_validate_request_errors(image, boxes, message):
    with pytest.raises(RequestError) as err:
        validate_request({IMAGE: image, BOXES: boxes}, max_boxes=8)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_serve_requests_without_boxes(estimator):
    (out,) = PoseBatcher(estimator).serve_requests([{IMAGE: np.zeros((1, 8, 8, 3), np.uint8),
                                                     BOXES: np.zeros((1, 0, 4), np.float32)}], max_boxes=8)
    assert out[KEYPOINTS].shape == (1, 0, estimator.metadata.num_keypoints, 3) and out[KEPT].shape == (1, 0)
