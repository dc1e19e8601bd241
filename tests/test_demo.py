"""`kitpose demo` runs end to end on the CPU and writes what it says."""
import json

from click.testing import CliRunner

from kitpose.cli import main


def test_demo_writes_overlays_and_keypoints(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--model", "kitpose-w16-128", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "GFLOPs" in result.output and "paper convention" in result.output
    records = json.loads((tmp_path / "demo_keypoints.json").read_text())
    assert records and all(len(r["keypoints"]) == 17 and len(r["scores"]) == 17 for r in records)
    assert sorted(p.name for p in tmp_path.glob("demo_*.png")) == [f"demo_{i}.png" for i in range(4)]


def test_demo_rejects_unknown_model(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--model", "no-such-model", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "no-such-model" in str(result.exception)
