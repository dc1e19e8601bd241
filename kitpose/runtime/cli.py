"""`kitpose infer SOURCE --model default|ONNX|ENGINE`: torch-free inference on images, video, streams."""
from __future__ import annotations

import logging
from pathlib import Path

import click

from kitpose.runtime.box_options import box_provider, image_ids_for, warn_unmatched
from kitpose.runtime.loop import Sinks, run_loop
from kitpose.runtime.metadata import ModelFileError
from kitpose.runtime.model_files import resolve_model
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


@click.command("infer")
@click.argument("source")
@click.option("--model", default="default", show_default=True,
              help="'default', a kitpose checkpoint (exported to ONNX once, cached), an .onnx or an engine.")
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
def infer_cmd(source, model, backend, device, boxes, detector, detect_every, classes, annotations, flip_test,
              out, show, max_frames, fps, retries, cuda_graphs, segment_frames):
    """Estimate poses in SOURCE: image, folder, video, camera index, RTSP/HTTP URL or GStreamer pipeline."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        frames = open_source(source, retries=retries)
    except FileNotFoundError as err:
        raise click.BadParameter(str(err), param_hint="SOURCE") from None
    image_ids = image_ids_for(boxes, annotations)
    provider = box_provider(boxes, detector, detect_every, classes, device, image_ids)
    try:
        estimator = PoseEstimator.from_file(resolve_model(model), backend, device, cuda_graphs,
                                            flip_test=flip_test)
    except (FileNotFoundError, ValueError, ImportError, ModelFileError) as err:
        raise click.BadParameter(str(err), param_hint="--model") from None
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
