"""manifest.json in the output folder: per stage input/output sha256, config hash, seconds, tools."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from kitpose.atomic import write_atomic
from kitpose.export.config import ExportConfig, config_hash
from kitpose.export.files import sha256_file

log = logging.getLogger(__name__)
TOOLS = ("torch", "onnx", "onnxruntime", "onnxslim", "nvidia-modelopt", "tensorrt",
         "tensorrt-rtx-cu13", "kitpose")


def run_stage(name: str, stage: Callable[..., Path], src: Any, dst: str | Path, cfg: ExportConfig,
              manifest: str | Path) -> Path:
    """Run one stage and record it in `manifest`; skipped when input, config and output are unchanged.

    Args:
        name: stage name ("onnx", "precision", "engine").
        stage: the stage function `(src, dst, cfg) -> Path`.
        src: stage input (a file, or an nn.Module for the onnx stage).
        dst: stage output file.
        cfg: export settings.
        manifest: manifest.json path.
    Returns:
        The stage's output path.
    """
    manifest = Path(manifest)
    records = read_manifest(manifest)
    in_sha = sha256_file(src) if isinstance(src, (str, Path)) else f"module:{type(src).__name__}"
    old, key = records.get(name, {}), config_hash(cfg)
    out = Path(dst)
    if (old.get("input_sha256") == in_sha and old.get("config_hash") == key and out.is_file()
            and isinstance(src, (str, Path)) and sha256_file(out) == old.get("output_sha256")):
        log.info("%s: unchanged, skipped (%s)", name, out)
        return out
    start = time.perf_counter()
    out = stage(src, dst, cfg)
    seconds = time.perf_counter() - start
    records[name] = {"input": str(src) if isinstance(src, (str, Path)) else type(src).__name__,
                     "input_sha256": in_sha, "output": str(out), "output_sha256": sha256_file(out),
                     "output_bytes": out.stat().st_size, "seconds": round(seconds, 3),
                     "config_hash": key, "tools": tool_versions()}
    write_atomic(manifest, (json.dumps(records, indent=2) + "\n").encode())
    log.info("%s: %.1f s, %s, %.1f MB", name, seconds, out, out.stat().st_size / 2**20)
    return out


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Stage name -> record; an absent manifest is empty, a corrupted one is an error naming it."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: corrupted manifest ({err}); delete it to rebuild all stages") from None


def tool_versions() -> dict[str, str]:
    """Installed versions of the export tools (read from package metadata, nothing imported)."""
    found = {}
    for dist in TOOLS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found
