"""Episodes batch across categories, and scoring maps predictions back to image pixels."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from kitpose.cape.episodes import EpisodeDataset, evaluate_cape, score_pairs  # noqa: E402
from kitpose.cape.pck import pck  # noqa: E402
from kitpose.data.categories import write_split_files  # noqa: E402
from kitpose.data.mp100 import load_mp100  # noqa: E402


@pytest.fixture(scope="module")
def cats(tmp_path_factory):
    root = tmp_path_factory.mktemp("cats")
    paths = write_split_files(root, images_per_category=3, num_categories=10, size=96)
    return load_mp100(paths["test"], root / "images")


def test_ground_truth_as_prediction_scores_one(cats):
    ds = EpisodeDataset(cats, shots=1, input_size=(64, 64), train=False, episodes=2)
    assert len(ds) == 2 * len(cats)
    batch = next(iter(DataLoader(ds, batch_size=len(ds))))  # categories of different K in one batch
    pairs = score_pairs(batch["query_points"], batch, (64, 64))
    for pred, gt, qv, _, _ in pairs:
        np.testing.assert_allclose(pred[qv], gt[qv], atol=1e-3)  # crop -> image round trip
    assert pck(pairs, 0.05) == 1.0
    shifted = score_pairs(batch["query_points"] + 0.3, batch, (64, 64))
    assert pck(shifted, 0.05) < 0.2


def test_training_epochs_draw_fresh_episodes(cats):
    ds = EpisodeDataset(cats, shots=2, input_size=(64, 64), train=True, seed=3)
    first = ds[0]["support_points"]
    ds.set_epoch(1)
    assert not torch.equal(first, ds[0]["support_points"]) and ds[0]["support"].shape == (2, 3, 64, 64)


def test_evaluate_runs_a_model(cats):
    from kitpose.models.fmmp import FMMP, FMMPConfig

    model = FMMP(FMMPConfig(input_size=(64, 64), dim=32, heads=4, ffn=64, planes=(8, 8, 16, 16),
                            blocks=(1, 1, 1, 1)))
    table = evaluate_cape(model, EpisodeDataset(cats, 1, (64, 64), False, episodes=1), 4, torch.device("cpu"))
    assert set(table) == {"PCK@0.05", "PCK@0.1", "PCK@0.15", "PCK@0.2", "mPCK"}
    assert 0.0 <= table["mPCK"] <= 1.0 and model.training
