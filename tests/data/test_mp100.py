"""The MP-100 loader (cleaning rules, errors), episodes, crops, and the real fixtures as categories."""
import json

import cv2
import numpy as np
import pytest

from kitpose.data.mp100 import (crop, draw_episode, episode_sample, episodes_per_epoch, load_as_category,
                                load_mp100)
from real_fixtures import KEYPOINT_FILES, REAL


def _write(tmp_path, annotations, skeleton=((0, 1), (1, 2)), k=3):
    img = np.full((100, 120, 3), 128, np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), img)
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 120, "height": 100}],
           "categories": [{"id": 5, "name": "thing", "keypoints": [f"k{i}" for i in range(k)],
                           "skeleton": [list(e) for e in skeleton]}],
           "annotations": annotations}
    path = tmp_path / "mp100_split1_train.json"
    path.write_text(json.dumps(doc))
    return path


def _ann(i, bbox=(10, 10, 50, 40), kps=(20, 20, 2, 30, 30, 2, 0, 0, 0), n=2):
    return {"id": i, "image_id": 1, "category_id": 5, "bbox": list(bbox) if bbox else None,
            "keypoints": list(kps), "num_keypoints": n}


def test_cleaning_rules(tmp_path):
    path = _write(tmp_path, [_ann(1), _ann(2, bbox=None), _ann(3, bbox=(10, 10, 0.5, 40)),
                             _ann(4, kps=(0,) * 9), _ann(5, n=0), _ann(6, bbox=(100, 90, 50, 40))])
    cats = load_mp100(path, tmp_path)
    inst = cats[5].instances
    assert len(inst) == 2  # 1 kept, 6 clipped to the image; no box, degenerate, all-zero, n=0 dropped
    np.testing.assert_allclose(inst[1].box, [100, 90, 19, 9])
    assert cats[5].skeleton == ((0, 1), (1, 2)) and cats[5].num_keypoints == 3


@pytest.mark.parametrize("change, message", [
    (dict(skeleton=((0, 3),)), r"category 5 \(thing\): skeleton\[0\] = \[0, 3\]: index out of range"),
    (dict(k=71, skeleton=()), "1 to 70 keypoints"),
])
def test_bad_categories_are_named(tmp_path, change, message):
    k = change.get("k", 3)
    path = _write(tmp_path, [_ann(1, kps=(1,) * (3 * k))], skeleton=change["skeleton"], k=k)
    with pytest.raises(ValueError, match=message):
        load_mp100(path, tmp_path)


def test_bad_annotations_are_named(tmp_path):
    with pytest.raises(ValueError, match="annotation 1: 'keypoints' has 6 values, category 5 needs 3 x 3"):
        load_mp100(_write(tmp_path, [_ann(1, kps=(1,) * 6)]), tmp_path)
    with pytest.raises(ValueError, match="annotation 1: 'keypoints' holds NaN"):
        load_mp100(_write(tmp_path, [_ann(1, kps=(float("nan"),) * 9)]), tmp_path)


def test_episodes_and_the_every_epoch_rule(tmp_path):
    path = _write(tmp_path, [_ann(1), _ann(2), _ann(3)])
    cats = load_mp100(path, tmp_path)
    assert episodes_per_epoch(cats) == [5, 5, 5]
    supports, query = draw_episode(cats[5], 2, np.random.default_rng(0))
    assert len(supports) == 2
    sample = episode_sample(cats[5], supports, query, (64, 64), np.random.default_rng(0), train=True)
    assert sample["support_points"].shape == (2, 70, 2) and sample["table"].shape == (70, 8)
    assert sample["real"].sum() == 3 and not sample["query_visible"][2]  # keypoint 2 unlabelled


def test_support_with_no_visible_keypoint_is_refused(tmp_path):
    cats = load_mp100(_write(tmp_path, [_ann(1, kps=(20, 20, 0, 30, 30, 0, 1, 1, 0), n=1), _ann(2)]), tmp_path)
    with pytest.raises(ValueError, match="the support has no visible keypoint"):
        episode_sample(cats[5], [cats[5].instances[0]], cats[5].instances[1], (64, 64), None, train=False)


def test_crop_maps_keypoints_to_the_unit_square_and_back(tmp_path):
    cats = load_mp100(_write(tmp_path, [_ann(1)]), tmp_path)
    c = crop(cats[5].instances[0], (64, 64))
    assert c["image"].shape == (3, 64, 64) and c["visible"].tolist() == [True, True, False]
    px = c["points"][:2] * 64 - 0.5
    back = px @ c["inverse"][:, :2].T + c["inverse"][:, 2]
    np.testing.assert_allclose(back, [[20, 20], [30, 30]], atol=1e-4)


@pytest.mark.parametrize("folder, name, _", KEYPOINT_FILES, ids=[f[0] for f in KEYPOINT_FILES])
def test_real_fixtures_as_categories(folder, name, _):
    cat = load_as_category(REAL / folder / name, REAL / folder, folder)
    assert 9 <= cat.num_keypoints <= 23 and len(cat.instances) >= 2
    assert all(0 <= i < cat.num_keypoints and 0 <= j < cat.num_keypoints for i, j in cat.skeleton)
    supports, query = draw_episode(cat, 1, np.random.default_rng(0))
    sample = episode_sample(cat, supports, query, (128, 128), None, train=False)
    assert sample["support_visible"][0, :cat.num_keypoints].any()
