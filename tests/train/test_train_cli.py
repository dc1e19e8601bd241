"""`kitpose train` as a new user meets it (issue 13): an existing run folder, missing images, bad
config values and typos are one clean `Error:` line with exit code 2, never a traceback."""
import pytest
import yaml
from click.testing import CliRunner

from kitpose.checkpoint import load_checkpoint
from kitpose.cli import main


@pytest.fixture(scope="module")
def synth_json(tmp_path_factory):
    """Two synthetic 96x96 AP-10K images: <root>/annotations/train.json and <root>/images."""
    from kitpose.data.synthetic import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("synth"), 2, seed=3, image_size=(96, 96))


def tiny_yaml(tmp_path, synth_json, section: str = "", key: str = "", value=None):
    """A one-epoch kitpose-w8-128 config over the synthetic set, with section.key = value."""
    cfg = {"model": {"name": "kitpose-w8-128"},
           "data": {"dataset": "ap10k", "train_json": str(synth_json),
                    "train_images": str(synth_json.parent.parent / "images")},
           "train": {"epochs": 1, "batch_size": 2, "workers": 0, "log_every": 1, "device": "cpu"},
           "output": {"dir": str(tmp_path / "run")}}
    if section:
        cfg[section][key] = value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def train_cli(*args):
    return CliRunner().invoke(main, ["train", *map(str, args)])


def error_line(result) -> str:
    """The one `Error:` line of a failed command (and no traceback)."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    [line] = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith("Error: "), result.output
    return line


# ---------------------------------------------------------------- item 1: an existing run folder

def finished_run(folder):
    folder.mkdir(parents=True)
    for name, text in (("last.pt", "old last"), ("best.pt", "old best"), ("metrics.csv", "old")):
        (folder / name).write_text(text)
    return folder


def test_existing_run_folder_is_refused(tmp_path, synth_json):
    out = finished_run(tmp_path / "done")
    line = error_line(train_cli(tiny_yaml(tmp_path, synth_json), "--out", out))
    assert str(out) in line and "--resume" in line and "--overwrite" in line
    assert [(out / n).read_text() for n in ("last.pt", "best.pt", "metrics.csv")] == [
        "old last", "old best", "old"]


def test_overwrite_replaces_the_old_run(tmp_path, synth_json):
    out = finished_run(tmp_path / "done")
    (out / "notes.txt").write_text("mine")
    result = train_cli(tiny_yaml(tmp_path, synth_json), "--out", out, "--overwrite", "--max-steps", "1")
    assert result.exit_code == 0, result.output
    assert load_checkpoint(out / "last.pt")["progress"]["step"] == 1
    assert not (out / "best.pt").exists()  # the old run's best is gone (this run has no validation)
    assert (out / "notes.txt").read_text() == "mine"  # only the run's own files are replaced


def test_resume_and_overwrite_exclude_each_other(tmp_path, synth_json):
    result = train_cli(tiny_yaml(tmp_path, synth_json), "--resume", "--overwrite")
    assert result.exit_code == 2 and "--resume" in result.output and "--overwrite" in result.output


def test_resume_without_last_pt_is_one_line(tmp_path, synth_json):
    line = error_line(train_cli(tiny_yaml(tmp_path, synth_json), "--out", tmp_path / "new", "--resume"))
    assert str(tmp_path / "new" / "last.pt") in line and "--resume" in line


# ---------------------------------------------------------------- item 2: no usable image

def test_no_usable_image_names_the_folder_and_writes_nothing(tmp_path, synth_json):
    empty = tmp_path / "wrong_images"
    empty.mkdir()
    line = error_line(train_cli(tiny_yaml(tmp_path, synth_json, "data", "train_images", str(empty))))
    assert "data.train_images" in line and str(empty) in line and "2 annotation" in line
    assert not (tmp_path / "run" / "best.pt").exists() and not (tmp_path / "run" / "last.pt").exists()


def test_fewer_samples_than_a_batch_is_refused(tmp_path, synth_json):
    line = error_line(train_cli(tiny_yaml(tmp_path, synth_json, "train", "batch_size", 4)))
    assert "train.batch_size" in line and "2 usable sample" in line
    assert not (tmp_path / "run" / "last.pt").exists()


# ---------------------------------------------------------------- item 11: typos and bad values

@pytest.mark.parametrize("section, key, value, words", [
    pytest.param("data", "train_json", "missing.json", ["data.train_json", "missing.json"], id="no-json"),
    pytest.param("model", "name", "kitpose-w8-12", ["model.name", "kitpose-w8-12", "kitpose-w8-128"],
                 id="model-typo"),
    pytest.param("model", "overrides", {"widht": 8}, ["model.overrides", "widht", "width"],
                 id="overrides-typo"),
    pytest.param("train", "lr", -1.0, ["train.lr", "-1.0"], id="negative-lr"),
    pytest.param("train", "workers", -1, ["train.workers", "-1"], id="negative-workers"),
    pytest.param("train", "log_every", 0, ["train.log_every", "0"], id="log-every-0"),
])
def test_bad_config_is_one_clean_line(tmp_path, synth_json, section, key, value, words):
    if key == "train_json":
        value = str(tmp_path / value)
    line = error_line(train_cli(tiny_yaml(tmp_path, synth_json, section, key, value)))
    assert all(w in line for w in words), line


def test_convert_official_with_a_kitpose_yaml_is_one_clean_line(tmp_path, synth_json):
    (tmp_path / "w.pth").write_bytes(b"")
    config = tiny_yaml(tmp_path, synth_json)
    line = error_line(CliRunner().invoke(main, ["convert-official", str(config), str(tmp_path / "w.pth"),
                                                "-o", str(tmp_path / "out.pt")]))
    assert str(config) in line and "not an official KITPose config" in line
