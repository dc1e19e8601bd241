"""kitpose.commands: lazy subcommands report a missing third-party package, surface kitpose's own
import errors, and every command module's `--help` works under `python -m` (issue 14, item 5)."""
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from kitpose.commands import LazyGroup, is_third_party, run_command


def _missing_package() -> click.Command:
    import no_such_package_kitpose_test  # noqa: F401


def _broken_kitpose_module() -> click.Command:
    import kitpose.no_such_module_test  # noqa: F401


def _group() -> click.Group:
    return LazyGroup("g", lazy={"needs-pkg": _missing_package, "broken": _broken_kitpose_module})


def test_a_missing_package_becomes_a_stand_in_that_names_it():
    result = CliRunner().invoke(_group(), ["needs-pkg"])
    assert result.exit_code == 1
    assert "needs the Python package 'no_such_package_kitpose_test'" in result.output


def test_an_import_error_inside_kitpose_surfaces_as_the_bug_it_is():
    result = CliRunner().invoke(_group(), ["broken"])
    assert isinstance(result.exception, ModuleNotFoundError)
    assert result.exception.name == "kitpose.no_such_module_test"


def test_is_third_party():
    assert is_third_party(ImportError("x", name="torch"))
    assert not is_third_party(ImportError("x", name="kitpose.export.cli"))
    assert not is_third_party(ImportError("x"))  # names no module: not a package to install


def test_run_command_returns_exit_codes_without_exiting():
    @click.command()
    @click.option("--n", type=int, required=True)
    def cmd(n: int) -> int:
        return n

    assert run_command(cmd, ["--n", "3"], "cmd") == 3
    assert run_command(cmd, [], "cmd") == 2  # usage error: one Error line, exit code 2
    assert run_command(cmd, ["--help"], "cmd") == 0


@pytest.mark.parametrize("module", [
    ["kitpose.bench"], ["kitpose.bench", "kernels"], ["kitpose.bench", "train"], ["kitpose.bench", "run"],
    ["kitpose.bench.triton"], ["kitpose.bench.gpu_report"], ["kitpose.runtime.steady_state"],
    ["kitpose.serving.interpreter"], ["kitpose.serving.server"],
])
def test_every_command_module_has_help(module):
    done = subprocess.run([sys.executable, "-m", *module, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: python -m {' '.join(module)}")


def test_old_option_spellings_stay_accepted(tmp_path):
    from kitpose.bench.kernels import kernels_cmd

    out = tmp_path / "kernels.jsonl"
    result = CliRunner().invoke(kernels_cmd, ["--batch", "2", "--repeat", "2", "--threads", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 8  # 2 map sides x 2 ops x (compiled, baseline)
    assert "--out" not in result.output and "--out" not in CliRunner().invoke(kernels_cmd, ["--help"]).output
