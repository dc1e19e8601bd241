"""`kitpose infer` as a new user meets it (issue 13): exit codes, warnings, detectors, COCO ids."""
import json
import math

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from kitpose.runtime import loop
from kitpose.runtime.cli import infer_cmd
from kitpose.runtime.loop import run_loop
from kitpose.runtime.pipeline import PoseEstimator
from kitpose.runtime.sources import ImageFiles
from kitpose.runtime.tracker import WholeFrame

from helpers import FIXTURES

WHOLE_FRAME_WARNING = "no --boxes and no --detector"


def _infer(args):
    result = CliRunner().invoke(infer_cmd, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    return result


def _rows(out):
    return [json.loads(line) for line in (out / "poses.jsonl").read_text().splitlines()]


@pytest.fixture()
def image(tmp_path):
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8))
    return path


def yolo_onnx(path, size=64, num_classes=2, seed=0):
    """A random-weight detector in the Ultralytics layout: images (1, 3, S, S) -> output0 (1, 4 + nc, A).

    A 2x2 stride-8 conv gives A = (S / 8)^2 anchors; a sigmoid keeps every value in (0, 1), scaled by
    S for cx, cy, w, h (input pixels), so class scores sit near 0.5, above the detector's threshold.
    """
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rows = 4 + num_classes
    weight = np.random.default_rng(seed).normal(0, 0.5, (rows, 3, 2, 2)).astype(np.float32)
    scale = np.array([size] * 4 + [1] * num_classes, np.float32).reshape(1, rows, 1)
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(scale, "scale"),
             numpy_helper.from_array(np.array([1, rows, -1], np.int64), "shape")]
    nodes = [helper.make_node("Conv", ["images", "w"], ["c"], kernel_shape=[2, 2], strides=[8, 8]),
             helper.make_node("Reshape", ["c", "shape"], ["r"]),   # (1, 4 + nc, A)
             helper.make_node("Sigmoid", ["r"], ["s"]),
             helper.make_node("Mul", ["s", "scale"], ["output0"])]
    graph = helper.make_graph(nodes, "yolo", [helper.make_tensor_value_info(
        "images", TensorProto.FLOAT, [1, 3, size, size])], [helper.make_tensor_value_info(
            "output0", TensorProto.FLOAT, [1, rows, (size // 8) ** 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# ---------------------------------------------------------------- item 3: nothing processed

def test_nothing_processed_is_an_error(small_onnx, tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    result = _infer([tmp_path / "broken.mp4", "--model", small_onnx])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "0 frame(s), 0 instance(s), 1 skipped" in lines[0]
    assert "no frame was processed" in lines[0] and "broken.mp4: cannot open" in lines[0]


def test_all_inputs_skipped_is_an_error(small_onnx, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"")
    (folder / "b.png").write_text("not an image")
    result = _infer([folder, "--model", small_onnx, "--boxes", "1,1,10,10"])
    assert result.exit_code == 1 and "0 frame(s), 0 instance(s), 2 skipped" in result.stderr
    assert "no frame was processed" in result.stderr


# ---------------------------------------------------------------- item 4: non-finite boxes

def test_non_finite_box_list_is_a_usage_error(small_onnx, image):
    for text in ("nan,0,10,10", "0,0,inf,10"):
        result = _infer([image, "--model", small_onnx, "--boxes", text])
        assert result.exit_code == 2 and "finite" in result.stderr, result.stderr


def test_non_finite_json_boxes_are_dropped(small_onnx, image, tmp_path):
    """Like the server's `kept`: a NaN or inf box gives no instance; the finite one is estimated."""
    gt = {"images": [{"id": 1, "file_name": image.name}],
          "annotations": [{"image_id": 1, "bbox": [math.nan, 0, 10, 10]},
                          {"image_id": 1, "bbox": [10, 10, math.inf, 20]},
                          {"image_id": 1, "bbox": [10, 10, 40, 50]}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))  # json writes NaN / Infinity literals
    out = tmp_path / "out"
    result = _infer([image, "--model", small_onnx, "--boxes", tmp_path / "gt.json", "--out", out])
    assert result.exit_code == 0, result.output
    assert "1 frame(s), 1 instance(s)" in result.output
    [row] = _rows(out)
    assert [inst["bbox"] for inst in row["instances"]] == [[10, 10, 40, 50]]
    assert "NaN" not in (out / "poses.jsonl").read_text()


# ---------------------------------------------------------------- items 12, 14: detector

@pytest.mark.parametrize("content", [None, b"garbage"], ids=["missing", "unloadable"])
def test_bad_detector_file_is_one_clean_line(small_onnx, image, tmp_path, content):
    det = tmp_path / "det.onnx"
    if content is not None:
        det.write_bytes(content)
    result = _infer([image, "--model", small_onnx, "--detector", det])
    assert result.exit_code == 1, result.output
    [error] = result.stderr.splitlines()
    assert error.startswith(f"Error: --detector {det}: ")
    assert ("not found" if content is None else "cannot load the detector") in error


def test_whole_frame_is_said_once(small_onnx, image, tmp_path, caplog):
    (tmp_path / "second.jpg").write_bytes(image.read_bytes())
    result = _infer([tmp_path, "--model", small_onnx])
    assert result.exit_code == 0 and "2 frame(s), 2 instance(s)" in result.output
    warnings = [r.getMessage() for r in caplog.records if WHOLE_FRAME_WARNING in r.getMessage()]
    assert len(warnings) == 1 and "--detector" in warnings[0]


def test_random_weight_yolo_detector(small_onnx, image, tmp_path, caplog):
    det = yolo_onnx(tmp_path / "yolo.onnx")
    out = tmp_path / "out"
    result = _infer([image, "--model", small_onnx, "--detector", det, "--out", out])
    assert result.exit_code == 0, result.output
    [row] = _rows(out)
    assert row["instances"], "the random detector's boxes (scores ~0.5) should give instances"
    assert f"1 frame(s), {len(row['instances'])} instance(s)" in result.output
    assert len(row["instances"]) <= 20  # the detector's max_det
    assert not any(WHOLE_FRAME_WARNING in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- item 15: COCO image ids

def _coco_detections(tmp_path, min_score=0.5):
    dets = json.loads((FIXTURES / "coco" / "test_coco_det_AP_H_56.json").read_text())
    kept = [d for d in dets if d["score"] >= min_score]
    (tmp_path / "dets.json").write_text(json.dumps(kept))
    return tmp_path / "dets.json", kept


def test_coco_detection_results_match_numeric_file_stems(small_onnx, tmp_path):
    """Detection results name images by id (785); the frames are 000000000785.jpg."""
    dets, kept = _coco_detections(tmp_path)
    out = tmp_path / "out"
    result = _infer([FIXTURES / "coco", "--model", small_onnx, "--boxes", dets, "--out", out])
    assert result.exit_code == 0, result.output
    counts = {r["name"]: len(r["instances"]) for r in _rows(out)}
    expected = {f"{i:012d}.jpg": sum(d["image_id"] == i for d in kept) for i in {d["image_id"] for d in kept}}
    assert {n: c for n, c in counts.items() if c} == expected
    results = json.loads((out / "coco_results.json").read_text())
    assert {r["image_id"] for r in results} == set(int(n[:-4]) for n in expected)


def test_detection_results_through_annotations(small_onnx, tmp_path):
    """Non-numeric file names (AnimalPose's ca110.jpeg): --annotations maps the ids."""
    ann = FIXTURES / "animalpose" / "test_animalpose.json"
    data = json.loads(ann.read_text())
    present = {p.name for p in ann.parent.iterdir()}
    images = {i["id"]: i["file_name"] for i in data["images"] if i["file_name"] in present}
    dets = [{"image_id": a["image_id"], "bbox": a["bbox"], "score": 0.9, "category_id": 1}
            for a in data["annotations"] if a["image_id"] in images]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    out = tmp_path / "out"
    args = [ann.parent, "--model", small_onnx, "--boxes", tmp_path / "dets.json", "--out", out]
    result = _infer([*args, "--annotations", ann])
    assert result.exit_code == 0, result.output
    assert sum(len(r["instances"]) for r in _rows(out)) == len(dets) > 0
    results = json.loads((out / "coco_results.json").read_text())
    assert {r["image_id"] for r in results} == {d["image_id"] for d in dets}


def test_no_box_matched_any_frame_warns(small_onnx, image, tmp_path, caplog):
    (tmp_path / "dets.json").write_text(json.dumps([{"image_id": 999, "bbox": [1, 1, 20, 20], "score": 1.0}]))
    result = _infer([image, "--model", small_onnx, "--boxes", tmp_path / "dets.json"])
    assert "0 instance(s)" in result.output
    [warning] = [r.getMessage() for r in caplog.records if "matched no frame" in r.getMessage()]
    assert "dets.json" in warning and "--annotations" in warning


def test_coco_results_use_numeric_stems_without_boxes(small_onnx, tmp_path):
    out = tmp_path / "out"
    result = _infer([FIXTURES / "coco" / "000000000785.jpg", "--model", small_onnx, "--out", out])
    assert result.exit_code == 0, result.output
    assert [r["image_id"] for r in json.loads((out / "coco_results.json").read_text())] == [785]


# ---------------------------------------------------------------- item 16: overlay readout

def test_single_image_overlay_shows_latency_not_fps(small_onnx, image, monkeypatch):
    shown = []
    monkeypatch.setattr(loop, "render", lambda frame, poses, meta, stats: shown.append(stats) or frame)

    class Sink:
        def write(self, image, name=""):
            pass

        def close(self):
            pass

    with PoseEstimator.from_file(small_onnx) as estimator:
        run_loop(ImageFiles([image]), estimator, WholeFrame(), loop.Sinks(video=Sink()))
    [[rate, _]] = shown
    assert "fps" not in rate and rate.strip().endswith("ms latency"), rate
