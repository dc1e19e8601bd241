"""The parity report: PyTorch vs each exported file (ONNX in ONNX Runtime, engines in TensorRT) on one
evaluation set, one row per backend with its numbers, gate and system record; written as JSON and
printed one line per row.

Every file runs through the runtime's own runners (`open_runner`), so an engine is checked by the
TrtRunner that will serve it, wherever TensorRT and a GPU exist; elsewhere its row says why not.
AP values are in points (percent).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kitpose.export.files import ExportFileError, require_file, sha256_file
from kitpose.export.gates import AP_UNIT, Gates, check_gates, compare, exit_code


def verify_parity(model: Any, onnx_files: list[str | Path], annotations: str | Path,
                  images: str | Path, engines: list[str | Path] = (), dataset: str = "ap10k",
                  batch_size: int = 32, flip_test: bool = True, gates: Gates = Gates(),
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parity report of exported files against their PyTorch model on a COCO keypoints set.

    Args:
        model: reference PyTorch model (eval mode).
        onnx_files: exported ONNX files; each one's precision comes from its metadata.
        annotations, images: evaluation set (COCO JSON + image folder).
        engines: TensorRT engines, run with the runtime's TrtRunner where TensorRT and a GPU exist,
            else recorded as skipped with the reason; precision from the ONNX their sidecar names.
        dataset: DATASETS key of the keypoint layout and sigmas.
        batch_size, flip_test: as in validation.
        gates: pass limits.
        extra: fields copied into the report (e.g. the command line).
    Returns:
        Report dict: unit, gates, instances, rows (torch first; each with the system record),
        passed and exit_code (see `kitpose.export.gates.exit_code`).
    """
    from kitpose.export.eval_run import load_eval_set, run_backend
    from kitpose.info import system_info

    model.eval()
    data = load_eval_set(annotations, images, model, dataset)
    precisions = {str(p): onnx_precision(p) for p in onnx_files}  # fail early on bad files
    _check_sizes(onnx_files, data)
    system = system_info()
    ref = run_backend(model, data, batch_size, flip_test)
    rows = [{"backend": "torch", "precision": "fp32", "file": None, "ap": ref.ap, "system": system}]
    runs = (batch_size, flip_test, gates, system)
    rows += [_file_row(ref, data, "onnxruntime-cpu", p, precisions[str(p)], *runs) for p in onnx_files]
    rows += [_engine_row(ref, data, e, *runs) for e in engines]
    report = {**(extra or {}), "unit": AP_UNIT, "gates": asdict(gates), "dataset": dataset,
              "annotations": str(annotations), "images": str(images), "instances": len(data),
              "flip_test": flip_test, "rows": rows}
    report["exit_code"] = exit_code(report)
    report["passed"] = report["exit_code"] == 0
    return report


def _file_row(ref: Any, data: Any, backend: str, path: str | Path, precision: str, batch_size: int,
              flip_test: bool, gates: Gates, system: dict) -> dict[str, Any]:
    """The row of one exported file run by the runtime's runner for `backend` against `ref`."""
    from kitpose.export.eval_run import run_backend, runner_forward
    from kitpose.runtime.runners import open_runner

    with open_runner(path, "trt" if backend == "tensorrt" else "ort") as runner:
        row = compare(ref, run_backend(runner_forward(runner), data, batch_size, flip_test))
    return {"backend": backend, "precision": precision, "file": str(path), "sha256": sha256_file(path),
            "export": export_record(path), **row, "gate": check_gates(precision, row, gates),
            "system": system}


def _engine_row(ref: Any, data: Any, engine: str | Path, batch_size: int, flip_test: bool,
                gates: Gates, system: dict) -> dict[str, Any]:
    """The tensorrt row of an engine, or a skipped row saying why it cannot run here."""
    from kitpose.export.sidecar import EngineCompatibilityError
    from kitpose.runtime.metadata import ModelFileError
    from kitpose.runtime.trt_runner import engine_runtime_problem

    require_file(engine, "engine file")
    problem = engine_runtime_problem()
    if problem is None:
        try:
            return _file_row(ref, data, "tensorrt", engine, engine_precision(engine), batch_size,
                             flip_test, gates, system)
        except (ModelFileError, EngineCompatibilityError) as err:  # another TensorRT or GPU, no sidecar
            problem = str(err)
    else:
        problem += "; run the gate on the target device"
    return {"backend": "tensorrt", "precision": None, "file": str(engine), "skipped": problem,
            "gate": None, "system": system}


def onnx_precision(path: str | Path) -> str:
    """Precision of an exported ONNX: metadata "precision" (precision stage), else fp32 (onnx stage)."""
    from kitpose.export.metadata import read_metadata

    meta = read_metadata(path)
    if "input_size" not in meta:
        raise ExportFileError(f"{path}: no kitpose metadata (input_size); export it with "
                              f"`kitpose export` so its precision and sizes are recorded")
    return meta.get("precision", "fp32")


def engine_precision(engine: str | Path) -> str:
    """Precision of an engine: that of the ONNX its sidecar names (the file it was built from)."""
    return onnx_precision(engine_onnx(engine))


def engine_onnx(engine: str | Path) -> Path:
    """The ONNX an engine was built from, from its sidecar."""
    from kitpose.export.sidecar import read_sidecar

    onnx = read_sidecar(require_file(engine, "engine file")).get("onnx")
    if not onnx:
        raise ExportFileError(f"{engine}: sidecar records no source ONNX; rebuild with build_engine")
    return Path(onnx)


def _check_sizes(onnx_files: list[str | Path], data: Any) -> None:
    """Each file's recorded input and heatmap size must be the model's, else name the file."""
    from kitpose.export.metadata import read_metadata

    want = {"input_size": list(data.input_size), "heatmap_size": list(data.codec.heatmap_size)}
    for path in onnx_files:
        meta = read_metadata(path)
        for key, value in want.items():
            if meta.get(key) is not None and list(meta[key]) != value:
                raise ValueError(f"{path}: metadata {key} {meta[key]} but the model gives {value}; "
                                 f"pass the model this file was exported from")


def export_record(path: str | Path) -> dict[str, Any] | None:
    """The manifest.json record (stage, input, config hash, tools) that wrote `path`, if any."""
    from kitpose.export.manifest import read_manifest

    path = Path(path)
    for stage, record in read_manifest(path.parent / "manifest.json").items():
        if Path(record.get("output", "")).resolve() == path.resolve():
            keep = ("input", "config_hash", "seconds", "tools")
            return {"stage": stage, **{k: record.get(k) for k in keep}}
    return None


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write a report as indented JSON (folders created)."""
    from kitpose.atomic import write_atomic

    return write_atomic(path, (json.dumps(report, indent=2) + "\n").encode())


def format_rows(report: dict[str, Any]) -> list[str]:
    """One line per backend: AP (points), errors and gate verdict."""
    lines = [f"{report['instances']} instances, {report['unit']}"]
    for row in report["rows"]:
        head = f"{row['backend']:<16} {row['precision'] or '-':<5}"
        if row.get("skipped"):
            lines.append(f"{head} SKIPPED {row['file']}: {row['skipped']}")
        elif row["backend"] == "torch":
            lines.append(f"{head} AP {row['ap']:6.2f}  (reference)")
        else:
            assign = row["assign_agreement"]
            lines.append(f"{head} AP {row['ap']:6.2f} ({row['ap_delta']:+.2f})  heatmap max "
                         f"{row['heatmap_max_abs']:.2e} mean {row['heatmap_mean_abs']:.2e}  assign "
                         f"{'-' if assign is None else f'{assign:.4f}'}  kpt "
                         f"{row['keypoint_error_px']['mean']:.3f}/{row['keypoint_error_px']['max']:.3f} px"
                         f"  {_verdict(row['gate'])}")
    return lines


def _verdict(gate: dict[str, Any]) -> str:
    """PASS, or FAIL with each failed check as value > limit."""
    failed = [f"{name} {c['value']:.4g} > {c['limit']:.4g}" if name != "assign_agreement"
              else f"{name} {c['value']:.4f} < 1" for name, c in gate["checks"].items() if not c["passed"]]
    return "PASS" if not failed else "FAIL (" + "; ".join(failed) + ")"
