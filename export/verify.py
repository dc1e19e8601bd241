"""Stage 5, the parity gate as a pipeline stage: `verify(src, dst, cfg)` writes the parity report of
an exported file (ONNX, or an engine and the ONNX it came from) and raises when a gate fails.

The numbers and limits live in gates.py, the backend runs in eval_run.py, the report in report.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kitpose.export.eval_run import load_eval_set  # noqa: F401  (kitpose.evaluation.model_eval imports it here)
from kitpose.export.gates import ParityError
from kitpose.export.report import engine_onnx, verify_parity, write_report


def verify(src: str | Path, dst: str | Path, cfg: Any = None, model: Any = None,
           annotations: str | Path | None = None, images: str | Path | None = None) -> Path:
    """Stage 5: parity report of an exported file (ONNX, or an engine and the ONNX it came from).

    Args:
        src: ONNX file, or engine file (its sidecar names the ONNX, which is checked too).
        dst: report JSON, or a folder (then `parity.json` inside it).
        cfg: ExportConfig (its dataset names keypoints and sigmas); default ExportConfig().
        model: reference model; None: the checkpoint the manifest beside src exported from.
        annotations, images: evaluation set; None: 16 synthetic images beside dst.
    Returns:
        The report path; raises ParityError when a gate failed.
    """
    from kitpose.export.config import resolve_config
    from kitpose.export.files import output_file

    cfg, src = resolve_config(cfg, {}), Path(src)
    dst = output_file(dst, "parity.json")
    engines = [src] if src.suffix != ".onnx" else []
    onnx = engine_onnx(src) if engines else src
    model = model if model is not None else _manifest_model(onnx)
    if annotations is None:
        annotations, images = _synthetic_set(dst.parent / "parity_data", model.config.input_size)
    report = verify_parity(model, [onnx], annotations, images, engines, cfg.dataset or "ap10k",
                           extra={"command": f"verify({str(src)!r}, {str(dst)!r})"})
    write_report(report, dst)
    if report["exit_code"] == 1:
        raise ParityError(f"{dst}: parity gate failed for {src}; see the report's rows")
    return dst


def _manifest_model(onnx: Path) -> Any:
    """The model whose checkpoint the onnx stage in the manifest beside `onnx` exported."""
    from kitpose.export.manifest import read_manifest
    from kitpose.models import load_model

    record = read_manifest(onnx.parent / "manifest.json").get("onnx", {})
    source = record.get("input")
    if source is None or not (source == "default" or Path(source).is_file()):
        raise ValueError(f"{onnx.parent / 'manifest.json'}: the onnx stage input {source!r} is not a "
                         f"checkpoint file; pass model= (the model that was exported) to verify")
    return load_model(source)


def _synthetic_set(root: Path, input_size: tuple[int, int]) -> tuple[Path, Path]:
    """16 synthetic quadruped images (seed 1) at 1.5x the input size; reused when present."""
    from kitpose.data.synthetic import generate_dataset

    ann = root / "annotations" / "val.json"
    if not ann.is_file():
        h, w = input_size
        generate_dataset(root, 16, 1, (int(1.5 * h), int(1.5 * w)), "val")
    return ann, root / "images"
