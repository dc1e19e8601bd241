"""`kitpose synth`: deterministic synthetic quadrupeds in AP-10K COCO format, plus a demo video.

Every image is a function of (seed, image index) only (`np.random.default_rng([seed, i])`), JPEG
quality is fixed and JSON is written with sorted keys and rounded numbers, so the same seed gives
the same bytes. Visibility: 2 visible, 1 inside the image but covered by a later animal or an
occluder, 0 outside the image (coordinates then 0, as in COCO).
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from kitpose.data.metadata import DATASETS
from kitpose.data.quadruped import draw_animal, sample_animal

JPEG_QUALITY = 92


def background(rng, size) -> np.ndarray:
    """Gradient + low-frequency noise + clutter shapes. Returns: (h, w, 3) uint8 BGR."""
    h, w = size
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0.0, 1.0, h if rng.random() < 0.5 else w, dtype=np.float32)
    ramp = t[:, None, None] if len(t) == h else t[None, :, None]
    img = c0 * (1 - ramp) + c1 * ramp + np.zeros((h, w, 3), np.float32)
    blobs = rng.normal(0, rng.uniform(5, 35), (max(h // 32, 2), max(w // 32, 2), 3))
    img += cv2.resize(blobs.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 20))):
        _clutter(img, rng)
    return img


def _clutter(img, rng) -> None:
    h, w = img.shape[:2]
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
    kind = rng.integers(0, 4)
    if kind == 0:
        q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(img, p, q, colour, int(rng.integers(1, 8)), cv2.LINE_AA)
    elif kind == 1:
        cv2.circle(img, p, int(rng.integers(3, max(h, w) // 6)), colour, -1, cv2.LINE_AA)
    elif kind == 2:
        q = (p[0] + int(rng.integers(-w // 4, w // 4)), p[1] + int(rng.integers(-h // 4, h // 4)))
        cv2.rectangle(img, p, q, colour, -1)
    else:
        pts = np.asarray(p) + rng.integers(-w // 6, w // 6 + 1, (5, 2))
        cv2.fillPoly(img, [pts.astype(np.int32)], colour, cv2.LINE_AA)


def _occluders(img, rng, anchors) -> np.ndarray:
    """Blobs over random keypoints (partial occlusion). Returns: (h, w) uint8 mask."""
    mask = np.zeros(img.shape[:2], np.uint8)
    if len(anchors) == 0 or rng.random() > 0.35:
        return mask
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 3))):
        c = anchors[int(rng.integers(len(anchors)))] + rng.normal(0, 0.05 * min(h, w), 2)
        axes = (int(rng.uniform(0.04, 0.14) * w), int(rng.uniform(0.04, 0.14) * h))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        args = (tuple(int(v) for v in c), axes, float(rng.uniform(0, 180)), 0, 360)
        cv2.ellipse(img, *args, colour, -1, cv2.LINE_AA)
        cv2.ellipse(mask, *args, 255, -1, cv2.LINE_8)
    return mask


def _visibility(kp, covered, size) -> np.ndarray:
    """(17,) visibility from keypoints (17, 2) and the mask of everything drawn later."""
    h, w = size
    inside = (kp[:, 0] >= 0) & (kp[:, 0] <= w - 1) & (kp[:, 1] >= 0) & (kp[:, 1] <= h - 1)
    vis = np.where(inside, 2, 0)
    for i in np.flatnonzero(inside):
        if covered[int(round(kp[i, 1])), int(round(kp[i, 0]))]:
            vis[i] = 1
    return vis


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) pixel box around a drawn animal's mask, or None when nothing of it is drawn."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _annotation(kp, vis, mask, ann_id: int, image_id: int):
    """COCO annotation dict, or None when the animal left the image entirely."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    lo = np.array([xs.min(), ys.min()], np.float64)
    hi = np.array([xs.max(), ys.max()], np.float64) + 1.0
    if np.any(vis > 0):
        lo = np.minimum(lo, kp[vis > 0].min(axis=0))
        hi = np.maximum(hi, kp[vis > 0].max(axis=0))
    flat = np.concatenate([np.where(vis[:, None] > 0, np.round(kp, 2), 0.0), vis[:, None]], 1)
    box = [round(float(v), 2) for v in (*lo, *(hi - lo))]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": box,
            "area": round(box[2] * box[3], 2), "iscrowd": 0, "num_keypoints": int(np.sum(vis > 0)),
            "keypoints": [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(flat.ravel())]}


def render_image(seed: int, index: int, size=(256, 256)):
    """One synthetic image and its animals.

    Args:
        seed: dataset seed.
        index: image index.
        size: (h, w).
    Returns:
        image (h, w, 3) uint8 BGR, list of (keypoints (17, 2), visibility (17,), mask (h, w)).
    """
    rng = np.random.default_rng([seed, index])
    img = background(rng, size)
    n = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    animals = []
    for _ in range(n):
        length = rng.uniform(0.35, 0.8) * min(size) / n ** 0.3
        a = sample_animal(rng, size, length=length)
        kp, mask = draw_animal(img, a, phase=float(rng.uniform(0, 2 * np.pi)))
        animals.append((kp, mask))
    occ = _occluders(img, rng, np.concatenate([kp for kp, _ in animals]))
    covered = occ.copy()
    out = []
    for kp, mask in reversed(animals):  # later animals cover earlier ones
        out.append((kp, _visibility(kp, covered > 0, size), mask))
        covered |= mask
    sigma = rng.uniform(0, 8)
    noisy = img.astype(np.float32) + rng.normal(0, sigma, img.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8), out[::-1]


def category() -> dict:
    """The single "quadruped" category with AP-10K names and 1-based skeleton (COCO style)."""
    info = DATASETS["ap10k"]
    return {"id": 1, "name": "quadruped", "supercategory": "animal",
            "keypoints": list(info.keypoint_names),
            "skeleton": [[a + 1, b + 1] for a, b in info.skeleton]}


def _dump_json(obj, path: Path) -> None:
    path.write_text(json.dumps(obj, sort_keys=True, separators=(",", ":")))


def generate_dataset(out_dir, num_images: int, seed: int, image_size=(256, 256),
                     split: str = "train") -> Path:
    """Write `images/` and `annotations/<split>.json` (AP-10K COCO format).

    Args:
        out_dir: output folder (created).
        num_images: number of images.
        seed: generator seed; image i depends only on (seed, i).
        image_size: (h, w).
        split: annotation file name.
    Returns:
        Path of the annotation JSON.
    """
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    h, w = image_size
    for index in range(num_images):
        image_id = index + 1
        img, animals = render_image(seed, index, image_size)
        name = f"{image_id:012d}.jpg"
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {name}")
        (out / "images" / name).write_bytes(buf.tobytes())
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for kp, vis, mask in animals:
            ann = _annotation(kp, vis, mask, len(annotations) + 1, image_id)
            if ann is not None:
                annotations.append(ann)
    path = out / "annotations" / f"{split}.json"
    _dump_json({"info": {"description": "kitpose synthetic quadrupeds", "seed": seed},
                "images": images, "annotations": annotations, "categories": [category()]}, path)
    return path


def _walkers(rng, size, count: int):
    """Animals for the video with a horizontal speed (px/frame) matching their facing."""
    walkers = []
    for _ in range(count):
        a = sample_animal(rng, size, length=rng.uniform(0.3, 0.5) * min(size))
        a = a.__class__(**{**a.__dict__, "angle": float(rng.normal(0, 5))})
        speed = a.facing * rng.uniform(0.004, 0.012) * size[1]
        walkers.append((a, speed, rng.uniform(0, 2 * np.pi)))
    return walkers


def generate_video(path, num_frames: int = 90, seed: int = 0, size=(360, 640), fps: int = 15
                   ) -> Path:
    """Write an mp4 (mp4v) of walking animals and a sidecar JSON with per-frame GT.

    Args:
        path: output .mp4 path; the sidecar is the same path with suffix .json.
        num_frames / seed / fps: video length, generator seed, frame rate.
        size: (h, w).
    Returns:
        Path of the sidecar JSON.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 1 << 20])
    h, w = size
    scene = background(rng, size)
    walkers = _walkers(rng, size, int(rng.integers(1, 4)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with the mp4v codec (FFMPEG backend?)")
    frames = []
    for t in range(num_frames):
        img, instances = scene.copy(), []
        for track, (a, speed, phase0) in enumerate(walkers):
            x = (a.center[0] + speed * t) % (w * 1.4) - 0.2 * w
            moved = a.__class__(**{**a.__dict__, "center": (x, a.center[1])})
            kp, mask = draw_animal(img, moved, phase=phase0 + 0.35 * t)
            vis = _visibility(kp, np.zeros(size, bool), size)
            ann = _annotation(kp, vis, mask, track, t)
            if ann is not None:
                instances.append({"track_id": track, "bbox": ann["bbox"],
                                  "keypoints": ann["keypoints"]})
        writer.write(img)
        frames.append({"frame": t, "instances": instances})
    writer.release()
    sidecar = path.with_suffix(".json")
    _dump_json({"fps": fps, "size": [h, w], "keypoint_names": category()["keypoints"],
                "frames": frames}, sidecar)
    return sidecar


def run_synth(out_dir, num_images: int, seed: int = 0, video: bool = False,
              image_size=(256, 256), split: str = "train") -> dict:
    """Entry point for `kitpose synth OUT_DIR --num-images N --seed S [--video]`.

    Returns:
        {"annotations": path, "video": path or None, "video_gt": path or None}.
    """
    ann = generate_dataset(out_dir, num_images, seed, image_size, split)
    result = {"annotations": ann, "video": None, "video_gt": None}
    if video:
        mp4 = Path(out_dir) / "demo.mp4"
        result["video_gt"] = generate_video(mp4, seed=seed)
        result["video"] = mp4
    return result
