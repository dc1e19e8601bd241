"""The export pipeline as data, and `run_pipeline`, the one way to run any slice of it.

    from kitpose.export.pipeline import run_pipeline
    run_pipeline(model_or_checkpoint, "out/", ExportConfig(precision="fp16", compute_capability="8.6"))

`kitpose export` / `kitpose build`, `python -m kitpose.export` and the demo all call it.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, NamedTuple

from kitpose.export.build_engine import build_engine
from kitpose.export.config import ExportConfig
from kitpose.export.manifest import run_stage
from kitpose.export.precision import convert_precision
from kitpose.export.to_onnx import export_onnx
from kitpose.export.verify import verify


class Stage(NamedTuple):
    """One step: its name, function `(src, dst, cfg) -> Path`, output file in the out folder and
    manifest record name ({p}: the precision; {v}: the output's stem without "model_")."""

    name: str
    run: Callable[..., Path]
    file: str
    record: str


STAGES = [
    Stage("onnx", export_onnx, "model.onnx", "onnx"),
    Stage("precision", convert_precision, "model_{p}.onnx", "precision_{v}"),
    Stage("engine", build_engine, "model_{p}.engine", "engine_{v}"),
    Stage("verify", verify, "parity_{p}.json", "verify"),  # raises ParityError when a gate fails
]
STAGE_NAMES = [stage.name for stage in STAGES]


def stage_output(name: str, out_dir: str | Path, precision: str) -> Path:
    """Where stage `name` writes in `out_dir` for `precision` (the next stage's input)."""
    return Path(out_dir) / STAGES[_index(name, "stage")].file.format(p=precision)


def run_pipeline(src: Any, out_dir: str | Path, cfg: ExportConfig, start: str = "onnx",
                 stop_after: str = "engine", dst: str | Path | None = None,
                 options: dict[str, dict[str, Any]] | None = None) -> Path:
    """Run the stages from `start` to `stop_after`, each output feeding the next, recorded in
    out_dir/manifest.json (a stage whose input file, config and output are unchanged is skipped).

    Args:
        src: input of `start`: a model or checkpoint for "onnx", else a file; None: the previous
            stage's output in out_dir (`stage_output`).
        out_dir: output folder.
        cfg: export settings (cfg.precision names the files).
        start: name of the first stage to run.
        stop_after: name of the last stage to run.
        dst: output file of the last stage instead of its name in out_dir.
        options: stage name -> keyword inputs the manifest cannot hash (e.g. {"precision":
            {"calibration": crops}}); such a stage always reruns. An in-memory model is the verify
            stage's reference.
    Returns:
        Output of the last stage run.
    """
    first, last = _index(start, "start"), _index(stop_after, "stop_after")
    if first > last:
        raise ValueError(f"start={start!r} comes after stop_after={stop_after!r}; order: {STAGE_NAMES}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = dict(options or {})
    if src is None:
        src = stage_output(STAGE_NAMES[first - 1], out_dir, cfg.precision) if first else None
    if src is None:
        raise ValueError("the onnx stage needs src: a model or a checkpoint file")
    if not isinstance(src, (str, Path)):
        options.setdefault("verify", {}).setdefault("model", src)
    for i in range(first, last + 1):
        out = Path(dst) if dst is not None and i == last else stage_output(STAGE_NAMES[i], out_dir, cfg.precision)
        src = _run(STAGES[i], src, out, cfg, out_dir / "manifest.json", options.get(STAGES[i].name))
    return src


def _run(stage: Stage, src: Any, dst: Path, cfg: ExportConfig, manifest: Path,
         kwargs: dict[str, Any] | None) -> Path:
    """One stage through the manifest; with kwargs the old output is removed so it reruns."""
    fn = stage.run
    if kwargs:
        dst.unlink(missing_ok=True)  # the manifest's skip key does not see in-memory inputs
        fn = functools.partial(stage.run, **kwargs)
    variant = dst.stem.removeprefix("model_")
    return run_stage(stage.record.format(p=cfg.precision, v=variant), fn, src, dst, cfg, manifest)


def _index(name: str, what: str) -> int:
    if name not in STAGE_NAMES:
        raise ValueError(f"{what}={name!r}: choose one of {STAGE_NAMES}")
    return STAGE_NAMES.index(name)
