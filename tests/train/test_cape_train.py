"""FMMP through the trainer (`data.dataset: mp100`) and `kitpose eval --cape` (issue 15)."""
import csv

import pytest
import yaml
from click.testing import CliRunner

from kitpose.checkpoint import load_checkpoint
from kitpose.cli import main
from kitpose.models import load_model
from kitpose.models.fmmp import FMMP

from helpers import FIXTURES as REAL

TINY = {"input_size": [64, 64]}  # fmmp-small on 64x64 crops: a step takes a fraction of a second


@pytest.fixture(scope="module")
def cape_files(tmp_path_factory):
    """10 synthetic categories (7 train / 1 val / 2 test) with 4 images each: split -> annotation path."""
    from kitpose.data.categories import write_split_files

    root = tmp_path_factory.mktemp("cape")
    return write_split_files(root, images_per_category=4, num_categories=10, size=96, seed=1)


def cape_yaml(tmp_path, files, name="fmmp-small", dataset="mp100", **train):
    images = files["train"].parent.parent / "images"
    cfg = {"model": {"name": name, "overrides": TINY if name.startswith("fmmp") else {}},
           "data": {"dataset": dataset, "train_json": str(files["train"]), "train_images": str(images),
                    "val_json": str(files["val"]), "val_images": str(images), "val_episodes": 2},
           "train": {"epochs": 1, "batch_size": 2, "workers": 0, "log_every": 1, "device": "cpu",
                     "val_batch_size": 4, **train}}
    path = tmp_path / "cape.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_fmmp_trains_validates_by_pck_and_resumes(tmp_path, cape_files):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(cape_yaml(tmp_path, cape_files)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    names = {r["name"] for r in rows}
    assert {"train/loss", "val/PCK@0.2", "val/mPCK"} <= names, names
    assert isinstance(load_model(str(out / "best.pt")), FMMP)
    steps = load_checkpoint(out / "last.pt")["progress"]["step"]
    assert steps == 14  # 7 categories x 4 instances: 28 episodes, batch 2
    resumed = CliRunner().invoke(main, ["train", str(cape_yaml(tmp_path, cape_files, epochs=2)), "--out",
                                        str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert load_checkpoint(out / "last.pt")["progress"]["step"] == 28


@pytest.mark.parametrize("name, dataset", [("fmmp-small", "ap10k"), ("kitpose-w8-128", "mp100")])
def test_model_and_dataset_kinds_must_match(tmp_path, cape_files, name, dataset):
    result = CliRunner().invoke(main, ["train", str(cape_yaml(tmp_path, cape_files, name, dataset))])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "model.name" in result.output and "mp100" in result.output


@pytest.fixture(scope="module")
def tiny_fmmp(tmp_path_factory):
    import dataclasses

    import torch

    from kitpose.checkpoint import save_checkpoint
    from kitpose.models import create_model

    torch.manual_seed(0)
    model = create_model("fmmp-small", input_size=(64, 64))
    return save_checkpoint(tmp_path_factory.mktemp("fmmp") / "fmmp.pt", {
        "arch": "fmmp", "config": dataclasses.asdict(model.config), "model": model.state_dict()})


def test_eval_cape_on_mp100_categories_and_on_a_real_fixture(tmp_path, cape_files, tiny_fmmp):
    images = cape_files["test"].parent.parent / "images"
    result = CliRunner().invoke(main, ["eval", "--cape", "--model", str(tiny_fmmp), "--annotations",
                                       str(cape_files["test"]), "--images", str(images), "--episodes", "3",
                                       "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    assert [ln.split()[0] for ln in result.output.splitlines()] == [
        "PCK@0.05", "PCK@0.1", "PCK@0.15", "PCK@0.2", "mPCK"]
    zebra = REAL / "zebra"
    real = CliRunner().invoke(main, ["eval", "--cape", "--single-category", "--model", str(tiny_fmmp),
                                     "--annotations", str(zebra / "test_zebra.json"), "--images", str(zebra)])
    assert real.exit_code == 0, real.output


def test_eval_cape_refuses_a_heatmap_model(cape_files):
    images = cape_files["test"].parent.parent / "images"
    result = CliRunner().invoke(main, ["eval", "--cape", "--model", "kitpose-w8-128", "--annotations",
                                       str(cape_files["test"]), "--images", str(images)])
    assert result.exit_code == 2 and "fmmp" in result.output and "Traceback" not in result.output
