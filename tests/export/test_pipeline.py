"""run_pipeline, the one export orchestration, and `python -m kitpose.export` around it."""
import json
import subprocess
import sys
import warnings

import pytest

from kitpose.export import ExportConfig
from kitpose.export.pipeline import STAGE_NAMES, run_pipeline, stage_output


def test_module_prints_usage():
    done = subprocess.run([sys.executable, "-m", "kitpose.export", "--help"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m kitpose.export [OPTIONS]")
    for flag in ("--model", "--out", "--from", "--to", "--precision"):
        assert flag in done.stdout


def test_cli_offers_the_pipeline_stages():
    from kitpose.export.cli import STAGE_NAMES as cli_names

    assert list(cli_names) == STAGE_NAMES == ["onnx", "precision", "engine", "verify"]


@pytest.mark.parametrize("kwargs,message", [({"start": "deploy"}, "start='deploy'"),
                                            ({"start": "engine", "stop_after": "precision"}, "comes after"),
                                            ({"src": None}, "the onnx stage needs src")],
                         ids=["unknown-start", "reversed", "no-source"])
def test_bad_slices_are_refused(tmp_path, kwargs, message):
    args = {"src": tmp_path / "model.onnx", **kwargs}
    with pytest.raises(ValueError, match=message):
        run_pipeline(args.pop("src"), tmp_path, ExportConfig(), **args)


def test_slice_reads_the_previous_stage_from_out(exported, tmp_path):
    """--from precision finds model.onnx in the out folder; records are named per precision."""
    from .conftest import META

    model = exported("transpose-r-a3")[0]
    cfg = ExportConfig(precision="fp16", metadata=META)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx = run_pipeline(model, tmp_path, cfg, stop_after="onnx")
        out = run_pipeline(None, tmp_path, cfg, start="precision", stop_after="precision")
    assert onnx == stage_output("onnx", tmp_path, "fp16") == tmp_path / "model.onnx"
    assert out == tmp_path / "model_fp16.onnx" and out.is_file()
    assert list(json.loads((tmp_path / "manifest.json").read_text())) == ["onnx", "precision_fp16"]
