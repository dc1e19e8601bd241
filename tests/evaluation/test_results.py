"""Instance scores, NMS areas and COCO result dicts (spec 12.4-12.5)."""
import json

import numpy as np
import pytest

from kitpose.evaluation import (instance_scores, load_results, scale_areas, to_coco_results,
                                write_results)


def test_instance_score_hand_values():
    maxvals = np.array([[0.9, 0.5, 0.1, 0.2],    # 0.2 is not above the threshold
                        [0.1, 0.05, 0.0, 0.2]])  # nothing above: score 0
    scores = instance_scores(np.array([0.5, 1.0]), maxvals)
    np.testing.assert_allclose(scores, [0.5 * (0.9 + 0.5) / 2, 0.0])


def test_instance_score_threshold_argument():
    scores = instance_scores(np.ones(1), np.array([[0.3, 0.6]]), thr=0.5)
    np.testing.assert_allclose(scores, [0.6])


def test_scale_areas_hand_value():
    # scale (1.25, 0.5) -> 250 x 100 px
    np.testing.assert_allclose(scale_areas(np.array([[1.25, 0.5]])), [25000.0])


def test_to_coco_results_round_trip(tmp_path):
    kpts = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    results = to_coco_results(kpts, np.array([0.7, 0.3]), np.array([5, 6]), [1, 2],
                              ann_ids=[10, 11])
    assert results[0] == {"image_id": 5, "category_id": 1, "ann_id": 10,
                          "score": pytest.approx(0.7), "keypoints": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}
    assert type(results[1]["image_id"]) is int   # numpy ids become JSON ints
    path = write_results(results, tmp_path / "sub" / "res.json")
    loaded, source = load_results(path)
    assert loaded == json.loads(json.dumps(results)) and source == str(path)


@pytest.mark.parametrize("call,match", [
    (lambda: instance_scores(np.ones(2), np.ones((3, 4))), r"box_scores \(N,\) and maxvals"),
    (lambda: scale_areas(np.ones((2, 3))), r"scales must be \(N, 2\)"),
    (lambda: to_coco_results(np.ones((2, 4, 2)), [1, 1], [1, 1], [1, 1]), r"\(N, K, 3\)"),
    (lambda: to_coco_results(np.ones((2, 4, 3)), [1, 1], [1], [1, 1]), "image_ids has 1 entries"),
    (lambda: load_results({"image_id": 1}), "expected a JSON list"),
    (lambda: load_results([{"image_id": 1}, 3]), r"entry \[1\] is a int"),
], ids=["score-shapes", "scale-shape", "keypoint-shape", "id-count", "not-a-list", "not-an-object"])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
