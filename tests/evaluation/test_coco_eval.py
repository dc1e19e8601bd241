"""OKS AP through pycocotools: GT-as-prediction on every real fixture, parity with a direct
pycocotools computation on perturbed predictions, GT sanitising and clear errors."""
import contextlib
import copy
import io
import json
import logging

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from kitpose.data.metadata import DATASETS
from kitpose.evaluation import STAT_NAMES, evaluate_coco, write_results

from helpers import FIXTURES as REAL

# Fixture file and OKS sigmas: the dataset's own where kitpose knows them, otherwise 0.05 for every
# joint (GT-as-prediction is sigma-independent; parity only needs the same sigmas on both sides).
FIXTURES = {
    "ap10k": ("ap10k/test_ap10k.json", DATASETS["ap10k"].sigmas),
    "animalpose": ("animalpose/test_animalpose.json", DATASETS["animalpose"].sigmas),
    "coco": ("coco/test_coco.json", DATASETS["coco"].sigmas),
    "horse10": ("horse10/test_horse10.json", [0.05] * 22),
    "macaque": ("macaque/test_macaque.json", [0.05] * 17),
    "atrw": ("atrw/test_atrw.json", [0.05] * 15),
    "zebra": ("zebra/test_zebra.json", [0.05] * 9),
}


def _load(name):
    path, sigmas = FIXTURES[name]
    with open(REAL / path) as f:
        return REAL / path, json.load(f), np.asarray(sigmas, dtype=np.float64)


def _gt_as_results(gt):
    return [{"image_id": a["image_id"], "category_id": a["category_id"],
             "keypoints": list(a["keypoints"]), "score": 1.0}
            for a in gt["annotations"] if a["num_keypoints"] > 0]


def _perturbed_results(gt, seed):
    """Each labelled instance once with noise ~4% of its box and once more with ~15% (a false
    positive at a lower score), so AP is informative rather than 1."""
    rng = np.random.default_rng(seed)
    results = []
    for ann in gt["annotations"]:
        if ann["num_keypoints"] == 0:
            continue
        kpts = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        size = max(ann["bbox"][2], ann["bbox"][3])
        for rel, score in ((0.04, rng.uniform(0.6, 1.0)), (0.15, rng.uniform(0.1, 0.5))):
            noisy = kpts.copy()
            noisy[:, :2] += rng.normal(0.0, rel * size, size=(len(kpts), 2))
            noisy[:, 2] = rng.uniform(0.2, 1.0, size=len(kpts))
            results.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                            "keypoints": noisy.reshape(-1).tolist(), "score": float(score)})
    return results


def _direct_pycocotools(gt, results, sigmas):
    """The reference: plain pycocotools, only the sigmas replaced."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        dets = coco.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco, dets, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, ev.stats.tolist()))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_ground_truth_as_predictions_scores_one(name):
    path, gt, sigmas = _load(name)
    metrics = evaluate_coco(path, _gt_as_results(gt), sigmas)
    for key in ("AP", "AP50", "AP75", "AR", "AR50", "AR75"):
        assert metrics[key] == pytest.approx(1.0, abs=1e-12), key
    for key in ("APM", "APL", "ARM", "ARL"):   # -1: no GT of that size in the fixture
        assert metrics[key] == -1.0 or metrics[key] == pytest.approx(1.0, abs=1e-12), key


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("seed", [0, 1])
def test_perturbed_predictions_match_direct_pycocotools(name, seed):
    path, gt, sigmas = _load(name)
    results = _perturbed_results(gt, seed)
    got = evaluate_coco(path, results, sigmas)
    assert got == _direct_pycocotools(gt, results, sigmas)
    assert 0.0 <= got["AP"] < 1.0   # the noisy duplicates make this a non-trivial AP


def test_sigmas_matter():
    path, gt, sigmas = _load("ap10k")
    results = _perturbed_results(gt, 0)
    tight = evaluate_coco(path, results, sigmas / 4)
    loose = evaluate_coco(path, results, sigmas * 4)
    assert tight["AP"] < loose["AP"]


def test_results_file_and_dict_inputs_agree(tmp_path):
    path, gt, sigmas = _load("coco")
    results = _perturbed_results(gt, 5)
    before = copy.deepcopy(results)
    from_file = evaluate_coco(gt, write_results(results, tmp_path / "res.json"), sigmas)
    assert from_file == evaluate_coco(path, results, sigmas)
    assert results == before   # pycocotools' in-place edits must not reach the caller


def test_animal_kingdom_fixture_categories():
    """The AK sample's annotations use category 4, absent from its 'categories' list: COCOeval
    would silently drop them, so it is an error; with the category added, GT scores 1."""
    path = REAL / "ak" / "test_animalkingdom.json"
    gt = json.loads(path.read_text())
    results = _gt_as_results(gt)
    with pytest.raises(ValueError, match=r"annotations\[0\]\.category_id=4 is not in 'categories'"):
        evaluate_coco(path, results, DATASETS["animalkingdom"].sigmas)
    gt["categories"].append({**gt["categories"][0], "id": 4, "name": "Mammal"})
    assert evaluate_coco(gt, results, DATASETS["animalkingdom"].sigmas)["AP"] == pytest.approx(1.0)


def test_missing_gt_fields_are_filled_and_logged(caplog):
    _, gt, sigmas = _load("animalpose")
    results = _perturbed_results(gt, 2)
    bare = copy.deepcopy(gt)
    for ann in bare["annotations"]:
        for field in ("area", "iscrowd", "num_keypoints", "id"):
            ann.pop(field)
    full = copy.deepcopy(gt)
    for i, ann in enumerate(full["annotations"]):
        ann.update(area=ann["bbox"][2] * ann["bbox"][3], id=i + 1)
    with caplog.at_level(logging.INFO, logger="kitpose.evaluation"):
        got = evaluate_coco(bare, results, sigmas)
    assert got == _direct_pycocotools(full, results, sigmas)
    assert "'area' missing in 2 of 2 annotations; filled with bbox w*h" in caplog.text
    assert "'iscrowd' missing" in caplog.text and "no 'info'" in caplog.text
    assert "area" not in bare["annotations"][0]   # the caller's dict is not modified


def _bad(results, index, **change):
    results = copy.deepcopy(results)
    for key, value in change.items():
        if value is None:
            results[index].pop(key)
        else:
            results[index][key] = value
    return results


@pytest.mark.parametrize("change,match", [
    (dict(keypoints=[1.0] * 48), r"\[1\]\.keypoints \(a list of 48 values\) must be a list of 51"),
    (dict(image_id=999), r"\[1\]\.image_id \(999\) is not an image id"),
    (dict(image_id="785"), r"\[1\]\.image_id \('785'\) is not an image id.*id type"),
    (dict(category_id=7), r"\[1\]\.category_id \(7\) is not a category id"),
    (dict(score=float("nan")), r"\[1\]\.score \(nan\) must be a finite number"),
    (dict(score=None), r"1 entries have no 'score', first \[1\]"),
    (dict(keypoints=[float("inf")] * 51), r"\[1\]\.keypoints .* finite numbers"),
], ids=["keypoint-count", "unknown-image", "image-id-type", "unknown-category", "nan-score",
        "missing-score", "inf-keypoint"])
def test_bad_results_name_the_field(change, match):
    path, gt, sigmas = _load("coco")
    with pytest.raises(ValueError, match=match):
        evaluate_coco(path, _bad(_gt_as_results(gt), 1, **change), sigmas)


def test_bad_inputs_name_the_problem(tmp_path):
    path, gt, sigmas = _load("coco")
    results = _gt_as_results(gt)
    with pytest.raises(ValueError, match=r"sigmas: got shape \(16,\) but .* K=17"):
        evaluate_coco(path, results, sigmas[:16])
    with pytest.raises(ValueError, match="the list is empty"):
        evaluate_coco(path, [], sigmas)
    with pytest.raises(FileNotFoundError, match="results file .*nope.json does not exist"):
        evaluate_coco(path, tmp_path / "nope.json", sigmas)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="ground-truth file .*broken.json is not valid JSON"):
        evaluate_coco(tmp_path / "broken.json", results, sigmas)
    with pytest.raises(ValueError, match="field 'annotations' is missing"):
        evaluate_coco({"images": [], "categories": []}, results, sigmas)
    dup = copy.deepcopy(gt)
    dup["annotations"][1]["id"] = dup["annotations"][0]["id"]
    with pytest.raises(ValueError, match="'id' values are not unique"):
        evaluate_coco(dup, results, sigmas)


def _iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def test_detector_boxes_many_per_image_match_direct_pycocotools():
    """COCO val detections (AP_H 56 file): up to ~40 boxes per image, so maxDets 20 and false
    positives matter. A box overlapping a labelled person gets that pose plus noise; others get
    random points inside the box."""
    path, gt, sigmas = _load("coco")
    dets = json.loads((REAL / "coco" / "test_coco_det_AP_H_56.json").read_text())
    rng = np.random.default_rng(7)
    labelled = [a for a in gt["annotations"] if a["num_keypoints"] > 0]
    results = []
    for det in dets:
        x, y, w, h = det["bbox"]
        match = max(labelled, key=lambda a: _iou(a["bbox"], det["bbox"])
                    if a["image_id"] == det["image_id"] else -1.0)
        if match["image_id"] == det["image_id"] and _iou(match["bbox"], det["bbox"]) > 0.5:
            kpts = np.asarray(match["keypoints"], float).reshape(17, 3)
            kpts[:, :2] += rng.normal(0, 0.03 * max(w, h), size=(17, 2))
        else:
            kpts = np.stack([x + w * rng.random(17), y + h * rng.random(17), np.ones(17)], 1)
        results.append({"image_id": det["image_id"], "category_id": 1,
                        "keypoints": kpts.reshape(-1).tolist(), "score": det["score"]})
    got = evaluate_coco(path, results, sigmas)
    assert got == _direct_pycocotools(gt, results, sigmas)
    assert 0.0 < got["AP"] < 1.0
