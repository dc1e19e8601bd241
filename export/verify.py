"""Stage 5, the parity gate: the same crops through PyTorch and each exported file, compared.

Every backend runs inside `kitpose.train.validate.predict` (same crops, flip test, DARK decoding
and instance scores as validation), so only the forward pass differs; AP comes from the same
`evaluate_coco` with the dataset's sigmas. AP values in reports are in points (percent).
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from kitpose.config import ASSIGN_NAME, HEATMAPS_NAME, INPUT_NAME
from kitpose.export.files import ExportFileError, require_file, sha256_file
from kitpose.models.output import PoseOutput

AP_UNIT = "AP in points (percent): 0.1 point = 0.001 as a fraction"


@dataclass(frozen=True)
class Gates:
    """Pass limits per precision; AP limits in points (percent), heatmap limit in heatmap units."""

    fp32_heatmap_max_abs: float = 1e-4
    fp32_ap_delta: float = 0.0         # "identical AP": |AP - AP_torch| <= this
    fp16_ap_drop: float = 0.1          # AP_torch - AP <= this
    int8_ap_drop: float = 1.0


class OrtRunner:
    """ONNX Runtime (CPU) session with the PyTorch model's call convention: images -> PoseOutput."""

    def __init__(self, path: str | Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.path = require_file(path, "ONNX file")
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ExportFileError(f"{self.path}: ONNX Runtime cannot load it ({str(err)[:300]}); "
                                  f"re-export it") from None
        self.names = [o.name for o in self.session.get_outputs()]
        if HEATMAPS_NAME not in self.names:
            raise ExportFileError(f"{self.path}: outputs {self.names} lack {HEATMAPS_NAME!r}; re-export it")

    def __call__(self, images: Tensor) -> PoseOutput:
        """images (B, 3, h, w) float32 -> PoseOutput(heatmaps (B, K, H, W), assign (B, K) or None)."""
        values = self.session.run(None, {INPUT_NAME: images.float().cpu().numpy()})
        out = dict(zip(self.names, values))
        assign = out.get(ASSIGN_NAME)
        return PoseOutput(torch.from_numpy(out[HEATMAPS_NAME]).float(),
                          assign=None if assign is None else torch.from_numpy(assign))


class _Recorder(nn.Module):
    """Wraps a forward callable for `predict` and keeps every output it returns."""

    def __init__(self, forward: Callable[[Tensor], PoseOutput]):
        super().__init__()
        self.fn, self.heatmaps, self.assign = forward, [], []
        self.eval()  # predict() restores this flag afterwards; eval keeps a wrapped model in eval

    def forward(self, images: Tensor) -> PoseOutput:
        out = self.fn(images)
        self.heatmaps.append(out.heatmaps.detach().float().cpu().numpy())  # (B, K, H, W)
        if out.assign is not None:
            self.assign.append(out.assign.detach().cpu().numpy())          # (B, K)
        return out


@dataclass
class BackendRun:
    """What one backend produced on the evaluation set."""

    results: list[dict]             # COCO results, one per instance
    heatmaps: np.ndarray            # (N, K, H, W) every forward pass (flip passes included)
    assign: np.ndarray | None       # (N, K) or None for non-clustering models
    ap: float                       # points


def run_backend(forward: Callable[[Tensor], PoseOutput], dataset: Any, batch_size: int = 32,
                flip_test: bool = True) -> BackendRun:
    """Predict and score the dataset with one forward callable (a model or a runner).

    Args:
        forward: images (B, 3, h, w) -> PoseOutput.
        dataset: TopDownDataset with train=False.
        batch_size: crops per forward pass.
        flip_test: average with the mirrored pass, as validation does.
    Returns:
        BackendRun with results, raw outputs and AP in points.
    """
    from kitpose.evaluation.coco_eval import evaluate_coco
    from kitpose.train.validate import predict

    recorder = _Recorder(forward)
    results = predict(recorder, dataset, batch_size, torch.device("cpu"), flip_test)
    metrics = evaluate_coco(dataset.raw, results, dataset.info.sigmas)
    assign = np.concatenate(recorder.assign) if recorder.assign else None
    return BackendRun(results, np.concatenate(recorder.heatmaps), assign, 100.0 * metrics["AP"])


def compare(ref: BackendRun, run: BackendRun) -> dict[str, Any]:
    """Heatmap error, cluster agreement, keypoint error (image px) and AP change of run vs ref.

    Returns:
        dict with heatmap_max_abs, heatmap_mean_abs, assign_agreement (fraction of forward-pass
        instances whose (K,) labels are identical; None without clustering), keypoint_error_px
        {mean, max} over all keypoints, ap and ap_delta (run - ref, points).
    """
    if ref.heatmaps.shape != run.heatmaps.shape:
        raise ValueError(f"heatmaps {run.heatmaps.shape} vs reference {ref.heatmaps.shape}: "
                         f"the exported file does not match the model (input or heatmap size)")
    diff = np.abs(ref.heatmaps.astype(np.float64) - run.heatmaps)  # (N, K, H, W)
    agreement = None
    if ref.assign is not None and run.assign is not None:
        agreement = float(np.mean(np.all(ref.assign == run.assign, axis=1)))
    error = keypoint_error(ref.results, run.results)
    return {"heatmap_max_abs": float(diff.max()), "heatmap_mean_abs": float(diff.mean()),
            "assign_agreement": agreement, "keypoint_error_px": error,
            "ap": run.ap, "ap_delta": run.ap - ref.ap}


def keypoint_error(ref: list[dict], run: list[dict]) -> dict[str, float]:
    """Mean and max Euclidean distance (image px) between keypoints of results paired by ann_id."""
    by_ann = {r["ann_id"]: np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3) for r in ref}
    if len(run) != len(ref) or any(r["ann_id"] not in by_ann for r in run):
        raise ValueError(f"results cover different instances ({len(run)} vs {len(ref)} reference)")
    dists = [np.linalg.norm(np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3)[:, :2]
                            - by_ann[r["ann_id"]][:, :2], axis=1) for r in run]  # N x (K,)
    dists = np.concatenate(dists) if dists else np.zeros(0)
    return {"mean": float(dists.mean()) if dists.size else 0.0,
            "max": float(dists.max()) if dists.size else 0.0}


def check_gates(precision: str, row: dict[str, Any], gates: Gates = Gates()) -> dict[str, Any]:
    """The gate of one backend row: named checks with value, limit and passed, plus overall passed.

    Args:
        precision: "fp32", "fp16" or "int8".
        row: output of `compare` (heatmap_max_abs, assign_agreement, ap_delta in points).
        gates: limits.
    Returns:
        {"checks": {name: {"value", "limit", "passed"}}, "passed": bool}.
    """
    drop = -row["ap_delta"]
    if precision == "fp32":
        checks = {"heatmap_max_abs": (row["heatmap_max_abs"], gates.fp32_heatmap_max_abs,
                                      row["heatmap_max_abs"] <= gates.fp32_heatmap_max_abs),
                  "ap_abs_delta": (abs(row["ap_delta"]), gates.fp32_ap_delta,
                                   abs(row["ap_delta"]) <= gates.fp32_ap_delta)}
        if row.get("assign_agreement") is not None:
            checks["assign_agreement"] = (row["assign_agreement"], 1.0, row["assign_agreement"] == 1.0)
    elif precision in ("fp16", "int8"):
        limit = gates.fp16_ap_drop if precision == "fp16" else gates.int8_ap_drop
        checks = {"ap_drop": (drop, limit, drop <= limit)}
    else:
        raise ValueError(f"precision {precision!r}: expected fp32, fp16 or int8")
    named = {k: {"value": v, "limit": lim, "passed": bool(ok)} for k, (v, lim, ok) in checks.items()}
    return {"checks": named, "passed": all(c["passed"] for c in named.values())}


def exit_code(report: dict[str, Any]) -> int:
    """0 when every backend ran and passed its gate, 1 when a gate failed, 2 when one was skipped."""
    rows = [r for r in report["rows"] if r["backend"] != "torch"]
    if any(r.get("gate") and not r["gate"]["passed"] for r in rows):
        return 1
    if not rows or any(r.get("skipped") for r in rows):
        return 2
    return 0


def onnx_precision(path: str | Path) -> str:
    """Precision of an exported ONNX: metadata "precision" (precision stage), else fp32 (onnx stage)."""
    from kitpose.export.metadata import read_metadata

    meta = read_metadata(path)
    if "input_size" not in meta:
        raise ExportFileError(f"{path}: no kitpose metadata (input_size); export it with "
                              f"`kitpose export` so its precision and sizes are recorded")
    return meta.get("precision", "fp32")


def engine_skip_reason(engine: str | Path) -> str:
    """Why an engine cannot be run here (this gate has no TensorRT runner without the runtime)."""
    require_file(engine, "engine file")
    if importlib.util.find_spec("tensorrt") is None:
        return ("the `tensorrt` runtime is not importable here (tensorrt_rtx builds engines but "
                "cannot run them without a GPU); run the gate on the target device")
    if not torch.cuda.is_available():
        return "no CUDA GPU visible; run the gate on the target device"
    return "no TensorRT runner in export/verify.py yet; use the kitpose runtime's TensorRT runner"


def load_eval_set(annotations: str | Path, images: str | Path, model: nn.Module,
                  dataset: str = "ap10k", sigmas=None) -> Any:
    """Validation crops (GT boxes, no augmentation) at the model's input and heatmap size.

    Args:
        annotations: COCO keypoints JSON.
        images: folder its file_name entries are relative to.
        model: the reference model (its config.input_size and heatmap output size are used).
        dataset: kitpose.data.metadata.DATASETS key (keypoints, flip pairs, OKS sigmas), or a custom
            dataset's name with `sigmas`.
        sigmas: (K,) OKS sigmas (required for a custom dataset).
    Returns:
        TopDownDataset with train=False.
    """
    from kitpose.data.dataset import TopDownDataset
    from kitpose.data.metadata import dataset_info
    from kitpose.errors import UserInputError

    require_file(annotations, "annotations JSON")
    if not Path(images).is_dir():
        raise ExportFileError(f"{images}: image folder not found")
    info = dataset_info(dataset, annotations, sigmas)
    h, w = model.config.input_size
    with torch.no_grad():
        probe = model(torch.zeros(1, 3, h, w)).heatmaps  # (1, K, H, W)
    if probe.shape[1] != info.num_keypoints:
        raise UserInputError(f"the model predicts {probe.shape[1]} keypoints, dataset {dataset} "
                             f"({annotations}) has {info.num_keypoints}; evaluate a model trained on "
                             "this keypoint layout")
    return TopDownDataset(annotations, images, info, input_size=(h, w),
                          heatmap_size=tuple(probe.shape[2:]), train=False)


def verify_parity(model: nn.Module, onnx_files: list[str | Path], annotations: str | Path,
                  images: str | Path, engines: list[str | Path] = (), dataset: str = "ap10k",
                  batch_size: int = 32, flip_test: bool = True, gates: Gates = Gates(),
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Parity report of exported files against their PyTorch model on a COCO keypoints set.

    Args:
        model: reference PyTorch model (eval mode).
        onnx_files: exported ONNX files; each one's precision comes from its metadata.
        annotations, images: evaluation set (COCO JSON + image folder).
        engines: TensorRT engines; recorded as skipped with the reason where they cannot run.
        dataset: DATASETS key of the keypoint layout and sigmas.
        batch_size, flip_test: as in validation.
        gates: pass limits.
        extra: fields copied into the report (e.g. the command line).
    Returns:
        Report dict: unit, gates, instances, rows (torch first; each with the system record),
        passed and exit_code (see `exit_code`).
    """
    from kitpose.info import system_info

    model.eval()
    data = load_eval_set(annotations, images, model, dataset)
    precisions = {str(p): onnx_precision(p) for p in onnx_files}  # fail early on bad files
    _check_sizes(onnx_files, data)
    system = system_info()
    ref = run_backend(model, data, batch_size, flip_test)
    rows = [{"backend": "torch", "precision": "fp32", "file": None, "ap": ref.ap, "system": system}]
    for path in onnx_files:
        row = compare(ref, run_backend(OrtRunner(path), data, batch_size, flip_test))
        precision = precisions[str(path)]
        rows.append({"backend": "onnxruntime-cpu", "precision": precision, "file": str(path),
                     "sha256": sha256_file(path), "export": export_record(path), **row,
                     "gate": check_gates(precision, row, gates), "system": system})
    for path in engines:
        rows.append({"backend": "tensorrt", "precision": None, "file": str(path),
                     "skipped": engine_skip_reason(path), "gate": None, "system": system})
    report = {**(extra or {}), "unit": AP_UNIT, "gates": asdict(gates), "dataset": dataset,
              "annotations": str(annotations), "images": str(images), "instances": len(data),
              "flip_test": flip_test, "rows": rows}
    report["exit_code"] = exit_code(report)
    report["passed"] = report["exit_code"] == 0
    return report


def export_record(path: str | Path) -> dict[str, Any] | None:
    """The manifest.json record (stage, input, config hash, tools) that wrote `path`, if any."""
    from kitpose.export.manifest import read_manifest

    path = Path(path)
    for stage, record in read_manifest(path.parent / "manifest.json").items():
        if Path(record.get("output", "")).resolve() == path.resolve():
            keep = ("input", "config_hash", "seconds", "tools")
            return {"stage": stage, **{k: record.get(k) for k in keep}}
    return None


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


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write a report as indented JSON (folders created)."""
    from kitpose.atomic import write_atomic

    return write_atomic(path, (json.dumps(report, indent=2) + "\n").encode())


class ParityError(RuntimeError):
    """A parity gate failed; the message names the report with the numbers."""


def verify(src: str | Path, dst: str | Path, cfg: Any = None, model: nn.Module | None = None,
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
    onnx = Path(_engine_onnx(src)) if engines else src
    model = model if model is not None else _manifest_model(onnx)
    if annotations is None:
        annotations, images = _synthetic_set(dst.parent / "parity_data", model.config.input_size)
    report = verify_parity(model, [onnx], annotations, images, engines, cfg.dataset or "ap10k",
                           extra={"command": f"verify({str(src)!r}, {str(dst)!r})"})
    write_report(report, dst)
    if report["exit_code"] == 1:
        raise ParityError(f"{dst}: parity gate failed for {src}; see the report's rows")
    return dst


def _engine_onnx(engine: Path) -> str:
    """The ONNX an engine was built from, from its sidecar."""
    from kitpose.export.sidecar import read_sidecar

    onnx = read_sidecar(require_file(engine, "engine file")).get("onnx")
    if not onnx:
        raise ExportFileError(f"{engine}: sidecar records no source ONNX; rebuild with build_engine")
    return onnx


def _manifest_model(onnx: Path) -> nn.Module:
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
