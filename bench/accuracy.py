"""AP of each backend/precision on an evaluation set, through the export parity gate
(kitpose.export.report.verify_parity: same crops, flip test, DARK decode and OKS AP for every backend).
"""
from __future__ import annotations

import json
from pathlib import Path

from kitpose.bench.models import BenchModel

SYNTH_VAL = Path("data/synth/val")  # `kitpose synth` validation split, relative to the checkout


def default_eval_set(work_dir: Path, input_size: tuple[int, int]) -> tuple[Path, Path]:
    """data/synth/val when present (cwd, then the checkout), else 16 fresh synthetic images in work_dir."""
    from kitpose.bench.timing import RESULTS_DIR

    for root in (Path.cwd(), RESULTS_DIR.parents[1]):
        ann = root / SYNTH_VAL / "annotations" / "val.json"
        if ann.is_file():
            return ann, root / SYNTH_VAL / "images"
    from kitpose.data.synthetic import generate_dataset

    root = work_dir / "eval_synth"
    ann = root / "annotations" / "val.json"
    if not ann.is_file():
        generate_dataset(root, 16, 1, (int(1.5 * input_size[0]), int(1.5 * input_size[1])), "val")
    return ann, root / "images"


def limit_images(annotations: Path, limit: int | None, work_dir: Path) -> Path:
    """The annotations restricted to their first `limit` images (written to work_dir), or as they are."""
    if not limit:
        return annotations
    data = json.loads(annotations.read_text())
    images = sorted(data["images"], key=lambda im: im["id"])[:limit]
    keep = {im["id"] for im in images}
    subset = {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in keep]}
    dst = work_dir / f"{annotations.stem}_first{limit}.json"
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(subset))
    return dst


def run_accuracy(bench: BenchModel, annotations: Path, images: Path, dataset: str = "ap10k",
                 batch_size: int = 32) -> tuple[list[dict], list[str]]:
    """Parity table rows: torch fp32 (reference) and ONNX Runtime at every exported precision.

    Returns:
        (partial rows, skip reasons); AP in points, ap_delta against torch fp32.
    """
    from kitpose.export.report import verify_parity

    files = [bench.onnx[p] for p in ("fp32", "fp16", "int8") if p in bench.onnx]
    report = verify_parity(bench.model, files, annotations, images, dataset=dataset, batch_size=batch_size)
    rows, skips = [], []
    for r in report["rows"]:
        if r.get("skipped"):
            skips.append(f"accuracy {r['backend']}: {r['skipped']}")
            continue
        gate = r.get("gate")
        rows.append({"bench": "accuracy", "backend": "torch" if r["backend"] == "torch" else "ort",
                     "precision": r["precision"], "device": "cpu", "ap": float(r["ap"]),
                     "ap_delta": r.get("ap_delta"), "gate_passed": None if gate is None else gate["passed"],
                     "instances": int(report["instances"]), "eval_set": str(annotations),
                     "heatmap_max_abs": r.get("heatmap_max_abs"),
                     "settings": {"flip_test": report["flip_test"], "dataset": dataset,
                                  "keypoint_error_px": r.get("keypoint_error_px"),
                                  "gate": gate, "unit": report["unit"]}})
    return rows, skips
