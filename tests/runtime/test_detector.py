"""Detector ONNX parsing (both YOLO layouts), letterbox mapping, NMS; TensorRT import errors."""
import sys

import numpy as np
import pytest

from kitpose.runtime.detector import Detector, letterbox, nms_boxes, parse_yolo

# Anchors as rows: cx, cy, w, h (letterbox px), class 0 score, class 1 score.
ROWS = np.array([[32, 32, 20, 10, 0.9, 0.1],    # kept
                 [33, 32, 20, 10, 0.8, 0.0],    # IoU ~0.9 with the first: suppressed
                 [10, 40, 8, 8, 0.05, 0.1],     # below the score threshold
                 [50, 24, 6, 12, 0.2, 0.7],     # class 1 only
                 *[[5, 5, 4, 4, 0.0, 0.0]] * 4],  # empty anchors (real exports have thousands)
                np.float32)


def detector_onnx(path, output):
    """A detector ONNX whose output is the constant `output` (input (1, 3, 64, 64) ignored)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    const = numpy_helper.from_array(np.asarray(output, np.float32), "detections")
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    nodes = [helper.make_node("ReduceMax", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"]),
             helper.make_node("Add", ["detections", "z"], ["output0"])]
    graph = helper.make_graph(nodes, "det", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                           [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, None)],
                              [const, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_parse_both_layouts_agree():
    a = parse_yolo(ROWS.T[None])   # (1, 4 + nc, A)
    b = parse_yolo(ROWS[None])     # (1, A, 4 + nc)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a[0], ROWS[:, :4])


def test_nms_hand_case():
    xywh = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [20, 20, 5, 5]], np.float64)
    keep = nms_boxes(xywh, np.array([0.9, 0.8, 0.7]), conf=0.5, iou=0.5, max_det=10)
    assert sorted(keep.tolist()) == [0, 2]


def test_letterbox_offsets():
    image, ratio, (dx, dy) = letterbox(np.zeros((32, 64, 3), np.uint8), 64)
    assert image.shape == (64, 64, 3) and ratio == 1.0 and (dx, dy) == (0.0, 16.0)
    assert image[0, 0, 0] == 114 and image[20, 0, 0] == 0


@pytest.mark.parametrize("layout", ["channels-first", "anchors-first"])
def test_detector_maps_boxes_to_frame(tmp_path, layout):
    out = ROWS.T[None] if layout == "channels-first" else ROWS[None]
    det = Detector(detector_onnx(tmp_path / "det.onnx", out), conf=0.3, iou=0.5)
    boxes = det(np.zeros((32, 64, 3), np.uint8))  # letterbox: ratio 1, dy 16
    assert sorted(boxes.tolist()) == [[22, 11, 20, 10], [47, 2, 6, 12]]
    persons = Detector(tmp_path / "det.onnx", classes=(0,), conf=0.3)(np.zeros((32, 64, 3), np.uint8))
    assert persons.tolist() == [[22, 11, 20, 10]]


def test_detector_bad_file(tmp_path):
    from kitpose.runtime.metadata import ModelFileError

    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="bad.onnx"):
        Detector(tmp_path / "bad.onnx")


@pytest.mark.parametrize("blocked,message", [
    (("tensorrt", "tensorrt_rtx"), "needs TensorRT"),
    (("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"), "cuda-python"),
], ids=["no-tensorrt", "no-cuda-python"])
def test_trt_runner_missing_packages(monkeypatch, blocked, message):
    from kitpose.runtime.trt_runner import TrtRunner

    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)
    if message == "cuda-python":  # needs some TensorRT module to get past the first check
        monkeypatch.setitem(sys.modules, "tensorrt", type(sys)("tensorrt"))
    with pytest.raises(ImportError, match=message):
        TrtRunner("model.engine")
