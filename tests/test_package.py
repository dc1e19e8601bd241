"""The package installs, imports without torch-heavy side effects, and reports its build."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import kitpose
from kitpose.cli import main
from kitpose.native import NativeUnavailableError, load_native, require_cuda


def test_native_module_is_built():
    # make test installs the package, which builds kitpose._C: a missing module is a build failure.
    mod = load_native()
    assert mod is not None
    assert isinstance(mod.has_cuda(), bool)
    assert mod.cuda_version() >= 0
    assert mod.cuda_device_count() >= 0


def test_import_does_not_import_torch():
    code = "import sys, kitpose, kitpose.native, kitpose.info; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cuda_request_without_gpu_says_what_is_missing():
    mod = load_native()
    if mod.has_cuda() and mod.cuda_device_count() > 0:
        pytest.skip("a GPU is visible: nothing is missing")
    with pytest.raises(NativeUnavailableError, match="CUDA"):
        require_cuda("test op")


def test_info_command_reports_versions():
    result = CliRunner().invoke(main, ["info", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["kitpose"] == kitpose.__version__
    assert record["native"]["built"] is True
    assert record["packages"]["torch"] is not None


def test_help_lists_subcommands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "info" in result.output


def test_cli_without_torch_keeps_infer_and_explains_the_rest():
    # An edge box has no torch: `kitpose infer` must work, torch-only commands must say what is missing.
    code = ("import sys; sys.modules['torch'] = None\n"
            "from click.testing import CliRunner\n"
            "from kitpose.cli import main\n"
            "print(CliRunner().invoke(main, ['infer', '--help']).exit_code)\n"
            "r = CliRunner().invoke(main, ['export'])\n"
            "print(r.exit_code, r.output.strip().splitlines()[-1])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    infer_code, export_line = out.stdout.strip().splitlines()
    assert infer_code == "0"
    assert export_line.startswith("1 ") and "'torch'" in export_line and "install it" in export_line
