"""`kitpose export`, `kitpose build` and `kitpose parity`: flag parsing around the export stages.

Registered on the `kitpose` group with `main.add_command(export_cmd)` etc. Exit codes: 0 ok;
1 a parity gate failed; 2 bad input (missing or corrupted file, bad flag) or a requested
backend that cannot run here.
"""
from __future__ import annotations

import functools
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from kitpose.export.config import ExportConfig

MODEL_HELP = ("'default' (the embedded model), a preset name (random weights), a kitpose checkpoint, "
              "or an official KITPose .pth together with --official-config.")
PRECISIONS = ("fp32", "fp16", "int8")


class InputError(click.ClickException):
    """A missing or corrupted input, or a backend that cannot run here (exit code 2)."""

    exit_code = 2


def _load_model(spec: str, official_config: Path | None) -> Any:
    """The reference model of a --model spec, errors as InputError."""
    from kitpose.models import from_official, load_model

    try:
        if official_config is not None:
            return from_official(official_config, spec).eval()
        return load_model(spec)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        raise InputError(f"--model {spec}: {err}") from None


def _precisions(value: str) -> list[str]:
    """'fp32,fp16' -> ['fp32', 'fp16'] with unknown names rejected."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in PRECISIONS]
    if bad or not names:
        raise click.BadParameter(f"{value!r}: comma-separated subset of {','.join(PRECISIONS)}",
                                 param_hint="--precision")
    return list(dict.fromkeys(names))


def _batch(value: str) -> tuple[int, int, int]:
    """'1:8:32' -> (1, 8, 32)."""
    try:
        lo, opt, hi = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected min:opt:max, e.g. 1:8:32",
                                 param_hint="--batch") from None
    return lo, opt, hi


def _calibration(model: Any, annotations: Path | None, images: Path | None, dataset: str,
                 count: int) -> list | None:
    """The first `count` validation crops of a COCO set as (3, h, w) arrays, or None (synthetic)."""
    if annotations is None:
        return None
    if images is None:
        raise click.UsageError("--calib needs --calib-images (the folder of its images)")
    from kitpose.export.verify import load_eval_set

    data = load_eval_set(annotations, images, model, dataset)
    return [data[i]["image"].numpy() for i in range(min(count, len(data)))]


def export_variants(model: Any, out_dir: Path, precisions: list[str], cfg: ExportConfig,
                    calibration: list | None = None) -> dict[str, Path]:
    """model.onnx plus model_<p>.onnx for fp16/int8, each recorded in out_dir/manifest.json.

    Args:
        model: model to export.
        out_dir: output folder.
        precisions: subset of fp32, fp16, int8 (fp32 is model.onnx itself).
        cfg: export settings.
        calibration: int8 calibration crops; None: synthetic.
    Returns:
        precision -> ONNX path.
    """
    from kitpose.export.manifest import run_stage
    from kitpose.export.precision import convert_precision
    from kitpose.export.to_onnx import export_onnx

    manifest = out_dir / "manifest.json"
    onnx = run_stage("onnx", export_onnx, model, out_dir / "model.onnx", cfg, manifest)
    written = {"fp32": onnx} if "fp32" in precisions else {}
    for precision in (p for p in precisions if p != "fp32"):
        dst = out_dir / f"model_{precision}.onnx"
        stage = convert_precision
        if precision == "int8" and calibration is not None:
            dst.unlink(missing_ok=True)  # the manifest's skip key does not see calibration data
            stage = functools.partial(convert_precision, calibration=calibration)
        written[precision] = run_stage(f"precision_{precision}", stage, onnx, dst,
                                       replace(cfg, precision=precision), manifest)
    return written


def _model_options(fn):
    """--model and --official-config, as export and parity take them (see `_load_model`)."""
    fn = click.option("--official-config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                      default=None, help="Official KITPose experiment YAML when --model is an official .pth."
                      )(fn)
    return click.option("--model", "model_spec", default="default", show_default=True, help=MODEL_HELP)(fn)


def _errors_as_input_errors(fn):
    """Turn the stages' file/config errors into InputError (exit 2) with their message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kitpose.export.files import ExportFileError
        from kitpose.export.sidecar import EngineCompatibilityError

        try:
            return fn(*args, **kwargs)
        except (ExportFileError, EngineCompatibilityError, ImportError, ValueError, KeyError,
                FileNotFoundError) as err:
            raise InputError(str(err).strip("'\"")) from None

    return wrapper


@click.command("export")
@_model_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: model.onnx, model_<precision>.onnx, manifest.json.")
@click.option("--precision", default="fp32", show_default=True, help="Comma-separated: fp32,fp16,int8.")
@click.option("--calib", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="COCO keypoints JSON for int8 calibration (default: synthetic crops).")
@click.option("--calib-images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Image folder of --calib.")
@click.option("--calib-samples", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--dataset", default="ap10k", show_default=True,
              help="Keypoint metadata written into the ONNX (kitpose.data.metadata.DATASETS key).")
@click.option("--opset", default=17, show_default=True, type=click.IntRange(min=17))
@click.option("--kmedoids-iters", default=10, show_default=True, type=click.IntRange(min=1),
              help="Clustering rounds unrolled in the graph.")
@click.option("--triton", "triton_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Also write a Triton model repository here (kitpose.serving.repository).")
@click.option("--triton-engine", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TensorRT plan to serve in the --triton repository instead of the ONNX.")
@_errors_as_input_errors
def export_cmd(model_spec: str, official_config: Path | None, out_dir: Path, precision: str,
               calib: Path | None, calib_images: Path | None, calib_samples: int, dataset: str,
               opset: int, kmedoids_iters: int, triton_dir: Path | None = None,
               triton_engine: Path | None = None) -> None:
    """Export a model to ONNX (and fp16 / int8 variants) with a manifest."""
    precisions = _precisions(precision)
    model = _load_model(model_spec, official_config)
    name = "default" if model_spec == "default" else Path(model_spec).stem
    cfg = ExportConfig(opset=opset, kmedoids_iters=kmedoids_iters, dataset=dataset, model_name=name,
                       calib_samples=calib_samples)
    calibration = _calibration(model, calib, calib_images, dataset, calib_samples)
    written = export_variants(model, out_dir, precisions, cfg, calibration)
    for p, path in written.items():
        click.echo(f"{p}: {path}")
    click.echo(f"manifest: {out_dir / 'manifest.json'}")
    if triton_dir is not None:  # the first precision asked for (fp32 when it is among them)
        from kitpose.serving.repository import write_repository

        click.echo(f"triton: {write_repository(next(iter(written.values())), triton_dir, engine=triton_engine)}")


@click.command("build")
@click.option("--onnx", "onnx_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ONNX from `kitpose export`.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Engine file; <out>.json records its build target.")
@click.option("--backend", default="auto", show_default=True,
              type=click.Choice(["auto", "tensorrt", "tensorrt_rtx"]))
@click.option("--batch", default="1:8:32", show_default=True, help="Batch profile min:opt:max.")
@click.option("--compute-capability", default=None,
              help="Ahead-of-time target such as 8.6 (tensorrt_rtx); default: the local GPU.")
@click.option("--dla-core", default=None, type=click.IntRange(min=0),
              help="DLA core (TensorRT 10.x, Jetson).")
@click.option("--timing-cache", default=None, type=click.Path(dir_okay=False), help="Timing cache file.")
@click.option("--workspace-mb", default=2048, show_default=True, type=click.IntRange(min=1))
@_errors_as_input_errors
def build_cmd(onnx_path: Path, out_path: Path, backend: str, batch: str, compute_capability: str | None,
              dla_core: int | None, timing_cache: str | None, workspace_mb: int) -> None:
    """Build a TensorRT / TensorRT-RTX engine from an exported ONNX file."""
    from kitpose.export.build_engine import build_engine
    from kitpose.export.manifest import run_stage

    cfg = ExportConfig(backend=backend, batch=_batch(batch), compute_capability=compute_capability,
                       dla_core=dla_core, timing_cache=timing_cache, workspace_mb=workspace_mb)
    engine = run_stage(f"engine_{out_path.stem}", build_engine, onnx_path, out_path, cfg,
                       out_path.parent / "manifest.json")
    click.echo(f"engine: {engine}")


@click.command("parity")
@_model_options
@click.option("--onnx", "onnx_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Exported ONNX (repeat for fp32/fp16/int8; precision read from its metadata).")
@click.option("--engine", "engines", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="TensorRT engine (run where the tensorrt runtime and a GPU exist).")
@click.option("--annotations", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="COCO keypoints JSON of the evaluation set.")
@click.option("--images", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Image folder of --annotations.")
@click.option("--dataset", default="ap10k", show_default=True, help="Keypoint layout and OKS sigmas.")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--flip-test/--no-flip-test", default=True, show_default=True,
              help="Average with the mirrored pass, as validation does.")
@click.pass_context
@_errors_as_input_errors
def parity_cmd(ctx: click.Context, model_spec: str, official_config: Path | None, onnx_files: tuple,
               engines: tuple, annotations: Path, images: Path, dataset: str, json_out: Path | None,
               batch_size: int, flip_test: bool) -> None:
    """Parity gate: PyTorch vs each exported file (heatmaps, clusters, keypoints, AP)."""
    from kitpose.export.verify import verify_parity, write_report

    if not onnx_files and not engines:
        raise click.UsageError("give at least one --onnx or --engine to compare with the model")
    model = _load_model(model_spec, official_config)
    report = verify_parity(model, list(onnx_files), annotations, images, list(engines), dataset,
                           batch_size, flip_test,
                           extra={"command": command_line(ctx), "model": model_spec})
    for line in format_rows(report):
        click.echo(line)
    if json_out is not None:
        click.echo(f"report: {write_report(report, json_out)}")
    ctx.exit(report["exit_code"])


def command_line(ctx: click.Context) -> str:
    """The invocation rebuilt from the parsed parameters (reproducible whatever the caller)."""
    path = ctx.command_path  # "kitpose parity" once registered on the kitpose group
    parts = path.split() if path.startswith("kitpose") else ["kitpose", ctx.command.name]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or not isinstance(param, click.Option):
            continue
        flag = param.opts[0]
        if param.is_flag:
            parts.append(flag if value else param.secondary_opts[0] if param.secondary_opts else "")
            continue
        parts += [x for v in (value if param.multiple else [value]) for x in (flag, str(v))]
    return shlex.join([p for p in parts if p])


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
