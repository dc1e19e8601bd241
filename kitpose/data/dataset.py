"""Top-down keypoint dataset: one sample per annotated instance, cropped with the UDP affine.

Every random draw of a sample comes from `np.random.default_rng([seed, epoch, index])`, so a
sample depends on nothing but (seed, epoch, index): worker count, worker order and resuming a
run mid-way give the same bytes. Call `set_epoch(epoch)` at the start of each epoch.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from kitpose.codecs.heatmap import HeatmapCodec
from kitpose.data.coco import Instance, Problem, load_coco_keypoints, report_problems
from kitpose.data.metadata import DatasetInfo
from kitpose.data.transforms import (box_to_center_scale, flip_keypoints, get_affine_transform,
                                     affine_points, half_body_box, random_scale_rotation)
from kitpose.errors import UserInputError
from kitpose.imagenet import normalize


class NoSampleError(UserInputError):
    """No annotation of a file has a usable image in the image folder; names both and the files."""


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation settings (spec 10.5 AP-10K defaults)."""

    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    scale_factor: float = 0.5
    rot_factor: float = 40.0
    rot_prob: float = 0.6
    padding: float = 1.25


class TopDownDataset(torch.utils.data.Dataset):
    """COCO keypoint instances as normalised crops with Gaussian targets."""

    def __init__(self, annotation_json, image_dir, info: DatasetInfo, input_size=(256, 256),
                 heatmap_size=(64, 64), sigma: float = 2.0, train: bool = False,
                 aug: AugmentConfig = AugmentConfig(), seed: int = 0, instances=None,
                 strict: bool = False, verify_images: bool = False):
        """Args:
            annotation_json: COCO keypoint JSON path.
            image_dir: folder the JSON's file_name entries are relative to.
            info: keypoint metadata (K must match the file).
            input_size: (h, w) crop size; heatmap_size: (H, W); sigma: target sigma.
            train: apply augmentation; otherwise crops come straight from the GT boxes.
            aug: augmentation settings; seed: base seed of every random draw.
            instances: optional list of Instance (e.g. detector boxes from load_detections).
            strict: raise on the first malformed annotation instead of skipping it.
            verify_images: decode every image now (slow) instead of checking size only.
        """
        self.image_dir, self.info, self.train, self.aug = Path(image_dir), info, train, aug
        self.input_size, self.seed, self.epoch = tuple(input_size), int(seed), 0
        self.codec = HeatmapCodec(input_size, heatmap_size, sigma)
        self.source = str(annotation_json)
        coco = load_coco_keypoints(annotation_json, info.num_keypoints, strict=strict,
                                   inclusive_width=info.name == "animalkingdom")
        self.raw, self.problems = coco.raw, list(coco.problems)
        candidates = coco.instances if instances is None else list(instances)
        self.instances = self._check_images(candidates, verify_images)

    def _check_images(self, instances, decode: bool) -> list[Instance]:
        """Report and drop instances whose image is missing, empty or (with decode) unreadable."""
        kept, bad, status = [], [], {}
        for inst in instances:
            if inst.file_name not in status:
                status[inst.file_name] = _image_problem(self.image_dir / inst.file_name, decode)
            if status[inst.file_name]:
                bad.append(Problem(self.source, inst.ann_id, status[inst.file_name]))
            else:
                kept.append(inst)
        if not kept:  # one error, not a warning line per missing file before it
            raise NoSampleError(self._no_sample_message(len(instances), status))
        report_problems(bad)
        self.problems.extend(bad)
        return kept

    def _no_sample_message(self, looked_for: int, status: dict[str, str]) -> str:
        missing = sorted(name for name, problem in status.items() if problem)
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        files = f"; {len(missing)} image file(s) missing or unreadable there: {shown}" if missing else ""
        return (f"{self.image_dir}: no usable sample; {looked_for} annotation(s) of {self.source} looked "
                f"for their images in this folder{files}. Point the image folder at the one the "
                "annotations' file_name entries are relative to")

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of an epoch (call before iterating)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.instances)

    def __getitem__(self, index: int) -> dict:
        for offset in range(len(self.instances)):
            idx = (index + offset) % len(self.instances)
            image = self._read(self.instances[idx])
            if image is not None:
                return self._sample(idx, image)
        raise RuntimeError(f"{self.source}: no readable image left in the dataset")

    def _read(self, inst: Instance):
        path = self.image_dir / inst.file_name
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            # Reported, then the next instance stands in, so a long run does not die on one file.
            warnings.warn(f"{self.source}: annotation id {inst.ann_id}: cannot decode image "
                          f"{path}; using the next instance instead", stacklevel=3)
            return None
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def crop_params(self, inst: Instance, rng):
        """Centre, scale, rotation and flip flag of one sample (augmented when training)."""
        h, w = self.input_size
        center, scale = box_to_center_scale(inst.box, w / h, self.aug.padding)
        if not self.train:
            return center, scale, 0.0, False
        kpts = inst.keypoints
        if (np.sum(kpts[:, 2] > 0) > self.info.half_body_min_joints
                and rng.random() < self.aug.half_body_prob):
            half = half_body_box(kpts, self.info.upper_body, self.info.lower_body, w / h, rng)
            if half is not None:
                center, scale = half
        scale, rot = random_scale_rotation(scale, rng, self.aug.scale_factor, self.aug.rot_factor,
                                           self.aug.rot_prob)
        return center, scale, rot, bool(rng.random() < self.aug.flip_prob)

    def _sample(self, idx: int, image) -> dict:
        inst = self.instances[idx]
        rng = np.random.default_rng([self.seed, self.epoch, idx])
        center, scale, rot, flip = self.crop_params(inst, rng)
        kpts = inst.keypoints.copy()
        if flip:
            image = image[:, ::-1]
            kpts = flip_keypoints(kpts, image.shape[1], self.info.flip_pairs)
            center = np.array([image.shape[1] - center[0] - 1.0, center[1]])
        crop = warp_crop(image, center, scale, rot, self.input_size)
        matrix = get_affine_transform(center, scale, rot, self.input_size)
        joints = affine_points(kpts[:, :2], matrix)  # (K, 2) input-crop pixels
        target, weight = self.codec.encode(joints, kpts[:, 2])
        return {
            "image": torch.from_numpy(normalize(crop)),  # (3, h, w)
            "target": torch.from_numpy(target),  # (K, H, W)
            "target_weight": torch.from_numpy(weight),  # (K,)
            "joints": joints.astype(np.float32),  # (K, 2) input-crop pixels
            "keypoints": inst.keypoints.astype(np.float32),  # (K, 3) image pixels, unflipped
            "image_id": inst.image_id, "ann_id": inst.ann_id,
            "center": center.astype(np.float64), "scale": scale.astype(np.float64),
            "rotation": float(rot), "flipped": flip, "score": float(inst.score),
        }


def warp_crop(image, center, scale, rot: float, input_size):
    """Bilinear UDP crop of an (h_img, w_img, 3) image. Returns: (h, w, 3) uint8."""
    h, w = input_size
    matrix = get_affine_transform(center, scale, rot, input_size)
    return cv2.warpAffine(np.ascontiguousarray(image), matrix, (int(w), int(h)),
                          flags=cv2.INTER_LINEAR)


def _image_problem(path: Path, decode: bool) -> str:
    """Empty string when the image looks usable, else the reason."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return f"image file {path} does not exist"
    if size == 0:
        return f"image file {path} is empty (0 bytes)"
    if decode and cv2.imread(str(path), cv2.IMREAD_COLOR) is None:
        return f"image file {path} cannot be decoded"
    return ""


def make_loader(dataset, batch_size: int, workers: int = 2, shuffle: bool = True,
                seed: int = 0, epoch: int = 0, drop_last: bool = False):
    """DataLoader whose order and samples depend only on (seed, epoch).

    Args:
        dataset: a TopDownDataset.
        batch_size / workers / drop_last: usual DataLoader settings.
        shuffle: permute with a torch.Generator seeded from (seed, epoch).
        seed / epoch: determinism keys; the dataset's epoch is set too.
    Returns:
        torch.utils.data.DataLoader.
    """
    dataset.set_epoch(epoch)
    gen = torch.Generator().manual_seed(int(seed) * 100003 + int(epoch))
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, generator=gen,
        drop_last=drop_last, pin_memory=torch.cuda.is_available(),
        persistent_workers=False, worker_init_fn=_worker_init,
        # fork after OpenCV and torch started their thread pools can deadlock the workers
        multiprocessing_context="spawn" if workers > 0 else None)


def _worker_init(_worker_id: int) -> None:
    cv2.setNumThreads(1)  # N workers x OpenCV's own thread pool oversubscribes the CPU
