"""MP-100-format data for category-agnostic pose: the loader, the episode sampler and crops.

An MP-100 file is COCO keypoints with a `skeleton` (0-indexed links) per category (FMMP_SPEC.md,
"Data"). Cleaning: annotations without a box, with a degenerate box, with all-zero keypoints or
`num_keypoints` 0 are dropped; boxes are clipped to the image. An *episode* is S support instances
and one query of one category; every epoch draws, per category, as many episodes as the largest
category has instances.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from kitpose.cape.padding import check_class, equal_padding, mixup_padding
from kitpose.cape.structure import structure_table
from kitpose.data.transforms import affine_points, box_to_center_scale, get_affine_transform, sanitize_box
from kitpose.imagenet import normalize


@dataclass(frozen=True)
class Instance:
    image: Path
    box: np.ndarray        # (4,) x, y, w, h, clipped to the image
    keypoints: np.ndarray  # (K_c, 3) x, y, v


@dataclass
class CapeCategory:
    id: int
    name: str
    num_keypoints: int
    skeleton: tuple[tuple[int, int], ...]
    instances: list[Instance] = field(default_factory=list)


def load_mp100(annotations: str | Path, images: str | Path) -> dict[int, CapeCategory]:
    """Categories (with at least one clean instance) of an MP-100-style file.

    Raises:
        ValueError naming the file and field for malformed categories or annotations.
    """
    path = Path(annotations)
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON file ({err})") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            raise ValueError(f"{path}: field {key!r} must be a list (MP-100 / COCO keypoints format)")
    cats = {}
    for c in doc["categories"]:
        names = c.get("keypoints") or []
        k = len(names)
        try:
            skeleton = check_class(k, c.get("skeleton", []))
        except ValueError as err:
            raise ValueError(f"{path}: category {c.get('id')} ({c.get('name')}): {err}") from None
        cats[int(c["id"])] = CapeCategory(int(c["id"]), str(c.get("name", c["id"])), k, skeleton)
    sizes = {int(i["id"]): (i["file_name"], int(i["height"]), int(i["width"])) for i in doc["images"]}
    for a in doc["annotations"]:
        inst = _clean(a, cats, sizes, Path(images), path)
        if inst is not None:
            cats[int(a["category_id"])].instances.append(inst)
    return {cid: c for cid, c in cats.items() if c.instances}


def load_as_category(annotations: str | Path, images: str | Path, name: str, cid: int = 1) -> CapeCategory:
    """Every annotation of a COCO keypoints file (one keypoint layout, e.g. a real fixture dataset)
    as one category: the first category's keypoints and skeleton, cleaned as `load_mp100`.

    COCO skeletons are 1-indexed; a file whose skeleton uses index 0 is taken as 0-indexed.
    """
    path = Path(annotations)
    doc = json.loads(path.read_text())
    first = doc["categories"][0]
    k = len(first.get("keypoints") or [])
    links = [list(e) for e in first.get("skeleton") or []]
    base = 0 if any(0 in e for e in links) else 1
    skeleton = [[int(i) - base, int(j) - base] for i, j in links]
    doc["categories"] = [{"id": cid, "name": name, "keypoints": first["keypoints"], "skeleton": skeleton}]
    for a in doc["annotations"]:
        a["category_id"] = cid
    tmp = {cid: CapeCategory(cid, name, k, check_class(k, skeleton))}
    sizes = {int(i["id"]): (i["file_name"], int(i["height"]), int(i["width"])) for i in doc["images"]}
    tmp[cid].instances = [i for a in doc["annotations"] if (i := _clean(a, tmp, sizes, Path(images), path))]
    return tmp[cid]


def _clean(a: dict, cats: dict, sizes: dict, images: Path, path: Path) -> Instance | None:
    """One annotation as an Instance, or None when the cleaning rules drop it."""
    cid = int(a.get("category_id", -1))
    if cid not in cats:
        raise ValueError(f"{path}: annotation {a.get('id')} has category_id {cid}, not in 'categories'")
    if int(a.get("image_id", -1)) not in sizes:
        raise ValueError(f"{path}: annotation {a.get('id')} has image_id {a.get('image_id')}, not in 'images'")
    k = cats[cid].num_keypoints
    kps = np.asarray(a.get("keypoints", []), np.float64)
    if kps.size != 3 * k:
        raise ValueError(f"{path}: annotation {a.get('id')}: 'keypoints' has {kps.size} values, category "
                         f"{cid} needs 3 x {k}")
    if not np.isfinite(kps).all():
        raise ValueError(f"{path}: annotation {a.get('id')}: 'keypoints' holds NaN or inf")
    kps = kps.reshape(k, 3)
    name, h, w = sizes[int(a["image_id"])]
    box = a.get("bbox")
    if box is None or len(box) != 4 or int(a.get("num_keypoints", 1)) == 0 or not kps.any():
        return None
    box = sanitize_box(box, (h, w))
    if box is None or box[2] <= 1 or box[3] <= 1:
        return None
    kps[kps[:, 2] <= 0] = 0.0
    return Instance(images / name, box, kps)


def episode_categories(annotations: str | Path, images: str | Path, single_category: bool = False
                       ) -> dict[int, CapeCategory]:
    """The categories of a file that can make episodes (2 or more clean instances: a support and a
    query); `single_category` takes the whole file as one (`load_as_category`).

    Raises:
        ValueError naming the file when the file is malformed or no category is usable.
    """
    try:
        cats = ({1: load_as_category(annotations, images, Path(annotations).stem)} if single_category
                else load_mp100(annotations, images))
    except (KeyError, IndexError) as err:
        raise ValueError(f"{annotations}: not an MP-100 / COCO keypoints file ({err!r} missing)") from None
    usable = {cid: c for cid, c in cats.items() if len(c.instances) >= 2}
    if not usable:
        raise ValueError(f"{annotations}: no category has the 2 clean instances an episode needs "
                         "(one support, one query)")
    return usable


def episodes_per_epoch(cats: dict[int, CapeCategory]) -> list[int]:
    """Category id of every episode of one epoch: each category as often as the largest has instances."""
    most = max(len(c.instances) for c in cats.values())
    return [cid for cid in sorted(cats) for _ in range(most)]


def draw_episode(cat: CapeCategory, shots: int, rng: np.random.Generator) -> tuple[list[Instance], Instance]:
    """S supports and a query, all different instances when the category has enough."""
    n = len(cat.instances)
    if n < 2:
        raise ValueError(f"category {cat.id} ({cat.name}) has {n} instance; an episode needs 2 or more")
    picks = rng.choice(n, size=shots + 1, replace=n < shots + 1)
    return [cat.instances[i] for i in picks[:shots]], cat.instances[picks[shots]]


def crop(inst: Instance, size: tuple[int, int], rng: np.random.Generator | None = None,
         scale_jitter: float = 0.15, rot_deg: float = 15.0) -> dict:
    """The instance's crop (box x 1.25 to size), keypoints normalised to [0, 1] of the crop.

    With rng: training augmentation (scale +-scale_jitter, rotation +-rot_deg). Returns image
    (3, h, w) float32 normalised RGB, points (K_c, 2), visible (K_c,), inverse (2, 3) crop px -> image.
    """
    img = cv2.imread(str(inst.image), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{inst.image}: image missing or unreadable")
    h, w = size
    center, scale = box_to_center_scale(inst.box, w / h)
    rot = 0.0
    if rng is not None:
        scale = scale * rng.uniform(1 - scale_jitter, 1 + scale_jitter)
        rot = float(rng.uniform(-rot_deg, rot_deg))
    mat = get_affine_transform(center, scale, rot, size)
    patch = cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR)[:, :, ::-1]  # RGB
    image = normalize(patch)  # (3, h, w)
    px = affine_points(inst.keypoints[:, :2], mat)  # (K_c, 2) crop pixels
    points = (px + 0.5) / np.array([w, h])  # pixel centres at (i + 0.5) / w
    visible = (inst.keypoints[:, 2] > 0) & (points >= 0).all(1) & (points <= 1).all(1)
    return {"image": np.ascontiguousarray(image), "points": points.astype(np.float32), "visible": visible,
            "inverse": get_affine_transform(center, scale, rot, size, inverse=True)}


def episode_sample(cat: CapeCategory, supports: list[Instance], query: Instance, size: tuple[int, int],
                   rng: np.random.Generator | None, train: bool) -> dict:
    """Network inputs of one episode: crops, padded points (mixup in training, equal division at
    test) shared by shots and query, the structure table from what the shots see."""
    aug = rng if train else None
    crops = [crop(s, size, aug) for s in supports] + [crop(query, size, aug)]
    pts = np.stack([c["points"] for c in crops])  # (S+1, K_c, 2)
    vis = np.stack([c["visible"] for c in crops])  # (S+1, K_c)
    if not vis[:-1].any():
        raise ValueError(f"category {cat.id} ({cat.name}): the support has no visible keypoint")
    padded = mixup_padding(pts, vis, cat.skeleton, rng) if train else equal_padding(pts, vis, cat.skeleton)
    return {"query": crops[-1]["image"], "support": np.stack([c["image"] for c in crops[:-1]]),
            "support_points": padded.points[:-1], "support_visible": padded.visible[:-1],
            "table": structure_table(padded.links, padded.visible[:-1].any(0)),
            "query_points": padded.points[-1], "query_visible": padded.visible[-1], "real": padded.real,
            "query_inverse": crops[-1]["inverse"], "query_box": query.box, "query_keypoints": query.keypoints,
            "category": cat.id, "num_keypoints": cat.num_keypoints}


