"""COCO keypoint loading: every real fixture format, malformed annotations, bad images."""
import json
import shutil

import numpy as np
import pytest

from real_fixtures import KEYPOINT_FILES
from kitpose.data.coco import AnnotationError, load_coco_keypoints, load_detections
from kitpose.data.dataset import NoSampleError, TopDownDataset
from kitpose.data.metadata import DATASETS


@pytest.mark.parametrize("folder,file,builtin", KEYPOINT_FILES, ids=[f[0] for f in KEYPOINT_FILES])
def test_real_fixture_loads(real_dir, info_for, folder, file, builtin):
    info = info_for(folder, file, builtin)
    coco = load_coco_keypoints(real_dir / folder / file, info.num_keypoints, strict=True)
    assert coco.instances, f"{file}: no instance loaded"
    for inst in coco.instances:
        assert inst.keypoints.shape == (info.num_keypoints, 3)
        h, w = inst.image_size
        x, y, bw, bh = inst.box
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
        assert (real_dir / folder / inst.file_name).is_file()


def test_coco_unlabelled_annotations_are_counted_not_lost(real_dir):
    coco = load_coco_keypoints(real_dir / "coco" / "test_coco.json", 17)
    assert coco.num_unlabelled == 2  # ids 1202706 and 508900 have num_keypoints 0
    assert len(coco.instances) + coco.num_unlabelled == 14


def test_detection_list_is_not_a_keypoint_file_but_loads_as_detections(real_dir):
    """test_coco_det_AP_H_56.json is a COCO *results* list (boxes and scores, no images,
    no keypoints), so it cannot be read as COCO keypoints; it is read with load_detections."""
    det = real_dir / "coco" / "test_coco_det_AP_H_56.json"
    with pytest.raises(AnnotationError, match="not a COCO keypoint file"):
        load_coco_keypoints(det, 17)
    gt = json.loads((real_dir / "coco" / "test_coco.json").read_text())
    dets = load_detections(det, gt, 17)
    assert len(dets) == 118 and all(0 < d.score <= 1 for d in dets)


def _write(tmp_path, annotations, name="broken.json"):
    raw = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
           "annotations": annotations,
           "categories": [{"id": 1, "keypoints": ["a", "b"], "skeleton": [[1, 2]]}]}
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


def _ann(ann_id, **over):
    ann = {"id": ann_id, "image_id": 1, "bbox": [10, 10, 30, 20],
           "keypoints": [15, 15, 2, 20, 20, 2]}
    ann.update(over)
    return {k: v for k, v in ann.items() if v is not None}


BROKEN = [
    (_ann(7, keypoints=None), "missing field"),
    (_ann(8, keypoints=[1, 2, 2]), "3 values, expected 3 x 2"),
    (_ann(9, bbox=[500, 500, 10, 10]), "outside"),
    (_ann(10, image_id=99), "image_id 99"),
    (_ann(11, bbox=[1, 2]), "4 finite numbers"),
]


@pytest.mark.parametrize("ann,reason", BROKEN, ids=["missing", "count", "outside", "image", "bbox"])
def test_malformed_annotation_strict_names_file_and_id(tmp_path, ann, reason):
    path = _write(tmp_path, [ann])
    with pytest.raises(AnnotationError) as err:
        load_coco_keypoints(path, 2, strict=True)
    msg = str(err.value)
    assert "broken.json" in msg and f"annotation id {ann['id']}" in msg and reason in msg


def test_malformed_annotations_are_reported_and_skipped(tmp_path):
    path = _write(tmp_path, [_ann(1)] + [a for a, _ in BROKEN])
    with pytest.warns(UserWarning, match="skipped 5 bad sample") as rec:
        coco = load_coco_keypoints(path, 2)
    assert [i.ann_id for i in coco.instances] == [1]
    assert [p.ann_id for p in coco.problems] == [7, 8, 9, 10, 11]
    text = str(rec[0].message)
    assert all(f"annotation id {i}" in text for i in (7, 8, 9, 10, 11))


def _copy_ap10k(real_dir, tmp_path):
    for f in (real_dir / "ap10k").iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "test_ap10k.json"


def test_zero_byte_image_reported_and_skipped(real_dir, tmp_path):
    ann = _copy_ap10k(real_dir, tmp_path)
    (tmp_path / "000000000004.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"annotation id \d+: image file .*0 bytes"):
        ds = TopDownDataset(ann, tmp_path, DATASETS["ap10k"])
    assert len(ds) == 1 and ds.instances[0].file_name == "000000037516.jpg"
    assert len(ds.problems) == 1


def test_undecodable_image_reported_and_replaced_at_load(real_dir, tmp_path):
    ann = _copy_ap10k(real_dir, tmp_path)
    (tmp_path / "000000000004.jpg").write_bytes(b"not a jpeg at all")
    ds = TopDownDataset(ann, tmp_path, DATASETS["ap10k"])  # size check passes
    bad = [i for i, inst in enumerate(ds.instances) if inst.file_name == "000000000004.jpg"][0]
    with pytest.warns(UserWarning, match="cannot decode image"):
        sample = ds[bad]
    assert sample["ann_id"] != ds.instances[bad].ann_id
    with pytest.warns(UserWarning, match="cannot be decoded"):
        checked = TopDownDataset(ann, tmp_path, DATASETS["ap10k"], verify_images=True)
    assert len(checked) == 1


def test_keypoints_visibility_in_range(real_dir):
    coco = load_coco_keypoints(real_dir / "ak" / "test_animalkingdom.json", 23)
    vis = np.concatenate([i.keypoints[:, 2] for i in coco.instances])
    assert set(np.unique(vis)) <= {0.0, 1.0, 2.0}


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_keypoints_name_file_and_id(tmp_path, value):
    """NaN keypoints were accepted (NaN boxes were not) and the run died later advising a lower
    learning rate (issue 13, item 5)."""
    path = _write(tmp_path, [_ann(1), _ann(12, keypoints=[15, value, 2, 20, 20, 2])])
    with pytest.raises(AnnotationError) as err:
        load_coco_keypoints(path, 2, strict=True)
    assert "broken.json" in str(err.value) and "annotation id 12" in str(err.value)
    assert "keypoint 0" in str(err.value) and "finite" in str(err.value)
    with pytest.warns(UserWarning, match="annotation id 12"):
        coco = load_coco_keypoints(path, 2)
    assert [i.ann_id for i in coco.instances] == [1]


def test_no_usable_image_names_the_folder_and_the_missing_files(real_dir, tmp_path):
    """An image folder without the annotated images is an error naming the folder, how many
    annotations looked for images there and the first missing files (issue 13, items 2 and 10)."""
    ann = real_dir / "ap10k" / "test_ap10k.json"
    n = len(json.loads(ann.read_text())["annotations"])
    with pytest.raises(NoSampleError) as err:
        TopDownDataset(ann, tmp_path, DATASETS["ap10k"])
    msg = str(err.value)
    assert str(tmp_path) in msg and f"{n} annotation" in msg
    assert "000000000004.jpg" in msg and "000000037516.jpg" in msg and "2 image file(s) missing" in msg
