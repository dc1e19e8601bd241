"""Synthetic quadrupeds: same seed same bytes, valid AP-10K annotations, video + sidecar."""
import hashlib
import json
import time

import cv2
import numpy as np

from kitpose.data.coco import load_coco_keypoints
from kitpose.data.dataset import TopDownDataset
from kitpose.data.metadata import DATASETS
from kitpose.data.synthetic import generate_dataset, generate_video


def _hashes(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        generate_dataset(tmp_path / name, 6, seed=seed, image_size=(128, 160))
    ha, hb, hc = (_hashes(tmp_path / n) for n in "abc")
    assert ha == hb and len(ha) == 7
    assert ha != hc


def test_annotations_valid_ap10k_format(tmp_path):
    path = generate_dataset(tmp_path, 40, seed=1)
    raw = json.loads(path.read_text())
    cat = raw["categories"][0]
    assert cat["name"] == "quadruped" and len(cat["keypoints"]) == 17
    assert [[a - 1, b - 1] for a, b in cat["skeleton"]] == [list(p) for p in
                                                           DATASETS["ap10k"].skeleton]
    vis_counts = np.zeros(3, int)
    for ann in raw["annotations"]:
        kp = np.asarray(ann["keypoints"], float).reshape(17, 3)
        x, y, w, h = ann["bbox"]
        assert ann["num_keypoints"] == int(np.sum(kp[:, 2] > 0)) and ann["iscrowd"] == 0
        assert np.isclose(ann["area"], w * h, atol=0.02)
        shown = kp[kp[:, 2] > 0]
        assert np.all(shown[:, 0] >= x - 0.01) and np.all(shown[:, 0] <= x + w + 0.01)
        assert np.all(shown[:, 1] >= y - 0.01) and np.all(shown[:, 1] <= y + h + 0.01)
        assert np.all(kp[kp[:, 2] == 0, :2] == 0)
        vis_counts += np.bincount(kp[:, 2].astype(int), minlength=3)
    assert len(raw["annotations"]) >= 40 and np.all(vis_counts > 0)  # truncation and occlusion
    coco = load_coco_keypoints(path, 17, strict=True)
    ds = TopDownDataset(path, tmp_path / "images", DATASETS["ap10k"], train=True)
    assert len(coco.instances) == len(ds) and ds[0]["target"].shape == (17, 64, 64)


def test_visible_keypoints_lie_on_the_drawn_animal(tmp_path):
    from kitpose.data.synthetic import render_image
    for index in range(10):
        _, animals = render_image(5, index, (256, 256))
        for kp, vis, mask in animals:
            for (x, y), v in zip(kp, vis):
                if v > 0:
                    assert mask[int(round(y)), int(round(x))] > 0


def test_generation_is_fast(tmp_path):
    start = time.perf_counter()
    generate_dataset(tmp_path, 60, seed=0)
    assert time.perf_counter() - start < 15.0  # about 10 ms an image measured; generous bound


def test_video_and_sidecar(tmp_path):
    sidecar = generate_video(tmp_path / "demo.mp4", num_frames=12, seed=4, size=(120, 200), fps=10)
    cap = cv2.VideoCapture(str(tmp_path / "demo.mp4"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    meta = json.loads(sidecar.read_text())
    assert frames == 12 and len(meta["frames"]) == 12 and meta["size"] == [120, 200]
    again = generate_video(tmp_path / "again.mp4", num_frames=12, seed=4, size=(120, 200), fps=10)
    assert again.read_text() == sidecar.read_text()
    assert any(f["instances"] for f in meta["frames"])
