"""The procedural CAPE categories: distinct body plans and graphs, 5-68 keypoints, disjoint splits,
same seed same bytes."""
import hashlib
import json

import numpy as np

from kitpose.data.categories import PLANS, make_category, split_categories, write_split_files


def test_one_hundred_distinct_categories():
    cats = [make_category(i) for i in range(1, 101)]
    ks = [c.num_keypoints for c in cats]
    assert min(ks) >= 5 and max(ks) <= 68 and len(set(ks)) > 30
    assert {c.plan for c in cats} == set(PLANS)
    graphs = {(c.plan, c.parents) for c in cats}
    assert len(graphs) == 100  # no two share a skeleton graph
    for c in cats:  # a tree: every link goes to an earlier keypoint, keypoint 0 is the root
        assert c.parents[0] == -1 and all(0 <= p < i for i, p in enumerate(c.parents) if i)
        assert len(c.skeleton) == c.num_keypoints - 1
    chains = [c for c in cats if c.plan == "chain"]
    assert all(c.parents == tuple(range(-1, c.num_keypoints - 1)) for c in chains)


def test_splits_are_disjoint_70_10_20():
    splits = split_categories(100, seed=0)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [70, 10, 20]
    assert set(splits["train"]) | set(splits["val"]) | set(splits["test"]) == set(range(1, 101))
    assert not set(splits["train"]) & set(splits["test"])


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_split_files_are_mp100_style_and_reproducible(tmp_path):
    paths = write_split_files(tmp_path / "a", images_per_category=2, num_categories=10, size=96)
    write_split_files(tmp_path / "b", images_per_category=2, num_categories=10, size=96)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    doc = json.loads(paths["test"].read_text())
    cat = doc["categories"][0]
    assert len(doc["annotations"]) == 2 * len(doc["categories"]) and "skeleton" in cat
    ann = doc["annotations"][0]
    kps = np.array(ann["keypoints"]).reshape(-1, 3)
    assert len(kps) == len(cat["keypoints"]) and ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
    x, y, w, h = ann["bbox"]
    inside = kps[kps[:, 2] > 0, :2]
    assert (inside[:, 0] >= x - 1).all() and (inside[:, 0] <= x + w + 1).all() and w > 4 and h > 4
