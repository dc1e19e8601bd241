"""`kitpose infer SOURCE --model default|ONNX|ENGINE`: torch-free inference on images, video, streams.

With `--support IMG --support-keypoints JSON` (once per shot) it runs a category-agnostic (FMMP)
model instead: the keypoints and skeleton of the support file, found on every box of SOURCE.
"""
from __future__ import annotations

import logging
from pathlib import Path

import click

from kitpose.runtime.box_options import box_provider, image_ids_for, warn_unmatched
from kitpose.runtime.cape_options import cape_estimator
from kitpose.runtime.loop import Sinks, run_loop
from kitpose.runtime.metadata import ModelFileError
from kitpose.runtime.model_files import DEFAULT_CAPE, resolve_model
from kitpose.runtime.outputs import (CocoResults, ImageDirSink, JsonlSink, VideoSink, Window,
                                     display_available)
from kitpose.runtime.pipeline import PoseEstimator
from kitpose.runtime.sources import ImageFiles, open_source


def _sinks(out: Path | None, show: bool, image_set: bool, image_ids: dict[str, int], fps: float,
           segment_frames: int) -> Sinks:
    sinks = Sinks()
    if show:
        if not display_available():
            raise click.UsageError("--show: no display here (no DISPLAY or OpenCV without GUI); use --out")
        sinks.window = Window()
    if out is not None:
        sinks.jsonl = JsonlSink(out / "poses.jsonl")
        sinks.video = ImageDirSink(out / "overlays") if image_set else VideoSink(
            out / "overlay.mp4", fps, segment_frames or None)
        if image_set:
            sinks.coco = CocoResults(out / "coco_results.json", image_ids)
    return sinks


def _estimator(model: str | None, support: tuple, support_keypoints: tuple, backend: str, device: str,
               cuda_graphs: bool, flip_test: bool):
    """The PoseEstimator for --model, or with --support the CapePipeline of a CAPE --model."""
    if support or support_keypoints:
        if flip_test or backend == "trt":
            raise click.UsageError("--support runs the CAPE graphs in ONNX Runtime: drop --flip-test and "
                                   "--backend trt")
        return cape_estimator(model or DEFAULT_CAPE, support, support_keypoints, device)
    if model == DEFAULT_CAPE:
        raise click.UsageError("--model default-cape finds the keypoints of a support: give --support IMG "
                               "--support-keypoints JSON")
    try:
        return PoseEstimator.from_file(resolve_model(model or "default"), backend, device, cuda_graphs,
                                       flip_test=flip_test)
    except (FileNotFoundError, ValueError, ImportError, ModelFileError) as err:
        raise click.BadParameter(str(err), param_hint="--model") from None


@click.command("infer")
@click.argument("source")
@click.option("--model", default=None,
              help="'default', a kitpose checkpoint (exported to ONNX once, cached), an .onnx or an engine; "
              "with --support: 'default-cape' (the default there), an FMMP checkpoint or a CAPE ONNX folder.")
@click.option("--support", multiple=True, help="Support image of a new category (repeat per shot); "
              "needs --support-keypoints and a CAPE --model.")
@click.option("--support-keypoints", multiple=True, help="COCO-style JSON of the --support image: one "
              "annotation (keypoints x,y,v, bbox) and a category with keypoint names and a 1-based skeleton.")
@click.option("--backend", type=click.Choice(["auto", "ort", "trt"]), default="auto", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--boxes", default=None, help="COCO JSON (GT or detections) or 'x,y,w,h;x,y,w,h'. "
              "Default: the whole frame (or --detector).")
@click.option("--detector", default=None, help="Detector ONNX in the YOLO layout, e.g. an Ultralytics export "
              "(see kitpose.runtime.detector).")
@click.option("--detect-every", default=10, show_default=True, help="Detector period; poses track between.")
@click.option("--classes", default=None, help="Detector classes to keep, e.g. '0' (COCO person).")
@click.option("--annotations", default=None, help="COCO annotation JSON whose images map file names to "
              "image ids, for --boxes detection results and coco_results.json (default: numeric file stems).")
@click.option("--flip-test", is_flag=True, help="Average with the mirrored crop.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for poses.jsonl, overlay.mp4 / overlays/, coco_results.json.")
@click.option("--show", is_flag=True, help="Show a window (needs a display).")
@click.option("--max-frames", type=int, default=None, help="Stop after this many frames.")
@click.option("--fps", default=15.0, show_default=True, help="Frame rate of overlay.mp4.")
@click.option("--retries", default=5, show_default=True, help="Reconnect attempts for streams.")
@click.option("--cuda-graphs", is_flag=True, help="Engines: replay one CUDA graph per batch bucket.")
@click.option("--segment-frames", default=9000, show_default=True, type=click.IntRange(min=0),
              help="Frames per overlay file (overlay.mp4, overlay_001.mp4, ...); 0: one file.")
def infer_cmd(source, model, support, support_keypoints, backend, device, boxes, detector, detect_every, classes,
              annotations, flip_test, out, show, max_frames, fps, retries, cuda_graphs, segment_frames):
    """Estimate poses in SOURCE: image, folder, video, camera index, RTSP/HTTP URL or GStreamer pipeline."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        frames = open_source(source, retries=retries)
    except FileNotFoundError as err:
        raise click.BadParameter(str(err), param_hint="SOURCE") from None
    image_ids = image_ids_for(boxes, annotations)
    provider = box_provider(boxes, detector, detect_every, classes, device, image_ids)
    estimator = _estimator(model, support, support_keypoints, backend, device, cuda_graphs, flip_test)
    sinks = _sinks(out, show, isinstance(frames, ImageFiles), image_ids, fps, segment_frames)
    with estimator:
        stats = run_loop(frames, estimator, provider, sinks, max_frames)
    warn_unmatched(provider, boxes, stats)
    counts = f"{stats.frames} frame(s), {stats.instances} instance(s), {stats.skipped} skipped"
    if not stats.frames:
        last = f" (last: {stats.errors[-1]})" if stats.errors else ""
        raise click.ClickException(f"{counts}: no frame was processed{last}")
    lat = sorted(stats.latencies_ms)
    p50 = lat[len(lat) // 2]
    click.echo(f"{counts}; {stats.fps:.1f} fps, p50 latency {p50:.1f} ms" + (f"; results in {out}" if out else ""))
