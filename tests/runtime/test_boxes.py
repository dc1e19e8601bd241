"""Box sources and tracking by pose."""
import json

import numpy as np
import pytest

from kitpose.runtime.boxes import (boxes_from_keypoints, finite_boxes, image_id_of, load_coco_boxes,
                                   load_image_ids, parse_box_list, whole_frame_box)
from kitpose.runtime.preprocess import boxes_to_crops
from kitpose.runtime.tracker import FixedBoxes, PoseTracker


def test_parse_box_list():
    np.testing.assert_array_equal(parse_box_list("1,2,3,4; 5,6,7,8;"), [[1, 2, 3, 4], [5, 6, 7, 8]])


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "1,2,0,4", "nan,0,10,10", "0,0,inf,10"],
                         ids=["short", "words", "zero-w", "nan", "inf"])
def test_parse_box_list_rejects(text):
    with pytest.raises(ValueError, match="x,y,w,h"):
        parse_box_list(text)


def test_load_coco_boxes_gt_and_detections(tmp_path):
    gt = {"images": [{"id": 7, "file_name": "a.jpg"}], "annotations": [
        {"image_id": 7, "bbox": [1, 2, 3, 4]}, {"image_id": 7, "bbox": [5, 6, 7, 8]}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    assert load_coco_boxes(tmp_path / "gt.json")[7].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert load_image_ids(tmp_path / "gt.json") == {"a.jpg": 7}
    dets = [{"image_id": 7, "bbox": [1, 2, 3, 4], "score": 0.9}, {"image_id": 7, "bbox": [0, 0, 1, 1],
                                                                  "score": 0.1}]
    (tmp_path / "det.json").write_text(json.dumps(dets))
    assert load_coco_boxes(tmp_path / "det.json", min_score=0.5)[7].tolist() == [[1, 2, 3, 4]]
    with pytest.raises(ValueError, match="det.json: expected a COCO annotation file"):
        load_image_ids(tmp_path / "det.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        load_coco_boxes(tmp_path / "bad.json")


def test_image_id_of():
    assert image_id_of("a.jpg", {"a.jpg": 7}) == 7
    assert image_id_of("000000000785.jpg", {}) == 785
    assert image_id_of("ca110.jpeg", {}) is None


def test_non_finite_boxes_are_dropped_like_outside_ones():
    """One rule for infer, serve and the ensemble client: boxes_to_crops keeps finite boxes in the frame."""
    boxes = np.array([[5, 5, 20, 20], [np.nan, 5, 20, 20], [5, 5, np.inf, 20], [500, 500, 5, 5]])
    assert finite_boxes(boxes).tolist() == [True, False, False, True]
    centers, scales, kept = boxes_to_crops(boxes, (64, 64), (128, 128))
    assert kept.tolist() == [True, False, False, False] and centers.shape == scales.shape == (1, 2)


def test_whole_frame_box():
    assert whole_frame_box((480, 640)).tolist() == [[0, 0, 640, 480]]


def test_boxes_from_keypoints_hand_case():
    kp = np.array([[[10, 20, 0.9], [30, 60, 0.8], [20, 40, 0.7], [500, 500, 0.1]],   # 3 confident
                   [[0, 0, 0.9], [1, 1, 0.1], [2, 2, 0.1], [3, 3, 0.1]]])           # lost
    boxes = boxes_from_keypoints(kp, threshold=0.3, margin=0.25)
    # extent x 10..30 (20), y 20..60 (40); 25 % margin each side
    np.testing.assert_allclose(boxes, [[5, 10, 30, 60]])


def test_fixed_boxes_by_name_and_fallback():
    frame = np.zeros((10, 20, 3), np.uint8)
    fixed = FixedBoxes(by_name={"a.jpg": np.ones((1, 4))}, whole_frame_fallback=True)
    assert fixed(frame, "a.jpg").tolist() == [[1, 1, 1, 1]]
    assert fixed(frame, "b.jpg").tolist() == [[0, 0, 20, 10]]


def test_tracker_runs_detector_every_n_and_when_lost():
    calls = []

    def detector(frame):
        calls.append(1)
        return np.array([[0, 0, 10, 10]])

    tracker = PoseTracker(detector, every=3)
    frame = np.zeros((20, 20, 3), np.uint8)
    tracked = np.array([[[2, 2, 0.9], [8, 8, 0.9], [5, 5, 0.9]]])
    for _ in range(6):  # detect, track, track, detect, track, track
        tracker(frame)
        tracker.update(tracked)
    assert tracker.detections == 2
    tracker(frame)
    tracker.update(np.zeros((1, 3, 3)))  # every keypoint lost
    tracker(frame)
    assert tracker.detections == 4  # period (frame 7) and loss (frame 8)
