"""`train()` from a config on a tiny generated synthetic set: steps, validation AP, resume."""
import pytest

from kitpose.checkpoint import load_checkpoint
from kitpose.config import config_from_dict
from kitpose.train.loop import train
from kitpose.train.metrics import read_metrics


def tiny_config(root) -> dict:
    return {
        "model": {"name": "kitpose-w32-256",
                  "overrides": {"width": 16, "input_size": [64, 64], "dim": 64, "depth": 1,
                                "kmedoids_iters": 5}},
        "data": {"dataset": "ap10k", "train_json": f"{root}/train/annotations/train.json",
                 "train_images": f"{root}/train/images", "val_json": f"{root}/val/annotations/val.json",
                 "val_images": f"{root}/val/images", "synth_train": 6, "synth_val": 3,
                 "synth_image_size": [96, 96]},
        "train": {"epochs": 1, "batch_size": 2, "workers": 0, "log_every": 1, "device": "cpu",
                  "val_batch_size": 4},
        "output": {"dir": f"{root}/run"},
    }


@pytest.mark.slow
def test_train_validate_and_resume(tmp_path):
    cfg = config_from_dict(tiny_config(tmp_path))
    out = train(cfg, max_steps=1)
    assert load_checkpoint(out / "last.pt")["progress"]["step"] == 1
    out = train(cfg, resume=True)
    rows = read_metrics(out / "metrics.csv")
    assert [r["step"] for r in rows if r["name"] == "train/loss"] == list(range(1, len(
        [r for r in rows if r["name"] == "train/loss"]) + 1))
    ap = [r["value"] for r in rows if r["name"] == "val/AP"]
    assert len(ap) == 1 and 0.0 <= ap[0] <= 1.0
    assert (out / "best.pt").exists() and (out / "config.yaml").exists()
    assert (out / "training_curve.png").exists()
