"""`kitpose eval --model`: run a model, write COCO results, and score them like any results file."""
import json

import pytest
from click.testing import CliRunner

from kitpose.cli import main


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    from kitpose.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("evalset")
    return generate_dataset(root, 3, seed=5, image_size=(128, 128), split="val"), root / "images"


def test_model_run_equals_rescoring_its_results(synth_set, tmp_path):
    ann, images = synth_set
    args = ["eval", "--annotations", str(ann), "--dataset", "ap10k"]
    run = CliRunner().invoke(main, [*args, "--model", "kitpose-w8-128", "--images", str(images),
                                    "--no-flip-test", "--results", str(tmp_path / "r.json"),
                                    "--json", str(tmp_path / "m.json")])
    assert run.exit_code == 0, run.output
    results = json.loads((tmp_path / "r.json").read_text())
    assert len(results) == len(json.loads(ann.read_text())["annotations"])
    assert all(len(r["keypoints"]) == 51 for r in results)
    rescored = CliRunner().invoke(main, [*args, "--predictions", str(tmp_path / "r.json")])
    assert rescored.exit_code == 0 and rescored.output == run.output
    assert json.loads((tmp_path / "m.json").read_text())["flip_test"] is False


def test_oks_nms_keeps_distinct_instances(synth_set):
    from kitpose.evaluation.model_eval import predict_results
    from kitpose.models import create_model

    ann, images = synth_set
    model = create_model("kitpose-w8-128").eval()
    plain = predict_results(model, ann, images, flip_test=False)
    thinned = predict_results(model, ann, images, flip_test=False, oks_nms_thr=0.9)
    assert 0 < len(thinned) <= len(plain) and all("area" not in r for r in thinned)
    assert {r["ann_id"] for r in thinned} <= {r["ann_id"] for r in plain}


@pytest.mark.parametrize("extra, message", [
    ([], "either --predictions"),
    (["--model", "kitpose-w8-128"], "--model needs --images"),
    (["--model", "no-such", "--images", "."], "no-such"),
])
def test_usage_errors(synth_set, extra, message):
    result = CliRunner().invoke(main, ["eval", "--annotations", str(synth_set[0]), "--dataset", "ap10k",
                                       *extra])
    assert result.exit_code != 0 and message in result.output
