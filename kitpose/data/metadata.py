"""Dataset metadata: keypoint names, skeleton, flip pairs, OKS sigmas and half-body sets.

Values follow KITPOSE_SPEC.md section 10.1. Skeletons are 0-based pairs here; COCO JSON files store
them 1-based (AP-10K, AnimalPose, COCO) or 0-based (Animal Kingdom, ATRW), see `info_from_coco`.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from kitpose.errors import UserInputError

DEFAULT_SIGMA = 0.025  # MMPose's value for Animal Kingdom; used for custom datasets without sigmas


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of one keypoint layout."""

    name: str
    keypoint_names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]
    sigmas: np.ndarray = field(compare=False)  # (K,)
    upper_body: tuple[int, ...] = ()
    lower_body: tuple[int, ...] = ()
    half_body_min_joints: int = 8

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def flip_index(self) -> np.ndarray:
        """Permutation that swaps left/right keypoints. Returns: (K,) int array."""
        index = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index


_AP10K_NAMES = (
    "left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder", "left_elbow",
    "left_front_paw", "right_shoulder", "right_elbow", "right_front_paw", "left_hip", "left_knee",
    "left_back_paw", "right_hip", "right_knee", "right_back_paw",
)
_ANIMALPOSE_NAMES = (
    "L_Eye", "R_Eye", "L_EarBase", "R_EarBase", "Nose", "Throat", "TailBase", "Withers", "L_F_Elbow",
    "R_F_Elbow", "L_B_Elbow", "R_B_Elbow", "L_F_Knee", "R_F_Knee", "L_B_Knee", "R_B_Knee", "L_F_Paw",
    "R_F_Paw", "L_B_Paw", "R_B_Paw",
)
_AK_NAMES = (
    "Head_Mid_Top", "Eye_Left", "Eye_Right", "Mouth_Front_Top", "Mouth_Back_Left", "Mouth_Back_Right",
    "Mouth_Front_Bottom", "Shoulder_Left", "Shoulder_Right", "Elbow_Left", "Elbow_Right", "Wrist_Left",
    "Wrist_Right", "Torso_Mid_Back", "Hip_Left", "Hip_Right", "Knee_Left", "Knee_Right", "Ankle_Left",
    "Ankle_Right", "Tail_Top_Back", "Tail_Mid_Back", "Tail_End_Back",
)
_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)


def _zero_based(pairs_1based) -> tuple[tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in pairs_1based)


DATASETS: dict[str, DatasetInfo] = {
    "ap10k": DatasetInfo(
        name="ap10k",
        keypoint_names=_AP10K_NAMES,
        skeleton=((0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (3, 8), (8, 9),
                  (9, 10), (4, 11), (11, 12), (12, 13), (4, 14), (14, 15), (15, 16)),
        flip_pairs=((0, 1), (5, 8), (6, 9), (7, 10), (11, 14), (12, 15), (13, 16)),
        sigmas=np.array([0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.072, 0.062, 0.079, 0.072,
                         0.062, 0.107, 0.087, 0.089, 0.107, 0.087, 0.089]),
        # R_F_Paw (10) in "lower" is the official (asymmetric) split, kept on purpose (spec 10.1).
        upper_body=(0, 1, 2, 3, 5, 6, 7, 8, 9),
        lower_body=(4, 10, 11, 12, 13, 14, 15, 16),
    ),
    "animalpose": DatasetInfo(
        name="animalpose",
        keypoint_names=_ANIMALPOSE_NAMES,
        skeleton=_zero_based(((1, 2), (1, 3), (2, 4), (1, 5), (2, 5), (5, 6), (6, 8), (7, 8), (6, 9),
                              (9, 13), (13, 17), (6, 10), (10, 14), (14, 18), (7, 11), (11, 15),
                              (15, 19), (7, 12), (12, 16), (16, 20))),
        flip_pairs=((0, 1), (2, 3), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17), (18, 19)),
        sigmas=np.array([0.025, 0.025, 0.026, 0.035, 0.035, 0.10, 0.10, 0.10]
                        + [0.107] * 4 + [0.087] * 4 + [0.089] * 4),
        upper_body=(0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17),
        lower_body=(6, 10, 11, 14, 15, 18, 19),
    ),
    "animalkingdom": DatasetInfo(
        name="animalkingdom",
        keypoint_names=_AK_NAMES,
        skeleton=((1, 0), (2, 0), (3, 4), (3, 5), (4, 6), (5, 6), (0, 7), (0, 8), (7, 9), (8, 10),
                  (9, 11), (10, 12), (0, 13), (13, 20), (20, 14), (20, 15), (14, 16), (15, 17),
                  (16, 18), (17, 19), (20, 21), (21, 22)),
        flip_pairs=((1, 2), (4, 5), (7, 8), (9, 10), (11, 12), (14, 15), (16, 17), (18, 19)),
        sigmas=np.full(23, DEFAULT_SIGMA),  # AK is scored by PCK; sigmas only serve OKS-NMS
        upper_body=tuple(range(14)),
        lower_body=tuple(range(14, 23)),
        half_body_min_joints=11,
    ),
    "coco": DatasetInfo(
        name="coco",
        keypoint_names=_COCO_NAMES,
        skeleton=_zero_based(((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13),
                              (6, 7), (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3),
                              (2, 4), (3, 5), (4, 6), (5, 7))),
        flip_pairs=tuple((i, i + 1) for i in range(1, 17, 2)),
        sigmas=np.array([0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
                         0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089]),
        upper_body=tuple(range(11)),
        lower_body=tuple(range(11, 17)),
    ),
}

# Left/right spellings seen in public datasets; "near/off" is the equestrian convention (Horse-10).
_SIDE_PATTERNS = (
    (r"left", "right"),
    (r"(?<![a-z])l(?![a-z])", "r"),  # l_eye, eye_l
    (r"(?<=[a-z])l(?=\d|$)", "r"),  # forelegl1 (zebra)
    (r"^near", "off"),
)
_LOWER_WORDS = ("hip", "knee", "ankle", "hind", "back_paw", "b_paw", "b_elbow", "tail", "stifle",
                "ischium", "hock")


def _normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def infer_flip_pairs(names) -> tuple[tuple[int, int], ...]:
    """Pair keypoints whose names differ only by a left/right marker.

    Args:
        names: K keypoint names.
    Returns:
        0-based (left, right) index pairs.
    """
    norm = [_normalise(n) for n in names]
    lookup = {n: i for i, n in enumerate(norm)}
    pairs = []
    for i, name in enumerate(norm):
        for pattern, replacement in _SIDE_PATTERNS:
            if not re.search(pattern, name):
                continue
            j = lookup.get(re.sub(pattern, replacement, name, count=1))
            if j is not None and j != i:
                pairs.append((i, j))
                break
    return tuple(pairs)


def _infer_half_body(names) -> tuple[tuple[int, ...], tuple[int, ...]]:
    norm = [_normalise(n) for n in names]
    lower = tuple(i for i, n in enumerate(norm) if any(w in n for w in _LOWER_WORDS))
    upper = tuple(i for i in range(len(norm)) if i not in lower)
    return upper, lower


def _skeleton_from_json(skeleton, num_keypoints: int, where: str) -> tuple[tuple[int, int], ...]:
    """COCO stores 1-based links; some exports (Animal Kingdom, ATRW) store 0-based ones."""
    flat = [int(v) for link in skeleton for v in link]
    if not flat:
        return ()
    offset = 0 if min(flat) == 0 else 1
    if max(flat) - offset >= num_keypoints or min(flat) < 0:
        raise UserInputError(f"{where}: skeleton indices {min(flat)}..{max(flat)} do not fit "
                         f"{num_keypoints} keypoints; fix the category's 'skeleton'")
    return tuple((a - offset, b - offset) for a, b in
                 ((int(link[0]), int(link[1])) for link in skeleton))


def info_from_coco(json_dict: dict, sigmas=None, name: str | None = None,
                   source: str = "<json>") -> DatasetInfo:
    """Build metadata for a custom COCO keypoint dataset from its first category.

    Args:
        json_dict: parsed COCO JSON with a non-empty 'categories' list holding 'keypoints'.
        sigmas: (K,) OKS sigmas; when None every sigma defaults to DEFAULT_SIGMA (0.025) with a warning.
        name: dataset name (defaults to the first category's name).
        source: file name used in error messages.
    Returns:
        DatasetInfo with flip pairs and half-body sets inferred from the keypoint names.
    """
    categories = [c for c in json_dict.get("categories", []) if c.get("keypoints")]
    if not categories:
        raise UserInputError(f"{source}: no category with a 'keypoints' list; this is not a COCO "
                         "keypoint file (add categories[].keypoints)")
    names = tuple(n.strip() for n in categories[0]["keypoints"])
    for cat in categories[1:]:
        if len(cat["keypoints"]) != len(names):
            raise UserInputError(f"{source}: category {cat.get('id')} has {len(cat['keypoints'])} "
                             f"keypoints, category {categories[0].get('id')} has {len(names)}; "
                             "one file must use one keypoint layout")
    if sigmas is None:
        warnings.warn(f"{source}: no OKS sigmas given for {len(names)} keypoints; using "
                      f"{DEFAULT_SIGMA} for every keypoint (pass sigmas= for meaningful OKS)",
                      stacklevel=2)
        sigmas = np.full(len(names), DEFAULT_SIGMA)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.shape != (len(names),):
        raise UserInputError(f"{source}: sigmas has shape {sigmas.shape}, expected ({len(names)},): give one "
                             f"OKS sigma per keypoint ({sigmas.size} given for {len(names)} keypoints)")
    upper, lower = _infer_half_body(names)
    skeleton = _skeleton_from_json(categories[0].get("skeleton", []), len(names),
                                   f"{source} category {categories[0].get('id')}")
    return DatasetInfo(name=name or str(categories[0].get("name", "custom")), keypoint_names=names,
                       skeleton=skeleton, flip_pairs=infer_flip_pairs(names), sigmas=sigmas,
                       upper_body=upper, lower_body=lower)


def dataset_info(name: str, annotation_json=None, sigmas=None) -> DatasetInfo:
    """A built-in dataset's metadata (sigmas replaced when given), or a custom dataset's from its file.

    Args:
        name: a DATASETS key, or any name for a custom COCO keypoint dataset.
        annotation_json: the dataset's COCO JSON (read for a custom dataset's keypoint layout).
        sigmas: (K,) OKS sigmas; required for a custom dataset.
    """
    if name in DATASETS:
        info = DATASETS[name]
        if sigmas is None:
            return info
        if len(sigmas) != info.num_keypoints:
            raise UserInputError(f"{len(sigmas)} OKS sigma(s) given for {name}'s {info.num_keypoints} "
                                 "keypoints; give one sigma per keypoint")
        return replace(info, sigmas=np.asarray(sigmas, dtype=np.float64))
    if sigmas is None or annotation_json is None:
        raise UserInputError(f"dataset {name!r} is not built in ({', '.join(sorted(DATASETS))}); give "
                             "--sigmas (one OKS sigma per keypoint) to evaluate a custom dataset")
    import json
    from pathlib import Path

    raw = json.loads(Path(annotation_json).read_text())
    return info_from_coco(raw, sigmas, name=name, source=str(annotation_json))
