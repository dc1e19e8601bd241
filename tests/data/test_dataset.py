"""TopDownDataset: shapes on every real format, determinism per (seed, epoch, index), loader."""
import numpy as np
import pytest
import torch

from real_fixtures import KEYPOINT_FILES
from kitpose.data.dataset import TopDownDataset, make_loader
from kitpose.data.metadata import DATASETS


@pytest.mark.parametrize("folder,file,builtin", KEYPOINT_FILES, ids=[f[0] for f in KEYPOINT_FILES])
def test_every_format_crops_and_targets(real_dir, info_for, folder, file, builtin):
    info = info_for(folder, file, builtin)
    ds = TopDownDataset(real_dir / folder / file, real_dir / folder, info, (256, 192), (64, 48),
                        2.0, train=True, seed=3)
    s = ds[0]
    k = info.num_keypoints
    assert s["image"].shape == (3, 256, 192) and s["image"].dtype == torch.float32
    assert s["target"].shape == (k, 64, 48) and s["target_weight"].shape == (k,)
    assert float(s["image"].mean()) != 0.0 and s["target_weight"].sum() > 0


def _ap10k(real_dir, **kw):
    return TopDownDataset(real_dir / "ap10k" / "test_ap10k.json", real_dir / "ap10k",
                          DATASETS["ap10k"], train=True, **kw)


def test_same_seed_epoch_index_same_sample(real_dir):
    a, b = _ap10k(real_dir, seed=7), _ap10k(real_dir, seed=7)
    a.set_epoch(3)
    b.set_epoch(3)
    sa, sb = a[1], b[1]
    assert torch.equal(sa["image"], sb["image"]) and torch.equal(sa["target"], sb["target"])
    a.set_epoch(4)
    assert not torch.equal(a[1]["image"], sa["image"])  # a new epoch draws new augmentation


def test_eval_mode_uses_gt_boxes_unaugmented(real_dir):
    ds = TopDownDataset(real_dir / "ap10k" / "test_ap10k.json", real_dir / "ap10k",
                        DATASETS["ap10k"], train=False)
    s = ds[0]
    inst = ds.instances[0]
    x, y, w, h = inst.box
    assert s["rotation"] == 0.0 and not s["flipped"]
    assert np.allclose(s["center"], [x + w / 2, y + h / 2])


def test_loader_with_workers_matches_single_process(real_dir):
    ds = _ap10k(real_dir, seed=2)
    batches = [next(iter(make_loader(ds, 2, workers=n, seed=2, epoch=1))) for n in (0, 2)]
    assert torch.equal(batches[0]["image"], batches[1]["image"])
    assert torch.equal(batches[0]["target"], batches[1]["target"])
