"""Procedural object categories for category-agnostic pose: distinct body plans, skeletons, looks.

Each category (seeded by its id) is a tree of 5 to 68 keypoints grown from one of four body plans:
a chain (worms, snakes), a star (starfish, spiders), a spine with limbs (animals of any leg count)
and a random tree (plants, corals). It has its own bone lengths, widths, colours along the tree and
joint marks, so keypoints can be told apart within a category but categories look unlike each
other. An instance bends every joint of the rest pose, then rotates, scales and places it.
`write_split_files` renders them as MP-100-style COCO files (the FMMP loader's input): 70 train,
10 val and 20 test categories, disjoint; same seed, same bytes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kitpose.data.synthetic import JPEG_QUALITY, background

PLANS = ("chain", "star", "limbs", "tree")
MIN_KEYPOINTS, MAX_KEYPOINTS = 5, 68
SPLIT_SIZES = {"train": 70, "val": 10, "test": 20}


@dataclass(frozen=True)
class Category:
    """One procedural kind of object."""

    id: int                       # 1-based, as MP-100's
    name: str
    plan: str                     # one of PLANS
    parents: tuple[int, ...]      # parent of each keypoint (-1 for the root, keypoint 0)
    angles: np.ndarray            # (K,) rest angle of each bone relative to its parent's, radians
    lengths: np.ndarray           # (K,) bone length, in units of the object's size
    widths: np.ndarray            # (K,) bone thickness, same units
    colours: np.ndarray           # (K, 3) uint8 BGR colour of each bone (and joint mark)
    flexibility: float            # joint angle spread of poses, radians

    @property
    def num_keypoints(self) -> int:
        return len(self.parents)

    @property
    def skeleton(self) -> list[list[int]]:
        """Links (child, parent), 0-indexed."""
        return [[k, p] for k, p in enumerate(self.parents) if p >= 0]


def _grow(plan: str, k: int, rng: np.random.Generator) -> tuple[list[int], list[float]]:
    """Parents and rest angles of k keypoints for a body plan."""
    parents, angles = [-1], [0.0]
    if plan == "chain":
        for i in range(1, k):
            parents.append(i - 1)
            angles.append(float(rng.normal(0, 0.3)))
    elif plan == "star":
        arms = int(rng.integers(3, min(8, k - 1) + 1))
        for i in range(1, k):
            arm = (i - 1) % arms
            parents.append(0 if i <= arms else i - arms)
            angles.append(2 * np.pi * arm / arms if i <= arms else float(rng.normal(0, 0.2)))
    elif plan == "limbs":
        spine = max(2, k // 3)
        for i in range(1, spine):
            parents.append(i - 1)
            angles.append(float(rng.normal(0, 0.15)))
        limb_len = int(rng.integers(1, 4))
        side = 1.0
        while len(parents) < k:
            anchor = int(rng.integers(0, spine))
            prev = anchor
            for j in range(limb_len):
                if len(parents) == k:
                    break
                parents.append(prev)
                angles.append(side * np.pi / 2 if j == 0 else float(rng.normal(0, 0.4)))
                prev = len(parents) - 1
            side = -side
    else:  # tree
        for i in range(1, k):
            parents.append(int(rng.integers(max(0, i - 4), i)))
            angles.append(float(rng.uniform(-1.2, 1.2)))
    return parents, angles


def keypoint_count(cid: int) -> int:
    """K of a category: the 25 categories of each plan among ids 1-100 get 25 different counts (so
    no two of the 100 share a skeleton graph): chains 5-29, the other plans spread over 5-68."""
    rank = ((cid - 1) // len(PLANS)) % 25
    if PLANS[(cid - 1) % len(PLANS)] == "chain":
        return MIN_KEYPOINTS + rank
    return MIN_KEYPOINTS + round(rank * (MAX_KEYPOINTS - MIN_KEYPOINTS) / 24)


def make_category(cid: int, seed: int = 0) -> Category:
    """The category with this id (same id and seed, same category)."""
    rng = np.random.default_rng([seed, cid, 7])
    plan = PLANS[(cid - 1) % len(PLANS)]
    k = keypoint_count(cid)
    parents, angles = _grow(plan, k, rng)
    base = rng.uniform(0.5, 1.5, k)
    lengths = base / np.sqrt(k)
    hue0, hue_step = rng.uniform(0, 180), rng.uniform(5, 40)
    hsv = np.stack([(hue0 + hue_step * np.arange(k)) % 180, rng.uniform(120, 255, k), rng.uniform(90, 255, k)], 1)
    colours = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2BGR)[0]
    widths = lengths * rng.uniform(0.15, 0.45) * rng.uniform(0.7, 1.3, k)
    return Category(cid, f"synth_{plan}_{cid:03d}", plan, tuple(parents), np.asarray(angles), lengths, widths,
                    colours, float(rng.uniform(0.1, 0.35)))


def pose(cat: Category, rng: np.random.Generator) -> np.ndarray:
    """(K, 2) keypoints of one instance in object units, centred on the origin."""
    k = cat.num_keypoints
    bend = cat.angles + rng.normal(0, cat.flexibility, k)
    heading, pts = np.zeros(k), np.zeros((k, 2))
    for i in range(1, k):
        p = cat.parents[i]
        heading[i] = heading[p] + bend[i]
        pts[i] = pts[p] + cat.lengths[i] * np.array([np.cos(heading[i]), np.sin(heading[i])])
    return pts - (pts.max(0) + pts.min(0)) / 2


def draw_instance(img: np.ndarray, cat: Category, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one posed instance into img (in place). Returns keypoints (K, 2) px and the (x, y, w, h) box."""
    h, w = img.shape[:2]
    pts = pose(cat, rng)
    theta = rng.uniform(-np.pi, np.pi)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    extent = max(np.ptp(pts, 0).max(), 1e-3)
    size = rng.uniform(0.45, 0.8) * min(h, w)
    scale = size / extent
    centre = np.array([w, h]) / 2 + rng.uniform(-0.1, 0.1, 2) * np.array([w, h])
    px = pts @ rot.T * scale + centre  # (K, 2)
    mask = np.zeros((h, w), np.uint8)
    for i in range(1, cat.num_keypoints):  # bones, parent to child
        a, b = px[cat.parents[i]], px[i]
        thick = max(2, int(round(cat.widths[i] * scale)))
        colour = tuple(int(c) for c in cat.colours[i])
        cv2.line(img, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), colour, thick, cv2.LINE_AA)
        cv2.line(mask, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), 255, thick)
    for i in range(cat.num_keypoints):  # joint marks: darker discs, larger at the root
        r = max(2, int(round((cat.widths[i] * 0.8 + (0.02 if i == 0 else 0)) * scale)))
        cv2.circle(img, tuple(np.round(px[i]).astype(int)), r, tuple(int(c) // 2 for c in cat.colours[i]), -1,
                   cv2.LINE_AA)
        cv2.circle(mask, tuple(np.round(px[i]).astype(int)), r, 255, -1)
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return px, np.array([x0, y0, x1 - x0, y1 - y0], np.float64)


def split_categories(num_categories: int = 100, seed: int = 0) -> dict[str, list[int]]:
    """Category ids per split, 70/10/20 of 100 (scaled for other counts), disjoint."""
    ids = np.random.default_rng([seed, 11]).permutation(np.arange(1, num_categories + 1))
    n_train = round(num_categories * 0.7)
    n_val = round(num_categories * 0.1)
    return {"train": sorted(ids[:n_train].tolist()), "val": sorted(ids[n_train:n_train + n_val].tolist()),
            "test": sorted(ids[n_train + n_val:].tolist())}


def write_split_files(out_dir: str | Path, images_per_category: int = 40, num_categories: int = 100,
                      size: int = 192, seed: int = 0) -> dict[str, Path]:
    """Render every category and write MP-100-style files.

    Layout: out_dir/images/<category name>/<n>.jpg and out_dir/annotations/mp100_split1_{train,val,
    test}.json (COCO keypoints with a `skeleton` per category). Returns split -> annotation path.
    """
    if num_categories < 3 or images_per_category < 2:
        raise ValueError("need >= 3 categories (train/val/test) and >= 2 images per category")
    out = Path(out_dir)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    written = {}
    image_id = ann_id = 0
    for split, ids in split_categories(num_categories, seed).items():
        doc = {"images": [], "annotations": [], "categories": []}
        for cid in ids:
            cat = make_category(cid, seed)
            doc["categories"].append({"id": cid, "name": cat.name, "supercategory": cat.plan,
                                      "keypoints": [f"kp{i}" for i in range(cat.num_keypoints)],
                                      "skeleton": cat.skeleton})
            folder = out / "images" / cat.name
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(images_per_category):
                rng = np.random.default_rng([seed, cid, n, 3])
                img = background(rng, (size, size))
                px, box = draw_instance(img, cat, rng)
                name = f"{cat.name}/{n:03d}.jpg"
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                if not ok:
                    raise RuntimeError(f"JPEG encoding failed for {name}")
                (out / "images" / name).write_bytes(buf.tobytes())
                inside = (px[:, 0] >= 0) & (px[:, 0] < size) & (px[:, 1] >= 0) & (px[:, 1] < size)
                kps = np.concatenate([np.round(px, 2), np.where(inside, 2, 0)[:, None]], 1)
                kps[~inside, :2] = 0
                image_id, ann_id = image_id + 1, ann_id + 1
                doc["images"].append({"id": image_id, "file_name": name, "width": size, "height": size})
                doc["annotations"].append({"id": ann_id, "image_id": image_id, "category_id": cid,
                                           "bbox": [round(float(v), 2) for v in box], "iscrowd": 0,
                                           "area": float(box[2] * box[3]), "num_keypoints": int(inside.sum()),
                                           "keypoints": [float(v) for v in kps.flatten()]})
        path = out / "annotations" / f"mp100_split1_{split}.json"
        path.write_text(json.dumps(doc))
        written[split] = path
    return written
