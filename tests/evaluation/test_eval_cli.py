"""`kitpose eval` as a new user meets it (issue 13, item 10): bad results files, keypoint counts that
differ from the model's, custom datasets with --sigmas, image folders without the annotated images."""
import json

import pytest
from click.testing import CliRunner

from kitpose.cli import main

from helpers import FIXTURES as REAL

AP10K = REAL / "ap10k" / "test_ap10k.json"
ZEBRA = REAL / "zebra" / "test_zebra.json"  # 9 keypoints, not a built-in dataset


def eval_cli(*args):
    return CliRunner().invoke(main, ["eval", *map(str, args)])


def error_line(result) -> str:
    """The one `Error:` line of a failed command (exit code 2, no traceback)."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    [line] = [ln for ln in result.output.splitlines() if ln.strip()]
    assert line.startswith("Error: "), result.output
    return line


def gt_results() -> list[dict]:
    gt = json.loads(AP10K.read_text())
    return [{"image_id": a["image_id"], "category_id": a["category_id"],
             "keypoints": list(map(float, a["keypoints"])), "score": 1.0} for a in gt["annotations"]]


@pytest.mark.parametrize("change, words", [
    pytest.param(lambda r: r.update(score=float("nan")), "score", id="nan-score"),
    pytest.param(lambda r: r.pop("keypoints"), "no 'keypoints'", id="missing-field"),
    pytest.param(lambda r: r.update(image_id=123456), "image_id", id="wrong-id"),
])
def test_bad_results_are_one_line_naming_the_file(tmp_path, change, words):
    results = gt_results()
    change(results[0])
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))  # json writes NaN as a literal, as many tools do
    line = error_line(eval_cli("--annotations", AP10K, "--predictions", path, "--dataset", "ap10k"))
    assert str(path) in line and "<list>" not in line and words in line


def test_model_keypoint_count_must_match_the_dataset(tmp_path):
    animalpose = REAL / "animalpose"
    line = error_line(eval_cli("--annotations", animalpose / "test_animalpose.json", "--model",
                               "kitpose-w8-128", "--images", animalpose, "--dataset", "animalpose",
                               "--results", tmp_path / "r.json"))
    assert "17" in line and "20" in line and "animalpose" in line
    assert not (tmp_path / "r.json").exists()  # refused before running


@pytest.fixture(scope="module")
def nine_keypoint_model(tmp_path_factory):
    """A kitpose-w8-128 checkpoint with 9 keypoints (seeded random weights), for the zebra fixture."""
    import dataclasses

    import torch

    from kitpose.checkpoint import save_checkpoint
    from kitpose.models import create_model

    torch.manual_seed(0)
    model = create_model("kitpose-w8-128", num_keypoints=9)
    return save_checkpoint(tmp_path_factory.mktemp("k9") / "k9.pt", {
        "arch": "kitpose", "config": dataclasses.asdict(model.config), "model": model.state_dict()})


def test_custom_dataset_with_sigmas_runs_a_model(nine_keypoint_model, tmp_path):
    """--help promises 'any name with --sigmas'; --model refused every name outside the four."""
    sigmas = ",".join(["0.05"] * 9)
    result = eval_cli("--annotations", ZEBRA, "--model", nine_keypoint_model, "--images", REAL / "zebra",
                      "--dataset", "zebra", "--sigmas", sigmas, "--results", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[0] == "AP"
    assert all(len(r["keypoints"]) == 27 for r in json.loads((tmp_path / "r.json").read_text()))
    rescored = eval_cli("--annotations", ZEBRA, "--predictions", tmp_path / "r.json", "--dataset",
                        "zebra", "--sigmas", sigmas)
    assert rescored.exit_code == 0 and rescored.output == result.output


@pytest.mark.parametrize("sigmas, words", [
    pytest.param(None, "--sigmas", id="no-sigmas"),
    pytest.param("0.05,0.05", "9", id="wrong-count"),
    pytest.param("0.05,x", "--sigmas", id="not-numbers"),
])
def test_custom_dataset_needs_one_sigma_per_keypoint(nine_keypoint_model, sigmas, words):
    extra = [] if sigmas is None else ["--sigmas", sigmas]
    result = eval_cli("--annotations", ZEBRA, "--model", nine_keypoint_model, "--images", REAL / "zebra",
                      "--dataset", "zebra", *extra)
    assert result.exit_code == 2 and "Traceback" not in result.output
    error = [ln for ln in result.output.splitlines() if ln.startswith("Error")]
    assert len(error) == 1 and words in error[0], result.output


def test_image_folder_without_the_images_names_the_missing_files(tmp_path):
    line = error_line(eval_cli("--annotations", AP10K, "--model", "kitpose-w8-128", "--images", tmp_path,
                               "--dataset", "ap10k"))
    assert str(tmp_path) in line and "000000000004.jpg" in line and "2 image file(s) missing" in line
    assert "--images" in line
