"""The embedded default model's limits are stated where users look, with the number re-measured here:
trained on synthetic quadrupeds, it scores AP 0.000 on the real AP-10K fixture images."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import FIXTURES
from kitpose import default_model
from kitpose.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_real_fixture_ap_is_what_the_docs_say(tmp_path):
    pytest.importorskip("torch")
    folder = FIXTURES / "ap10k"
    metrics = tmp_path / "metrics.json"
    result = CliRunner().invoke(main, ["eval", "--model", "default", "--dataset", "ap10k", "--annotations",
                                       str(folder / "test_ap10k.json"), "--images", str(folder),
                                       "--json", str(metrics)])
    assert result.exit_code == 0, result.output
    ap = json.loads(metrics.read_text())["metrics"]["AP"]
    # if the embedded model changes, this fails: re-measure and update kitpose/default_model.py + README
    assert ap == pytest.approx(default_model.REAL_FIXTURE_AP, abs=5e-4)


def test_info_help_and_readme_state_the_limit():
    info = CliRunner().invoke(main, ["info"])
    assert info.exit_code == 0 and "AP 0.000 on real AP-10K images" in info.output
    assert "convert-official" in info.output
    assert "synthetic quadrupeds only" in CliRunner().invoke(main, ["demo", "--help"]).output
    readme = (ROOT / "README.md").read_text()
    assert default_model.REAL_FIXTURE_COMMAND in readme
    assert "AP 0.000" in readme
