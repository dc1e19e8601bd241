"""Real-image smoke tests on the shared fixtures through `kitpose infer` (GT boxes and whole frame)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from kitpose.runtime.cli import infer_cmd

from helpers import FIXTURES

DATASETS = {"ap10k": "test_ap10k.json", "coco": "test_coco.json", "animalpose": "test_animalpose.json"}


def _gt(name):
    data = json.loads((FIXTURES / name / DATASETS[name]).read_text())
    present = {p.name for p in (FIXTURES / name).iterdir()}
    images = {i["id"]: i["file_name"] for i in data["images"] if i["file_name"] in present}
    return data, images


def _run(args):
    result = CliRunner().invoke(infer_cmd, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.mark.parametrize("name", sorted(DATASETS), ids=sorted(DATASETS))
def test_gt_boxes(small_onnx, tmp_path, name):
    data, images = _gt(name)
    if not images:
        pytest.skip(f"{FIXTURES / name} holds none of the images its JSON names")
    folder = FIXTURES / name
    _run([str(folder), "--model", str(small_onnx), "--boxes", str(folder / DATASETS[name]),
          "--out", str(tmp_path)])
    rows = [json.loads(line) for line in (tmp_path / "poses.jsonl").read_text().splitlines()]
    expected = {f: sum(a["image_id"] == i and "bbox" in a for a in data["annotations"])
                for i, f in images.items()}
    assert {r["name"]: len(r["instances"]) for r in rows} == expected
    for row in rows:
        for inst in row["instances"]:
            kp = np.asarray(inst["keypoints"])  # (K, 3)
            assert kp.shape[1] == 3 and np.isfinite(kp).all()
            x, y, w, h = inst["bbox"]  # most keypoints land inside the padded crop
            inside = (np.abs(kp[:, 0] - x - w / 2) <= 0.7 * max(w, h)) & \
                     (np.abs(kp[:, 1] - y - h / 2) <= 0.7 * max(w, h))
            assert inside.mean() >= 0.8
    assert len(list((tmp_path / "overlays").iterdir())) == len(images)
    results = json.loads((tmp_path / "coco_results.json").read_text())
    assert len(results) == sum(expected.values())
    assert {r["image_id"] for r in results} == {i for i, f in images.items() if expected[f]}


def test_coco_results_evaluate(small_onnx, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    folder = FIXTURES / "coco"
    _run([str(folder), "--model", str(small_onnx), "--boxes", str(folder / "test_coco.json"),
          "--out", str(tmp_path)])
    gt = COCO(str(folder / "test_coco.json"))
    ev = COCOeval(gt, gt.loadRes(str(tmp_path / "coco_results.json")), "keypoints")
    ev.params.kpt_oks_sigmas = np.full(17, 0.05)
    ev.evaluate()
    ev.accumulate()
    assert ev.eval["precision"].shape[0] == 10


@pytest.mark.parametrize("name", ["ap10k", "coco"])
def test_whole_frame(small_onnx, tmp_path, name):
    result = _run([str(FIXTURES / name), "--model", str(small_onnx), "--out", str(tmp_path)])
    rows = [json.loads(line) for line in (tmp_path / "poses.jsonl").read_text().splitlines()]
    assert rows and all(len(r["instances"]) == 1 for r in rows)
    assert f"{len(rows)} frame(s), {len(rows)} instance(s), 0 skipped" in result.output
