"""`kitpose bench`: model-only, pipeline and accuracy benchmarks -> JSON rows, Markdown, PNG plots.

    kitpose bench --model kitpose-w32-256 --bench model --backends torch,ort --precisions fp32 --batches 1,8
    kitpose bench --model default --bench pipeline
    kitpose bench --bench cape --cape-model fmmp-small --instances 1,4
    kitpose bench --compare A.jsonl B.jsonl
    kitpose bench --triton URL [triton options...]   (kitpose.bench.triton)
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import click

from kitpose.bench.suite import BENCH_NAMES, OPTIONAL_BENCHES, Options
from kitpose.bench.timing import RESULTS_DIR
from kitpose.commands import parse_hw

MODEL_HELP = "'default' (embedded model), a preset such as kitpose-w32-256 (random weights), or a checkpoint."


def _list(kind):
    """A click callback turning 'a,b,c' into a tuple of `kind`."""
    def parse(ctx, param, value):
        try:
            return tuple(kind(v.strip()) for v in value.split(",") if v.strip())
        except ValueError:
            raise click.BadParameter(f"{value!r}: expected a comma-separated list of {kind.__name__}") from None
    return parse


def _size(ctx, param, value: str) -> tuple[int, int]:
    """A click callback turning 'HxW' into (h, w), frames at least 64x64."""
    return parse_hw(value, 64, "1080x1920")


def _triton(ctx: click.Context, url: str, extra: list[str]) -> None:
    """Run kitpose.bench.triton.main(["--url", URL, *extra]) and exit with its code."""
    try:
        module = importlib.import_module("kitpose.bench.triton")
    except ImportError as err:
        raise click.ClickException(f"--triton needs kitpose.bench.triton (bench/triton.py), which cannot be "
                                   f"imported here ({err})") from None
    code = module.main(["--url", url, *extra])
    if code:
        ctx.exit(int(code))


@click.command("bench", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--model", default="default", show_default=True, help=MODEL_HELP)
@click.option("--bench", "benches", default=",".join(BENCH_NAMES), show_default=True, callback=_list(str),
              help="Which benches: model, pipeline, accuracy; cape (FMMP runtime, only when named).")
@click.option("--cape-model", default="fmmp-small", show_default=True,
              help="The cape bench's FMMP model: an fmmp-* preset (random weights), a checkpoint or default-cape.")
@click.option("--backends", default="torch,torch-compile,ort,trt,trt-rtx", show_default=True, callback=_list(str),
              help="Model-only backends; ones that cannot run here are listed with the reason.")
@click.option("--precisions", default="fp32,fp16,int8", show_default=True, callback=_list(str))
@click.option("--batches", default="1,8", show_default=True, callback=_list(int),
              help="Batch sweep, e.g. 1,2,4,8,16,32,64,128,256 on a GPU.")
@click.option("--pipelines", default="ort,torch,official", show_default=True, callback=_list(str))
@click.option("--instances", default="1,4,8", show_default=True, callback=_list(int), help="Animals per frame.")
@click.option("--frame-size", default="720x1280", show_default=True, callback=_size,
              help="HxW of the pipeline bench's frames, e.g. 1080x1920.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--threads", default=os.cpu_count() or 1, show_default=True, type=click.IntRange(min=1),
              help="Threads for torch, OpenCV and ONNX Runtime alike.")
@click.option("--warmup", default=3, show_default=True, type=click.IntRange(min=0))
@click.option("--repeat", default=20, show_default=True, type=click.IntRange(min=1), help="Fewest timed calls.")
@click.option("--min-seconds", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Fewest timed seconds per row (more calls for stable percentiles, up to 20 x repeat).")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1),
              help="Interleaved rounds the calls are split into, so passing load hits every backend alike.")
@click.option("--eval-annotations", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="COCO keypoints JSON for AP (default: data/synth/val, else a fresh synthetic set).")
@click.option("--eval-images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--eval-limit", type=click.IntRange(min=1), default=None, help="Use the first N images only.")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path), default=RESULTS_DIR / "bench.jsonl",
              show_default=True, help="JSON Lines file the rows are appended to.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/bench"),
              show_default=True, help="report.md and the PNG plots (exported ONNX: $KITPOSE_CACHE/bench).")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("--compare", nargs=2, type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Print B-over-A ratios of two results files and exit.")
@click.option("--render", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Write report.md and plots to --out from the newest run of each bench in this file; no run.")
@click.option("--triton", "triton_url", default=None, help="Benchmark a Triton server (kitpose.bench.triton).")
@click.pass_context
def bench_cmd(ctx: click.Context, compare, render, triton_url, results, out_dir, no_plots, **flags) -> None:
    """Benchmark backends, precisions and pipelines; append JSON rows; write Markdown and plots."""
    if triton_url is not None:  # --results, when given, names the load test's rows file too
        given = ctx.get_parameter_source("results") == click.core.ParameterSource.COMMANDLINE
        return _triton(ctx, triton_url, [*ctx.args, *(["--results", str(results)] if given else [])])
    if ctx.args:
        raise click.UsageError(f"unexpected arguments {ctx.args} (only --triton passes extra arguments on)")
    if compare:
        from kitpose.bench.report import compare_rows, format_compare

        a, b = compare
        click.echo(format_compare(compare_rows(_load_rows(a), _load_rows(b)), str(a), str(b)))
        return None
    if render:
        from kitpose.bench.report import latest_runs

        rows, skips = latest_runs(_load_rows(render)), []
    else:
        _check_choices(flags)
        from kitpose.bench.timing import append_rows
        from kitpose.runtime.model_files import cache_dir

        rows, skips = _run(Options(**flags, work_dir=cache_dir() / "bench"))
        append_rows(results, rows)
        click.echo(f"rows: {results} (+{len(rows)})")
    _write_report(rows, skips, out_dir, no_plots)
    return None


def _load_rows(path: Path) -> list[dict]:
    from kitpose.bench.schema import load_rows

    try:
        return load_rows(path)
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None


def _write_report(rows: list[dict], skips: list[str], out_dir: Path, no_plots: bool) -> None:
    """report.md (echoed) and, unless no_plots, the PNG plots in out_dir."""
    from kitpose.bench.report import markdown_report

    report = markdown_report(rows, skips)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(report)
    click.echo(report)
    click.echo(f"report: {out_dir / 'report.md'}")
    if not no_plots:
        from kitpose.bench.plots import write_plots

        for path in write_plots(rows, out_dir):
            click.echo(f"plot: {path}")


def _check_choices(flags: dict) -> None:
    from kitpose.bench.backends import ALL_BACKENDS
    from kitpose.bench.pipeline_bench import PIPELINES
    from kitpose.bench.schema import PRECISIONS

    for name, allowed in (("benches", BENCH_NAMES + OPTIONAL_BENCHES), ("backends", ALL_BACKENDS),
                          ("precisions", PRECISIONS), ("pipelines", PIPELINES)):
        bad = [v for v in flags[name] if v not in allowed]
        if bad or not flags[name]:
            raise click.BadParameter(f"{','.join(flags[name])!r}: choose from {','.join(allowed)}",
                                     param_hint=f"--{'bench' if name == 'benches' else name}")


def _run(opts: Options):
    from kitpose.bench.suite import run_suite

    try:
        return run_suite(opts)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        raise click.ClickException(str(err)) from None


def main(argv: list[str] | None = None) -> None:
    """`python -m kitpose.bench run ...`: the same command without the kitpose group."""
    bench_cmd.main(args=argv, prog_name="python -m kitpose.bench run")
