"""Dataset metadata: built-in tables and metadata inferred from COCO categories."""
import json

import numpy as np
import pytest

from kitpose.data.metadata import DATASETS, DEFAULT_SIGMA, info_from_coco, infer_flip_pairs


@pytest.mark.parametrize("name", sorted(DATASETS), ids=sorted(DATASETS))
def test_builtin_tables_consistent(name):
    info = DATASETS[name]
    k = info.num_keypoints
    assert info.sigmas.shape == (k,)
    assert all(0 <= a < k and 0 <= b < k for a, b in info.skeleton + info.flip_pairs)
    assert sorted(info.upper_body + info.lower_body) == list(range(k))
    flip = info.flip_index()
    assert np.array_equal(flip[flip], np.arange(k))


@pytest.mark.parametrize("name", sorted(DATASETS), ids=sorted(DATASETS))
def test_name_inference_recovers_builtin_flip_pairs(name):
    info = DATASETS[name]
    assert set(infer_flip_pairs(info.keypoint_names)) == set(info.flip_pairs)


def test_ap10k_matches_spec_hand_values():
    info = DATASETS["ap10k"]
    assert info.flip_pairs[1] == (5, 8) and info.sigmas[11] == 0.107
    assert 10 in info.lower_body and 7 in info.upper_body  # the official asymmetric quirk


@pytest.mark.parametrize("names,pairs", [
    (["nose", "left_eye", "right_eye"], {(1, 2)}),
    (["L_Eye", "R_Eye", "Nose"], {(0, 1)}),
    (["Eye_Left", "Eye_Right "], {(0, 1)}),
    (["forelegL1", "forelegR1", "tailbase"], {(0, 1)}),
    (["Nearknee", "Offknee", "tail"], {(0, 1)}),
], ids=["snake", "prefix", "suffix_space", "zebra", "near_off"])
def test_infer_flip_pairs_spellings(names, pairs):
    assert set(infer_flip_pairs(names)) == pairs


def test_info_from_coco_warns_on_default_sigmas(real_dir):
    raw = json.loads((real_dir / "zebra" / "test_zebra.json").read_text())
    with pytest.warns(UserWarning, match=str(DEFAULT_SIGMA)):
        info = info_from_coco(raw, source="zebra.json")
    assert info.num_keypoints == 9 and np.all(info.sigmas == DEFAULT_SIGMA)
    assert (1, 0) in info.skeleton  # 1-based [2, 1] in the file


def test_info_from_coco_zero_based_skeleton(real_dir):
    raw = json.loads((real_dir / "ak" / "test_animalkingdom.json").read_text())
    info = info_from_coco(raw, sigmas=np.full(23, 0.03))
    assert info.skeleton == DATASETS["animalkingdom"].skeleton


def test_info_from_coco_rejects_file_without_keypoint_categories():
    with pytest.raises(ValueError, match="bad.json.*keypoints"):
        info_from_coco({"categories": [{"id": 1, "name": "x"}]}, source="bad.json")


def test_info_from_coco_rejects_wrong_sigma_count():
    raw = {"categories": [{"id": 1, "keypoints": ["a", "b"], "skeleton": []}]}
    with pytest.raises(ValueError, match=r"\(2,\)"):
        info_from_coco(raw, sigmas=[0.1, 0.2, 0.3])
