"""The Python environment the Triton server runs in, and the PyTriton interpreter trap.

Two facts shape `kitpose serve`:

1. nvidia-pytriton 0.7.0 (which ships the `tritonserver` binary) requires numpy < 2, while kitpose's
   main environment runs numpy 2. So the server runs in a virtual environment of its own, the
   *serve env*: by default `<current venv>/serve` (`make serve-env` builds `.venv/serve`), with
   `SERVE_REQUIREMENTS` installed from PyPI and the running kitpose package linked in (a `.pth`
   file and a symlink, so an editable checkout and a wheel install both work without a rebuild).
   Built from the same interpreter, so the compiled `kitpose._C` (a cp3XX module) loads there too.
2. PyTriton runs the Python model through Triton's Python backend stub, a separate binary that
   links `libpython3.X.so.1.0` and finds it through the dynamic loader. When the loader finds a
   different patch release than the interpreter, the stub runs that interpreter's standard library
   on another CPython core. On our machines a pyenv 3.11.7 interpreter met Debian's
   /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0 (3.11.2), and the model failed to load with
   `'_thread.RLock' object has no attribute '_recursion_count'` (the method appeared in 3.11.6;
   pytriton issue #51). The fix is to let the stub find the interpreter's own libpython:
   `stub_environment()` puts sysconfig's LIBDIR first on LD_LIBRARY_PATH, and `check_stub_python()`
   resolves the library the stub will load (with `ldd`) and raises `StubPythonMismatch`, naming
   both versions and what to do, when it still differs.

CLI: `python -m kitpose.serving.interpreter create [DIR] [--python BASE]` and `... check`.
"""
from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import click

from kitpose.commands import run_command

# What the serve env needs; numpy < 2 and OpenCV < 4.12 (4.12 requires numpy >= 2)
# follow from nvidia-pytriton's pin. About 170 MB of wheels, ~550 MB installed (most of it is
# pytriton's bundled tritonserver, OpenCV and onnxruntime).
SERVE_REQUIREMENTS = (
    "nvidia-pytriton==0.7.0",
    "numpy>=1.24,<2",
    "opencv-python-headless>=4.8,<4.12",
    "onnxruntime>=1.18",
    "pyyaml>=6.0",
    "click>=8.1",  # the server's command line (kitpose.commands)
)
STAMP = "kitpose-serve-env.json"
SHIM = "kitpose-src"  # folder inside the env holding the `kitpose` symlink


class ServeEnvError(RuntimeError):
    """The serve env is missing, stale, or cannot be built here."""


class StubPythonMismatch(RuntimeError):
    """Triton's Python backend stub would load another CPython than the one serving (issue #51)."""


def default_env_dir() -> Path:
    """$KITPOSE_SERVE_ENV, else `serve/` inside the active virtual environment, else the kitpose cache."""
    if os.environ.get("KITPOSE_SERVE_ENV"):
        return Path(os.environ["KITPOSE_SERVE_ENV"])
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "serve"
    from kitpose.runtime.model_files import cache_dir

    return cache_dir() / "serve-env"


def env_python(env_dir: Path) -> Path:
    """The interpreter of a serve env."""
    return Path(env_dir) / "bin" / "python"


def _stamp_record() -> dict:
    return {"requirements": list(SERVE_REQUIREMENTS), "python": platform.python_version()}


def env_ready(env_dir: Path) -> bool:
    """True when env_dir holds a serve env built with the current SERVE_REQUIREMENTS and Python."""
    stamp = Path(env_dir) / STAMP
    if not stamp.is_file() or not env_python(env_dir).exists():
        return False
    try:
        return json.loads(stamp.read_text()) == _stamp_record()
    except (OSError, ValueError):
        return False


def link_kitpose(env_dir: Path) -> Path:
    """Point the env's `kitpose` at the running package (a symlink under SHIM, on the path via a .pth).

    Both hold absolute paths, so the env finds kitpose from any working directory (`make serve-env`
    passes the relative `.venv/serve`); a .pth that says anything else is rewritten.
    """
    package = Path(__file__).resolve().parents[1]  # .../kitpose
    shim = Path(env_dir).resolve() / SHIM
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "kitpose"
    if not (link.is_symlink() and link.resolve() == package):
        link.unlink(missing_ok=True)
        link.symlink_to(package, target_is_directory=True)
    purelib = subprocess.run([str(env_python(env_dir)), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    pth = Path(purelib) / "kitpose-src.pth"
    if not pth.is_file() or pth.read_text() != f"{shim}\n":
        pth.write_text(f"{shim}\n")
    return link


def check_kitpose_link(env_dir: Path) -> None:
    """Raise ServeEnvError unless the env's python, started outside any checkout, imports this kitpose."""
    package = Path(__file__).resolve().parents[1]
    code = "import importlib.util as u; s = u.find_spec('kitpose'); print(s.origin if s else '')"
    out = subprocess.run([str(env_python(Path(env_dir).resolve())), "-c", code], capture_output=True, text=True,
                         cwd="/")
    found = out.stdout.strip()
    if out.returncode != 0 or not found or Path(found).resolve().parent != package:
        where = f"finds {found}" if found else "finds none"
        raise ServeEnvError(f"{env_dir}: the serve env does not find kitpose at {package} from another "
                            f"directory ({where}); relink it with `kitpose serve --setup-env` or "
                            f"`python -m kitpose.serving.interpreter create {env_dir}`")


def create_env(env_dir: Path, base_python: str | None = None, quiet: bool = True) -> Path:
    """Build (or refresh) a serve env: venv, SERVE_REQUIREMENTS from PyPI, kitpose linked in.

    Args:
        env_dir: folder of the env (created).
        base_python: interpreter to build it from; default: the one running now, whose minor
            version the compiled kitpose._C was built for.
        quiet: pass -q to pip.
    Returns:
        The env's python.
    """
    env_dir, base = Path(env_dir).resolve(), base_python or getattr(sys, "_base_executable", sys.executable)
    _check_minor_version(base)
    has_pip = importlib.util.find_spec("pip") is not None
    # With pip here, `pip --python` installs into the new env, which then needs no pip (or ensurepip) itself.
    _run([base, "-m", "venv", "--clear", *(["--without-pip"] if has_pip else []), str(env_dir)], "create the venv")
    pip = ([sys.executable, "-m", "pip", "--python", str(env_python(env_dir))] if has_pip
           else [str(env_python(env_dir)), "-m", "pip"])
    _run([*pip, "install", *(["-q"] if quiet else []), *SERVE_REQUIREMENTS], "install SERVE_REQUIREMENTS")
    link_kitpose(env_dir)
    check_kitpose_link(env_dir)
    (env_dir / STAMP).write_text(json.dumps(_stamp_record()))
    return env_python(env_dir)


def _check_minor_version(base: str) -> None:
    out = subprocess.run([base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True)
    here = "%d.%d" % sys.version_info[:2]
    if out.returncode != 0 or out.stdout.strip() != here:
        raise ServeEnvError(f"{base}: a serve env must use Python {here} like this kitpose install (its "
                            f"compiled kitpose._C is built for {here}), got {out.stdout.strip() or out.stderr.strip()}")


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServeEnvError(f"could not {what} ({' '.join(cmd)}):\n{result.stderr.strip()[-2000:]}")


def libpython_dir() -> str | None:
    """Folder of this interpreter's shared libpython, or None for a statically linked interpreter."""
    libdir, name = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libdir or not name:
        return None
    return libdir if (Path(libdir) / name).exists() else None


def stub_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `env` (default os.environ) whose LD_LIBRARY_PATH starts with this interpreter's LIBDIR."""
    env = dict(os.environ if env is None else env)
    libdir = libpython_dir()
    if libdir is not None:
        rest = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p and p != libdir]
        env["LD_LIBRARY_PATH"] = ":".join([libdir, *rest])
    return env


def stub_binary() -> Path:
    """PyTriton's Python backend stub for this interpreter's minor version."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise ServeEnvError(f"{sys.executable}: nvidia-pytriton is not installed in this environment")
    minor = "%d.%d" % sys.version_info[:2]
    stub = Path(spec.submodule_search_locations[0]) / "tritonserver" / "python_backend_stubs" / minor / \
        "triton_python_backend_stub"
    if not stub.is_file():
        raise ServeEnvError(f"{stub}: nvidia-pytriton has no Python backend stub for Python {minor}")
    return stub


def stub_libpython(env: dict[str, str]) -> Path | None:
    """The libpython the stub would load under `env`, as the dynamic loader resolves it (ldd)."""
    out = subprocess.run(["ldd", str(stub_binary())], capture_output=True, text=True, env=env)
    for line in out.stdout.splitlines():
        name, _, rest = line.strip().partition(" => ")
        if name.startswith("libpython3") and rest and not rest.startswith("not found"):
            return Path(rest.split(" (")[0])
    return None


def libpython_version(path: Path) -> str:
    """Version of a libpython file (Py_GetVersion needs no initialised interpreter), e.g. '3.11.2'."""
    lib = ctypes.CDLL(str(path))
    lib.Py_GetVersion.restype = ctypes.c_char_p
    return lib.Py_GetVersion().decode().split()[0]


def stub_mismatch(env: dict[str, str]) -> str | None:
    """Why the stub would not run this interpreter's CPython under `env` (as given), or None when it would."""
    lib, here = stub_libpython(env), platform.python_version()
    minor = "%d.%d" % sys.version_info[:2]
    if lib is None:
        return (f"Triton's Python backend stub finds no libpython{minor}.so.1.0 for {sys.executable} ({here}); "
                f"build the serve env from a Python with a shared libpython, e.g. `kitpose serve --setup-env "
                f"--env-python /usr/bin/python3` (Debian: apt-get install libpython{minor})")
    found = libpython_version(lib)
    if found == here:
        return None
    return (f"Triton's Python backend stub would load {lib} (CPython {found}) while serving with "
            f"{sys.executable} (CPython {here}); the mixed pair fails to load the model (pytriton issue #51, "
            f"'_thread.RLock' object has no attribute '_recursion_count'). Build the serve env from an "
            f"interpreter whose shared libpython the loader finds, e.g. `kitpose serve --setup-env "
            f"--env-python /usr/bin/python3`, or put that interpreter's LIBDIR first on LD_LIBRARY_PATH")


def check_stub_python() -> None:
    """Raise StubPythonMismatch unless, with stub_environment(), the stub runs this interpreter's CPython."""
    problem = stub_mismatch(stub_environment())
    if problem is not None:
        raise StubPythonMismatch(problem)


@click.group("interpreter", context_settings={"help_option_names": ["-h", "--help"]})
def interpreter_cmd() -> None:
    """Build or check the serve env of `kitpose serve`."""


@interpreter_cmd.command("create")
@click.argument("env_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--python", "base_python", default=None, help="Base interpreter [default: this one].")
@click.option("--force", is_flag=True, help="Rebuild even when the stamp is current.")
def create_cmd(env_dir: Path | None, base_python: str | None, force: bool) -> int:
    """Build the serve env (downloads about 170 MB from PyPI) [ENV_DIR default: default_env_dir()]."""
    env_dir = env_dir or default_env_dir()
    try:
        if env_ready(env_dir) and not force:
            link_kitpose(env_dir)
            check_kitpose_link(env_dir)
            (env_dir / STAMP).touch()  # newer than its make prerequisites again
            click.echo(f"serve env up to date: {env_dir}")
            return 0
        click.echo(f"serve env ready: {create_env(env_dir, base_python)}")
    except ServeEnvError as err:
        click.echo(f"error: {err}", err=True)
        return 2
    return 0


@interpreter_cmd.command("check")
def check_cmd() -> int:
    """Check that the Python backend stub loads this interpreter's libpython."""
    try:
        check_stub_python()
    except (ServeEnvError, StubPythonMismatch) as err:
        click.echo(f"error: {err}", err=True)
        return 2
    click.echo(f"ok: {sys.executable} ({platform.python_version()}) and its backend stub agree")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m kitpose.serving.interpreter create|check`; returns the exit code."""
    return run_command(interpreter_cmd, argv, "python -m kitpose.serving.interpreter")


if __name__ == "__main__":
    sys.exit(main())
