"""score_results_file: metric chosen by dataset, metrics JSON written, PCK pairing rules."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from kitpose.data.metadata import DATASETS
from kitpose.evaluation import evaluate_coco, pck, score_results_file, write_results

from helpers import FIXTURES as REAL
AK = REAL / "ak" / "test_animalkingdom.json"


def _gt_results(path, with_ann_id=False):
    gt = json.loads(Path(path).read_text())
    results = []
    for ann in gt["annotations"]:
        res = {"image_id": ann["image_id"], "category_id": ann["category_id"],
               "keypoints": list(ann["keypoints"]), "score": 1.0}
        if with_ann_id:
            res["ann_id"] = ann["id"]
        results.append(res)
    return gt, results


def test_ap10k_uses_metadata_sigmas_and_writes_json(tmp_path):
    path = REAL / "ap10k" / "test_ap10k.json"
    gt, results = _gt_results(path)
    rng = np.random.default_rng(0)
    for res in results:
        res["keypoints"] = (np.asarray(res["keypoints"], float)
                            + rng.normal(0, 20, 51) * np.tile([1, 1, 0], 17)).tolist()
    pred_path = write_results(results, tmp_path / "res.json")
    report = score_results_file(path, pred_path, "ap10k", tmp_path / "out" / "metrics.json")
    expected = evaluate_coco(path, results, DATASETS["ap10k"].sigmas)
    assert report["metrics"] == expected and report["metric"] == "oks_ap"
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["metrics"] == expected
    assert report["num_predictions"] == 2


def test_explicit_sigmas_for_an_unlisted_dataset(tmp_path):
    path = REAL / "zebra" / "test_zebra.json"
    _, results = _gt_results(path)
    pred_path = write_results(results, tmp_path / "res.json")
    report = score_results_file(path, pred_path, "zebra", sigmas=[0.05] * 9)
    assert report["metrics"]["AP"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"unknown dataset 'zebra'.*pass sigmas"):
        score_results_file(path, pred_path, "zebra")


def _perturb(results, seed, scale=6.0):
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(results)
    for res in out:
        k = np.asarray(res["keypoints"], float).reshape(-1, 3)
        k[:, :2] += rng.normal(0, scale, size=(len(k), 2))
        res["keypoints"] = k.reshape(-1).tolist()
    return out


@pytest.mark.parametrize("with_ann_id", [False, True], ids=["pair-by-image", "pair-by-ann-id"])
def test_animal_kingdom_pck_matches_direct_pck(tmp_path, with_ann_id):
    gt, results = _gt_results(AK, with_ann_id)
    noisy = _perturb(results, 1)
    report = score_results_file(AK, write_results(noisy[::-1], tmp_path / "r.json"),
                                "animalkingdom", tmp_path / "m.json", ak_plus_one=True)
    gt_k = np.array([a["keypoints"] for a in gt["annotations"]], float).reshape(2, 23, 3)
    pr_k = np.array([r["keypoints"] for r in noisy], float).reshape(2, 23, 3)
    boxes = np.array([a["bbox"] for a in gt["annotations"]], float)
    direct = pck(pr_k[..., :2], gt_k[..., :2], gt_k[..., 2] > 0, boxes, add_one=True)
    assert report["metrics"]["PCK"] == direct.mean and 0.0 < direct.mean < 1.0
    assert report["metrics"]["Head"] == direct.groups["Head"]
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["metrics"]["Tail"] is None   # no tail labelled in the sample: NaN -> null
    assert written["plus_one"] is True


def test_animal_kingdom_ground_truth_scores_one(tmp_path):
    _, results = _gt_results(AK)
    report = score_results_file(AK, write_results(results, tmp_path / "r.json"), "animalkingdom")
    assert report["metrics"]["PCK"] == 1.0


def test_pck_pairing_errors(tmp_path):
    gt, results = _gt_results(AK)
    with pytest.raises(ValueError, match=r"no prediction for image_id=2"):
        score_results_file(AK, write_results(results[:1], tmp_path / "a.json"), "animalkingdom")
    with pytest.raises(ValueError, match=r"image_id=1 appears twice"):
        score_results_file(AK, write_results([results[0]] * 2 + results[1:], tmp_path / "b.json"),
                           "animalkingdom")
    crowded = copy.deepcopy(gt)
    crowded["annotations"][1]["image_id"] = 1
    crowded_path = tmp_path / "crowded.json"
    crowded_path.write_text(json.dumps(crowded))
    c_path = write_results(results, tmp_path / "c.json")
    with pytest.raises(ValueError, match="image 1 has 2 GT instances; give each result an 'ann"):
        score_results_file(crowded_path, c_path, "animalkingdom")
    _, with_ids = _gt_results(AK, with_ann_id=True)
    with pytest.raises(ValueError, match=r"no prediction with ann_id=2"):
        score_results_file(AK, write_results(with_ids[:1], tmp_path / "d.json"), "animalkingdom")
