"""The serve env and the Python-backend stub check (the pytriton issue #51 trap)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kitpose.serving import interpreter
from kitpose.serving.interpreter import SERVE_REQUIREMENTS, STAMP, default_env_dir, env_python, env_ready

PROBE = """
import json, os, platform
from kitpose.serving.interpreter import libpython_version, stub_environment, stub_libpython, stub_mismatch
raw = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
lib, fixed = stub_libpython(raw), stub_libpython(stub_environment(raw))
print(json.dumps({"python": platform.python_version(), "raw": str(lib), "fixed": str(fixed),
                  "raw_version": libpython_version(lib) if lib else None,
                  "fixed_version": libpython_version(fixed), "raw_problem": stub_mismatch(raw)}))
"""


def _probe(env_dir):
    out = subprocess.run([str(env_python(env_dir)), "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_serve_env_stub_runs_its_own_python(serve_env):
    result = subprocess.run([str(env_python(serve_env)), "-m", "kitpose.serving.interpreter", "check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    probe = _probe(serve_env)
    assert probe["fixed_version"] == probe["python"]


def test_trap_is_detected_without_the_fix(serve_env):
    """Where the loader's default libpython is another patch release (pyenv 3.11.7 beside Debian's
    3.11.2 here), stub_mismatch names both versions and issue #51; with the fix it goes away."""
    probe = _probe(serve_env)
    if probe["raw_version"] == probe["python"]:
        pytest.skip(f"the loader's default {probe['raw']} is this interpreter's {probe['python']}: no trap here")
    problem = probe["raw_problem"]
    assert problem and "pytriton issue #51" in problem
    assert f"CPython {probe['raw_version']}" in problem and f"CPython {probe['python']}" in problem


def test_env_ready_follows_the_stamp(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").symlink_to(sys.executable)
    assert not env_ready(tmp_path)
    (tmp_path / STAMP).write_text(json.dumps({"requirements": ["nvidia-pytriton==0.6.0"], "python": "3.0"}))
    assert not env_ready(tmp_path)
    (tmp_path / STAMP).write_text(json.dumps(interpreter._stamp_record()))
    assert env_ready(tmp_path) and "nvidia-pytriton==0.7.0" in SERVE_REQUIREMENTS


def test_default_env_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("KITPOSE_SERVE_ENV", str(tmp_path))
    assert default_env_dir() == tmp_path
    monkeypatch.delenv("KITPOSE_SERVE_ENV")
    if sys.prefix != sys.base_prefix:
        assert default_env_dir() == interpreter.Path(sys.prefix) / "serve"


def test_stub_environment_puts_libdir_first():
    libdir = interpreter.libpython_dir()
    if libdir is None:
        pytest.skip(f"{sys.executable} is linked statically: there is no LIBDIR to put first")
    env = interpreter.stub_environment({"LD_LIBRARY_PATH": f"/opt/x:{libdir}"})
    assert env["LD_LIBRARY_PATH"] == f"{libdir}:/opt/x"


PACKAGE = Path(interpreter.__file__).resolve().parents[1]  # .../kitpose
FIND_KITPOSE = "import kitpose; print(kitpose.__file__)"


def test_serve_env_finds_kitpose_from_any_directory(serve_env, tmp_path):
    """`make serve-env` passed the relative .venv/serve: the .pth must not depend on the cwd."""
    out = subprocess.run([str(env_python(serve_env)), "-c", FIND_KITPOSE], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).resolve() == PACKAGE / "__init__.py"


def test_link_kitpose_writes_absolute_paths_and_repairs(tmp_path, monkeypatch):
    from kitpose.serving.interpreter import ServeEnvError, check_kitpose_link, link_kitpose

    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip",
                    str(tmp_path / "env")], check=True)
    monkeypatch.chdir(tmp_path)
    link_kitpose(Path("env"))  # relative, as the Makefile passes it
    [pth] = (tmp_path / "env").glob("lib/python*/site-packages/kitpose-src.pth")
    assert Path(pth.read_text().strip()) == tmp_path.resolve() / "env" / interpreter.SHIM
    check_kitpose_link(Path("env"))
    pth.write_text("env/kitpose-src\n")  # what earlier versions wrote: found from tmp_path only
    with pytest.raises(ServeEnvError, match=r"does not find kitpose .*kitpose serve --setup-env"):
        check_kitpose_link(tmp_path / "env")
    link_kitpose(tmp_path / "env")  # the symlink is right, the .pth is not: rewritten
    check_kitpose_link(tmp_path / "env")
