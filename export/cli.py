"""`kitpose export`, `kitpose build`, `kitpose parity` and `python -m kitpose.export`: flag parsing
around `kitpose.export.pipeline.run_pipeline` and the parity report.

Registered on the `kitpose` group with `main.add_command(export_cmd)` etc.; `pipeline_cmd` is what
`python -m kitpose.export` runs. Exit codes: 0 ok; 1 a parity gate failed; 2 bad input (missing or
corrupted file, bad flag) or a requested backend that cannot run here.
"""
from __future__ import annotations

import functools
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from kitpose.commands import InputError
from kitpose.export.config import ExportConfig
from kitpose.export.report import format_rows, verify_parity, write_report

MODEL_HELP = ("'default' (the embedded model), a preset name (random weights), a kitpose checkpoint, "
              "or an official KITPose .pth together with --official-config.")
PRECISIONS = ("fp32", "fp16", "int8")


class GateFailed(click.ClickException):
    """A parity gate failed (exit code 1); the message names the report."""

    exit_code = 1


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
    from kitpose.export.eval_run import load_eval_set

    data = load_eval_set(annotations, images, model, dataset)
    return [data[i]["image"].numpy() for i in range(min(count, len(data)))]


def export_variants(model: Any, out_dir: Path, precisions: list[str], cfg: ExportConfig,
                    calibration: list | None = None) -> dict[str, Path]:
    """model.onnx plus model_<p>.onnx for fp16/int8 (run_pipeline's first two stages; fp32 is
    model.onnx itself), each recorded in out_dir/manifest.json.

    Args:
        model: model to export.
        out_dir: output folder.
        precisions: subset of fp32, fp16, int8 (fp32 is model.onnx itself).
        cfg: export settings.
        calibration: int8 calibration crops; None: synthetic.
    Returns:
        precision -> ONNX path.
    """
    from kitpose.export.pipeline import run_pipeline

    onnx = run_pipeline(model, out_dir, cfg, stop_after="onnx")
    written = {"fp32": onnx} if "fp32" in precisions else {}
    for precision in (p for p in precisions if p != "fp32"):
        extra = {"calibration": calibration} if precision == "int8" and calibration is not None else {}
        written[precision] = run_pipeline(onnx, out_dir, replace(cfg, precision=precision), start="precision",
                                          stop_after="precision", options={"precision": extra})
    return written


def _model_options(fn):
    """--model and --official-config, as export and parity take them (see `_load_model`)."""
    fn = click.option("--official-config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                      default=None, help="Official KITPose experiment YAML when --model is an official .pth."
                      )(fn)
    return click.option("--model", "model_spec", default="default", show_default=True, help=MODEL_HELP)(fn)


def _engine_options(fn):
    """--backend, --batch and --compute-capability, as build and the pipeline take them."""
    fn = click.option("--compute-capability", default=None,
                      help="Ahead-of-time engine target such as 8.6 (tensorrt_rtx); default: the local GPU.")(fn)
    fn = click.option("--batch", default="1:8:32", show_default=True, help="Engine batch profile min:opt:max.")(fn)
    return click.option("--backend", default="auto", show_default=True,
                        type=click.Choice(["auto", "tensorrt", "tensorrt_rtx"]))(fn)


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
@_engine_options
@click.option("--dla-core", default=None, type=click.IntRange(min=0),
              help="DLA core (TensorRT 10.x, Jetson).")
@click.option("--timing-cache", default=None, type=click.Path(dir_okay=False), help="Timing cache file.")
@click.option("--workspace-mb", default=2048, show_default=True, type=click.IntRange(min=1))
@_errors_as_input_errors
def build_cmd(onnx_path: Path, out_path: Path, backend: str, batch: str, compute_capability: str | None,
              dla_core: int | None, timing_cache: str | None, workspace_mb: int) -> None:
    """Build a TensorRT / TensorRT-RTX engine from an exported ONNX file."""
    from kitpose.export.pipeline import run_pipeline

    cfg = ExportConfig(backend=backend, batch=_batch(batch), compute_capability=compute_capability,
                       dla_core=dla_core, timing_cache=timing_cache, workspace_mb=workspace_mb)
    engine = run_pipeline(onnx_path, out_path.parent, cfg, start="engine", stop_after="engine", dst=out_path)
    click.echo(f"engine: {engine}")


STAGE_NAMES = ("onnx", "precision", "engine", "verify")  # kitpose.export.pipeline.STAGE_NAMES (torch-free here)


@click.command("kitpose.export")
@_model_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; every stage's file is named in it (model.onnx, model_<precision>.onnx, "
              "model_<precision>.engine, parity_<precision>.json) with manifest.json beside.")
@click.option("--from", "start", default="onnx", show_default=True, type=click.Choice(STAGE_NAMES),
              help="First stage; later ones read the previous stage's file from --out.")
@click.option("--to", "stop_after", default="engine", show_default=True, type=click.Choice(STAGE_NAMES),
              help="Last stage.")
@click.option("--precision", default="fp16", show_default=True, type=click.Choice(PRECISIONS))
@click.option("--dataset", default="ap10k", show_default=True,
              help="Keypoint metadata written into the ONNX and the parity gate's sigmas.")
@_engine_options
@_errors_as_input_errors
def pipeline_cmd(model_spec: str, official_config: Path | None, out_dir: Path, start: str, stop_after: str,
                 precision: str, dataset: str, backend: str, batch: str, compute_capability: str | None) -> None:
    """Run the export pipeline (onnx -> precision -> engine -> verify) from --from to --to."""
    from kitpose.export.gates import ParityError
    from kitpose.export.pipeline import run_pipeline

    name = "default" if model_spec == "default" else Path(model_spec).stem
    cfg = ExportConfig(precision=precision, dataset=dataset, model_name=name, backend=backend,
                       batch=_batch(batch), compute_capability=compute_capability)
    needs_model = start == "onnx" or stop_after == "verify"  # the first stage's input, the gate's reference
    model = _load_model(model_spec, official_config) if needs_model else None
    options = {"verify": {"model": model}} if model is not None else {}
    try:
        out = run_pipeline(model if start == "onnx" else None, out_dir, cfg, start, stop_after, options=options)
    except ParityError as err:
        raise GateFailed(str(err)) from None
    click.echo(f"{stop_after}: {out}")
    click.echo(f"manifest: {out_dir / 'manifest.json'}")


@click.command("parity")
@_model_options
@click.option("--onnx", "onnx_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Exported ONNX (repeat for fp32/fp16/int8; precision read from its metadata).")
@click.option("--engine", "engines", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="TensorRT engine, run by the runtime's TrtRunner where TensorRT, cuda-python and a GPU "
              "exist (else reported as skipped).")
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
