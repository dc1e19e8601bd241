"""Every `kitpose` subcommand, given bad arguments, fails with one clean `Error:` line and a non-zero
exit, never a traceback (issue 13, item 11).

Each case runs in a subprocess, as a user runs the command, so what is checked is what reaches the
terminal: no `Traceback`, an `Error:` line, exit code 2 for input errors. The bad inputs are files
that are not what their flag wants (a text file posing as a model, checkpoint, config, ONNX or
annotation file), paths that do not exist and out-of-range values.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kitpose.cli import main

GARBAGE = "this is not the file the flag wants\n"


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    files = {name: root / name for name in ("model.pt", "model.onnx", "config.yaml", "official.yaml",
                                            "ann.json", "results.json", "frame.jpg", "boxes.json")}
    for path in files.values():
        path.write_text(GARBAGE)
    files["dir"] = root / "images"
    files["dir"].mkdir()
    files["missing"] = root / "missing"
    files["out"] = root / "out"
    return files


# (subcommand, arguments), one per way a new user got it wrong; {name} is a file of `bad`.
CASES = [
    ("demo", ["--model", "{model.pt}", "--out", "{out}/demo"]),
    ("demo", ["--model", "no-such-preset", "--out", "{out}/demo"]),
    ("pack", ["{model.pt}", "-o", "{out}/packed.pt"]),
    ("pack", ["{missing}.pt", "-o", "{out}/packed.pt"]),
    ("convert-official", ["{official.yaml}", "{model.pt}", "-o", "{out}/c.pt"]),
    ("synth", ["{out}/synth", "--num-images", "0"]),
    ("train", ["{config.yaml}"]),
    ("train", ["{missing}.yaml"]),
    ("eval", ["--annotations", "{ann.json}", "--predictions", "{results.json}", "--dataset", "ap10k"]),
    ("eval", ["--annotations", "{ann.json}", "--model", "{model.pt}", "--images", "{dir}",
              "--dataset", "ap10k"]),
    ("eval", ["--annotations", "{ann.json}", "--predictions", "{results.json}", "--dataset", "nope"]),
    ("infer", ["{frame.jpg}", "--model", "{model.onnx}", "--out", "{out}/infer"]),
    ("infer", ["{missing}.mp4", "--model", "default", "--out", "{out}/infer"]),
    ("infer", ["{frame.jpg}", "--model", "default", "--boxes", "{boxes.json}", "--out", "{out}/infer"]),
    ("export", ["--model", "{model.pt}", "--out", "{out}/export"]),
    ("export", ["--model", "default", "--out", "{out}/export", "--precision", "fp64"]),
    ("build", ["--onnx", "{model.onnx}", "--out", "{out}/m.engine"]),
    ("parity", ["--model", "default", "--onnx", "{model.onnx}", "--annotations", "{ann.json}",
                "--images", "{dir}"]),
    ("serve", ["--model", "{model.onnx}"]),
    ("bench", ["--model", "{model.pt}", "--bench", "model", "--out", "{out}/bench"]),
]


def fill(args: list[str], bad: dict[str, Path]) -> list[str]:
    out = []
    for arg in args:
        for name, path in bad.items():
            arg = arg.replace("{" + name + "}", str(path))
        out.append(arg)
    return out


def test_every_subcommand_has_a_case():
    from click import Context

    commands = set(main.list_commands(Context(main)))
    covered = {name for name, _ in CASES}
    assert commands - {"info"} <= covered, f"no bad-argument case for {sorted(commands - covered - {'info'})}"


@pytest.mark.parametrize("command, args", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_bad_arguments_give_one_clean_error_line(bad, command, args):
    env = {**os.environ, "KITPOSE_CACHE": str(bad["out"] / "cache"), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "kitpose.cli", command, *fill(args, bad)],
                          capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    shown = f"$ kitpose {command} {' '.join(args)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert "Traceback" not in proc.stdout + proc.stderr, shown
    assert proc.returncode != 0, shown
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1, shown


def test_every_subcommand_has_help():
    """`kitpose COMMAND --help` works for every command the group lists (issue 14)."""
    from click import Context
    from click.testing import CliRunner

    for name in main.list_commands(Context(main)):
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, (name, result.output)
