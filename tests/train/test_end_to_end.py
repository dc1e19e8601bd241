"""`train()` from a config on a tiny generated synthetic set: steps, validation AP, resume, fine-tuning."""
from dataclasses import asdict

import pytest
import torch
import yaml
from click.testing import CliRunner

from kitpose.checkpoint import load_checkpoint, save_checkpoint
from kitpose.cli import main
from kitpose.config import ConfigError, config_from_dict
from kitpose.train.distributed import init_distributed
from kitpose.train.loop import build_model, build_run, train
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


def _tiny_checkpoint(path, cfg, seed: int):
    """A kitpose checkpoint of the tiny config's architecture with seeded random weights."""
    torch.manual_seed(seed)
    model = build_model(cfg)
    save_checkpoint(path, {"arch": type(model).__name__.lower(), "config": asdict(model.config),
                           "model": model.state_dict()})
    return model


def tiny_model(root, overrides: dict | None = None, **model_fields):
    """The tiny config with extra architecture overrides and model-section fields (init, init_partial)."""
    cfg = tiny_config(root)
    model = {**cfg["model"], "overrides": {**cfg["model"]["overrides"], **(overrides or {})}, **model_fields}
    return config_from_dict({**cfg, "model": model})


def with_init(root, spec: str):
    """The tiny config with model.init = spec."""
    return tiny_model(root, init=spec)


def test_init_starts_a_run_from_the_checkpoint_weights(tmp_path):
    cfg = with_init(tmp_path, str(tmp_path / "start.pt"))
    source = _tiny_checkpoint(tmp_path / "start.pt", cfg, seed=7)
    run = build_run(cfg, init_distributed("cpu"), tmp_path / "run")
    got = run.model.state_dict()
    assert all(torch.equal(v, got[k]) for k, v in source.state_dict().items())
    resumed = build_run(cfg, init_distributed("cpu"), tmp_path / "run", resume=True)  # train() loads last.pt
    assert not all(torch.equal(v, resumed.model.state_dict()[k]) for k, v in source.state_dict().items())


def test_init_with_another_architecture_names_the_fields(tmp_path):
    _tiny_checkpoint(tmp_path / "other.pt", tiny_model(tmp_path, {"dim": 32}), seed=1)
    with pytest.raises(ConfigError, match=r"'dim': \(32, 64\)"):
        build_run(with_init(tmp_path, str(tmp_path / "other.pt")), init_distributed("cpu"), tmp_path / "run")
    for spec, words in (("kitpose-w8-128", "is a preset"), (str(tmp_path / "missing.pt"), "missing.pt")):
        with pytest.raises(ConfigError, match=words):
            build_run(with_init(tmp_path, spec), init_distributed("cpu"), tmp_path / "run")


def test_cli_init_reports_a_bad_checkpoint_without_a_traceback(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path)))
    result = CliRunner().invoke(main, ["train", str(tmp_path / "tiny.yaml"), "--init", "kitpose-w8-128"])
    assert result.exit_code != 0 and "is a preset" in result.output


def test_partial_init_loads_matching_tensors_and_keeps_the_rest_fresh(tmp_path):
    """A checkpoint with 12 keypoints into a 17-keypoint run: only with init_partial, and then every
    tensor of matching name and shape comes from the checkpoint, the others from the fresh init."""
    twelve = tiny_model(tmp_path, {"num_keypoints": 12, "num_clusters": 4})
    source = _tiny_checkpoint(tmp_path / "k12.pt", twelve, seed=3).state_dict()
    with pytest.raises(ConfigError, match=r"'num_keypoints': \(12, 17\).*init_partial"):
        build_run(with_init(tmp_path, str(tmp_path / "k12.pt")), init_distributed("cpu"), tmp_path / "run")

    cfg = tiny_model(tmp_path, init=str(tmp_path / "k12.pt"), init_partial=True)
    got = build_run(cfg, init_distributed("cpu"), tmp_path / "run").model.state_dict()
    fresh = build_run(tiny_model(tmp_path), init_distributed("cpu"), tmp_path / "run").model.state_dict()
    same_shape = [k for k, v in got.items() if k in source and source[k].shape == v.shape]
    other = [k for k in got if k not in same_shape]
    assert other and len(same_shape) > len(other)  # the backbone loads; keypoint-sized tensors do not
    assert all(torch.equal(got[k], source[k]) for k in same_shape)
    assert all(torch.equal(got[k], fresh[k]) for k in other)
