"""The `kitpose` command. Each subcommand parses flags and calls one library function."""
from __future__ import annotations

import json
from pathlib import Path

import click

from kitpose.commands import InputError, LazyGroup
from kitpose.default_model import MODEL_HELP
from kitpose.errors import UserInputError


# Commands defined beside the code they drive, imported only when used: `kitpose infer` must run
# on an edge box without torch, while the export commands need it.
def _infer() -> click.Command:
    from kitpose.runtime.cli import infer_cmd

    return infer_cmd


def _export() -> click.Command:
    from kitpose.export.cli import export_cmd

    return export_cmd


def _build() -> click.Command:
    from kitpose.export.cli import build_cmd

    return build_cmd


def _parity() -> click.Command:
    from kitpose.export.cli import parity_cmd

    return parity_cmd


def _serve() -> click.Command:
    from kitpose.serving.cli import serve_cmd

    return serve_cmd


def _bench() -> click.Command:
    from kitpose.bench.cli import bench_cmd

    return bench_cmd


LAZY_COMMANDS = {"infer": _infer, "export": _export, "build": _build, "parity": _parity, "serve": _serve,
                 "bench": _bench}


class _LazyGroup(LazyGroup):
    """The kitpose group: LAZY_COMMANDS imported on use, kitpose's input errors shown as one line."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, lazy=LAZY_COMMANDS, **kwargs)

    def invoke(self, ctx: click.Context):
        """Run the subcommand; kitpose's own input errors become one clean line, never a traceback."""
        try:
            return super().invoke(ctx)
        except (UserInputError, FileNotFoundError) as err:  # both name the file or field to fix
            raise InputError(str(err)) from None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kitpose")
def main() -> None:
    """kitpose: structure-aware pose estimation from training to real-time edge inference."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def info(as_json: bool) -> None:
    """Versions, compiled kernels (CPU/CUDA), torch / ONNX Runtime / TensorRT availability."""
    from kitpose.info import format_info, system_info

    record = system_info()
    click.echo(json.dumps(record, indent=2) if as_json else format_info(record))


@main.command()
@click.option("--model", default="default", show_default=True, help=MODEL_HELP)
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the demo's outputs.")
@click.option("--frames", default=45, show_default=True, type=click.IntRange(min=1),
              help="Length of the synthetic video.")
def demo(model: str, out_dir: Path, frames: int) -> None:
    """End to end on the CPU: synthetic video -> ONNX -> TensorRT-RTX engine -> torch-free pipeline
    -> OUT/demo.mp4, poses.jsonl, parity.json, bench.md."""
    from kitpose.demo import run_demo

    run_demo(model, out_dir, frames)


@main.command("pack")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the packed checkpoint.")
@click.option("--fp16/--fp32", "half", default=True, show_default=True,
              help="Store the weights as fp16 (half the size; loaded back into fp32).")
def pack(checkpoint: Path, out_path: Path, half: bool) -> None:
    """Keep only what deployment needs from a training checkpoint (weights, config, provenance)."""
    from kitpose.checkpoint import pack_checkpoint

    dst = pack_checkpoint(checkpoint, out_path, half)
    click.echo(f"{dst}: {dst.stat().st_size / 1e6:.2f} MB (was {checkpoint.stat().st_size / 1e6:.2f} MB)")


@main.command("convert-official")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the kitpose checkpoint.")
def convert_official(config: Path, checkpoint: Path, out_path: Path) -> None:
    """Convert an official KITPose experiment YAML + .pth into a kitpose checkpoint."""
    from kitpose.models import convert_official as convert

    click.echo(f"wrote {convert(config, checkpoint, out_path)}")


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--num-images", default=300, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=64), help="Image side.")
@click.option("--split", default="train", show_default=True, help="Annotation file name.")
@click.option("--video", is_flag=True, help="Also write demo.mp4 of walking animals (+ demo.json GT).")
@click.option("--cape", is_flag=True, help="Instead: procedural categories for category-agnostic pose, as "
              "MP-100-style split files (70/10/20 categories); --num-images is then per category.")
@click.option("--categories", default=100, show_default=True, type=click.IntRange(min=3),
              help="With --cape: how many categories.")
def synth(out_dir: Path, num_images: int, seed: int, size: int, split: str, video: bool, cape: bool,
          categories: int) -> None:
    """Generate synthetic quadrupeds in AP-10K format, or with --cape synthetic categories in MP-100
    format (same seed, same bytes)."""
    if cape:
        from kitpose.data.categories import write_split_files

        for name, path in write_split_files(out_dir, num_images, categories, size, seed).items():
            click.echo(f"{name}: {path}")
        return
    from kitpose.data.synthetic import run_synth

    result = run_synth(out_dir, num_images, seed, video=video, image_size=(size, size), split=split)
    for name, path in result.items():
        if path is not None:
            click.echo(f"{name}: {path}")


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (default: the config's output.dir).")
@click.option("--resume", is_flag=True, help="Continue exactly where <out>/last.pt stopped.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many optimiser steps in total.")
@click.option("--init", default=None, help="Fine-tune: start from 'default' or a kitpose checkpoint of "
              "the configured architecture (replaces the config's model.init).")
@click.option("--init-partial", is_flag=True, default=None,
              help="With --init: load only the tensors whose shapes match (e.g. another keypoint count).")
@click.option("--overwrite", is_flag=True,
              help="Replace the run already in the run folder (without it such a folder is refused).")
def train(config: Path, out_dir: Path | None, resume: bool, max_steps: int | None, init: str | None,
          init_partial: bool | None, overwrite: bool) -> None:
    """Train from a YAML config; under torchrun this is DistributedDataParallel."""
    import logging

    from kitpose.train import train as run_training

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # validation AP and init reports
    out = run_training(config, resume=resume, out_dir=out_dir, max_steps=max_steps, init=init,
                       init_partial=init_partial, overwrite=overwrite)
    click.echo(f"run folder: {out}")


@main.command("eval")
@click.option("--annotations", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="COCO keypoints ground-truth JSON.")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="COCO results JSON to score (instead of running --model).")
@click.option("--model", "model_spec", default=None, help=MODEL_HELP + " Runs it on --images.")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Image folder of --annotations (with --model).")
@click.option("--dataset", default=None, help="ap10k, animalpose, animalkingdom (PCK), coco, or any "
              "name with --sigmas (not with --cape).")
@click.option("--sigmas", default=None, help="Comma-separated OKS sigmas for a custom dataset.")
@click.option("--ak-plus-one", is_flag=True, help="Add the official Animal Kingdom +1 px to predictions.")
@click.option("--flip-test/--no-flip-test", default=True, show_default=True,
              help="With --model: average with the mirrored pass.")
@click.option("--oks-nms", "oks_nms_thr", type=click.FloatRange(0, 1), default=None,
              help="With --model: OKS-NMS threshold (e.g. 0.9) for overlapping instances.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--results", "results_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --model: write the COCO results JSON here.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the metrics JSON here.")
@click.option("--cape", is_flag=True, help="Category-agnostic: score a fmmp model (e.g. default-cape) on "
              "fixed support/query episodes of every category of --annotations (PCK@0.05..0.2, mPCK).")
@click.option("--shots", default=1, show_default=True, type=click.IntRange(min=1), help="With --cape: support shots.")
@click.option("--episodes", default=10, show_default=True, type=click.IntRange(min=1),
              help="With --cape: episodes per category.")
@click.option("--single-category", is_flag=True,
              help="With --cape: take the whole file as one category (any COCO keypoints file).")
def evaluate(annotations: Path, predictions: Path | None, model_spec: str | None, images: Path | None,
             dataset: str | None, sigmas: str | None, ak_plus_one: bool, flip_test: bool,
             oks_nms_thr: float | None, batch_size: int, results_out: Path | None,
             json_out: Path | None, cape: bool, shots: int, episodes: int, single_category: bool) -> None:
    """Evaluate a model on a COCO keypoints set (--model, --images), or score a results file
    (--predictions): OKS AP through pycocotools with the dataset's sigmas, or PCK@0.05. With --cape,
    a category-agnostic model on support/query episodes (PCK)."""
    if cape:
        _echo_metrics(_evaluate_cape(annotations, model_spec, images, shots, episodes, single_category,
                                     batch_size, json_out))
        return
    if dataset is None:
        raise click.UsageError("--dataset is required (ap10k, animalpose, animalkingdom, coco or a custom "
                               "name with --sigmas)")
    if (predictions is None) == (model_spec is None):
        raise click.UsageError("give either --predictions RESULTS.json or --model M --images DIR")
    sigma_values = _parse_sigmas(sigmas)
    if model_spec is not None:
        if images is None:
            raise click.UsageError("--model needs --images (the folder of --annotations' images)")
        from kitpose.data.dataset import NoSampleError
        from kitpose.evaluation.model_eval import evaluate_model
        from kitpose.models import load_model

        try:
            model = load_model(model_spec)
        except (FileNotFoundError, ValueError) as err:
            raise click.BadParameter(str(err), param_hint="--model") from None
        try:
            report = evaluate_model(model, annotations, images, dataset, flip_test, batch_size,
                                    oks_nms_thr, results_out, json_out, sigma_values)
        except NoSampleError as err:
            raise InputError(f"--images {err}") from None
    else:
        from kitpose.evaluation.score import score_results_file

        report = score_results_file(annotations, predictions, dataset, json_out, sigma_values,
                                    ak_plus_one=ak_plus_one)
    _echo_metrics(report)


def _echo_metrics(report: dict) -> None:
    for name, value in report["metrics"].items():
        click.echo(f"{name:>6}  {value:.4f}" if isinstance(value, float) else f"{name:>6}  {value}")


def _evaluate_cape(annotations: Path, model_spec: str | None, images: Path | None, shots: int, episodes: int,
                   single_category: bool, batch_size: int, json_out: Path | None) -> dict:
    if model_spec is None or images is None:
        raise click.UsageError("--cape needs --model (default-cape, a fmmp preset or checkpoint) and --images")
    from kitpose.evaluation.cape_eval import evaluate_cape_model
    from kitpose.evaluation.score import write_json
    from kitpose.models import load_model

    report = evaluate_cape_model(load_model(model_spec), annotations, images, shots, episodes,
                                 batch_size=batch_size, single_category=single_category)
    if json_out is not None:
        write_json(report, json_out)
    return report


def _parse_sigmas(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--sigmas: {text!r} is not a comma-separated list of numbers, e.g. "
                         "0.025,0.025,0.05") from None
    if not all(v > 0 and v < float("inf") for v in values):
        raise InputError(f"--sigmas: every OKS sigma must be a finite number > 0, got {text!r}")
    return values


if __name__ == "__main__":
    main()
