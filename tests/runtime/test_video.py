"""A synthetic video through `kitpose infer`: mp4 overlay, JSON Lines, GT boxes via --boxes list."""
import json

import cv2
import pytest
from click.testing import CliRunner

from kitpose.data.synthetic import generate_video
from kitpose.runtime.cli import infer_cmd

FRAMES = 6


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    sidecar = generate_video(path, num_frames=FRAMES, seed=3, size=(96, 128), fps=10)
    return path, json.loads(sidecar.read_text())


def test_video_whole_frame(small_onnx, video, tmp_path):
    path, _ = video
    result = CliRunner().invoke(infer_cmd, [str(path), "--model", str(small_onnx), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    rows = [json.loads(line) for line in (tmp_path / "poses.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(FRAMES))  # a file keeps every frame, in order
    cap = cv2.VideoCapture(str(tmp_path / "overlay.mp4"))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == FRAMES
    assert cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 128


def test_video_boxes_and_max_frames(small_onnx, video, tmp_path):
    path, gt = video
    box = max((i["bbox"] for i in gt["frames"][0]["instances"]), key=lambda b: b[2] * b[3])
    args = [str(path), "--model", str(small_onnx), "--boxes", ",".join(str(v) for v in box),
            "--max-frames", "3", "--out", str(tmp_path), "--flip-test"]
    result = CliRunner().invoke(infer_cmd, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    rows = [json.loads(line) for line in (tmp_path / "poses.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(len(r["instances"]) == 1 for r in rows)
    assert "3 frame(s), 3 instance(s)" in result.output


def test_video_sink_splits_long_recordings_into_segments(tmp_path):
    import numpy as np

    from kitpose.runtime.outputs import VideoSink

    sink = VideoSink(tmp_path / "overlay.mp4", segment_frames=4)
    for i in range(10):
        sink.write(np.full((32, 48, 3), i * 20, np.uint8))
    sink.close()
    assert [p.name for p in sink.paths] == ["overlay.mp4", "overlay_001.mp4", "overlay_002.mp4"]
    counts = [int(cv2.VideoCapture(str(p)).get(cv2.CAP_PROP_FRAME_COUNT)) for p in sink.paths]
    assert counts == [4, 4, 2] and sink.frames == 10
    with pytest.raises(ValueError, match="segment_frames"):
        VideoSink(tmp_path / "x.mp4", segment_frames=0)
