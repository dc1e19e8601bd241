"""Stage 5, the parity gate: gate logic on hand-made numbers, then torch vs ONNX Runtime for real,
then an engine through the runtime's TrtRunner (fake TensorRT modules, tests/fake_trt.py)."""
import json
import warnings

import numpy as np
import onnx
import pytest

from kitpose.export.files import ExportFileError
from kitpose.export.eval_run import BackendRun
from kitpose.export.gates import Gates, check_gates, compare, exit_code, keypoint_error
from kitpose.export.report import onnx_precision, verify_parity


def _row(max_abs=1e-5, assign=1.0, ap_delta=0.0):
    return {"heatmap_max_abs": max_abs, "assign_agreement": assign, "ap_delta": ap_delta}


@pytest.mark.parametrize("precision,row,passed,failing", [
    ("fp32", _row(), True, []),
    ("fp32", _row(max_abs=1e-4), True, []),
    ("fp32", _row(max_abs=2e-4), False, ["heatmap_max_abs"]),
    ("fp32", _row(assign=0.99), False, ["assign_agreement"]),
    ("fp32", _row(assign=None), True, []),
    ("fp32", _row(ap_delta=0.01), False, ["ap_abs_delta"]),
    ("fp32", _row(ap_delta=-0.01), False, ["ap_abs_delta"]),
    ("fp16", _row(max_abs=1e-2, assign=0.5, ap_delta=-0.1), True, []),
    ("fp16", _row(ap_delta=-0.11), False, ["ap_drop"]),
    ("fp16", _row(ap_delta=+0.5), True, []),
    ("int8", _row(ap_delta=-1.0), True, []),
    ("int8", _row(ap_delta=-1.5), False, ["ap_drop"]),
], ids=["fp32-ok", "fp32-at-limit", "fp32-heatmaps", "fp32-assign", "fp32-no-clusters",
        "fp32-ap-up", "fp32-ap-down", "fp16-ok", "fp16-drop", "fp16-gain", "int8-at-limit",
        "int8-drop"])
def test_gates_on_hand_made_rows(precision, row, passed, failing):
    gate = check_gates(precision, row)
    assert gate["passed"] is passed
    assert [k for k, c in gate["checks"].items() if not c["passed"]] == failing


def test_gate_limits_are_configurable_and_unknown_precision_raises():
    assert check_gates("fp16", _row(ap_delta=-0.3), Gates(fp16_ap_drop=0.5))["passed"]
    with pytest.raises(ValueError, match="precision 'bf16'"):
        check_gates("bf16", _row())


def _report(*gates_passed, skipped=False):
    rows = [{"backend": "torch"}] + [{"backend": "onnxruntime-cpu", "gate": {"passed": p}}
                                     for p in gates_passed]
    if skipped:
        rows.append({"backend": "tensorrt", "gate": None, "skipped": "no runtime"})
    return {"rows": rows}


@pytest.mark.parametrize("report,code", [
    (_report(True, True), 0), (_report(True, False), 1), (_report(False), 1),
    (_report(True, skipped=True), 2), (_report(False, skipped=True), 1), (_report(), 2),
], ids=["all-pass", "one-fails", "fp32-fails", "skipped", "fail-beats-skip", "nothing-run"])
def test_exit_code(report, code):
    assert exit_code(report) == code


def _result(ann_id, points):
    kpts = np.concatenate([np.asarray(points, float), np.ones((len(points), 1))], axis=1)
    return {"ann_id": ann_id, "image_id": 1, "keypoints": kpts.ravel().tolist(), "score": 1.0}


def test_keypoint_error_pairs_by_annotation_id():
    ref = [_result(1, [[0, 0], [10, 10]]), _result(2, [[5, 5], [5, 5]])]
    run = [_result(2, [[5, 5], [5, 5]]), _result(1, [[3, 4], [10, 10]])]  # other order
    assert keypoint_error(ref, run) == {"mean": pytest.approx(5 / 4), "max": pytest.approx(5.0)}
    with pytest.raises(ValueError, match="different instances"):
        keypoint_error(ref, run[:1])


def test_compare_hand_made_runs():
    heat = np.zeros((2, 3, 4, 4), np.float32)
    other = heat.copy()
    other[0, 0, 0, 0] = 0.5
    assign = np.array([[0, 1, 1], [0, 0, 1]])
    ref = BackendRun([_result(1, [[0, 0]] * 3)], heat, assign, 70.0)
    run = BackendRun([_result(1, [[0, 0]] * 3)], other, assign[[0, 0]], 69.5)
    row = compare(ref, run)
    assert row["heatmap_max_abs"] == 0.5 and row["heatmap_mean_abs"] == pytest.approx(0.5 / 96)
    assert row["assign_agreement"] == 0.5 and row["ap_delta"] == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="does not match the model"):
        compare(ref, BackendRun(run.results, other[:, :, :2], None, 0.0))


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from kitpose.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    return generate_dataset(root, 4, 3, (96, 96), "val"), root / "images"


def _perturbed(src, dst):
    """A copy with every float initializer of rank >= 2 nudged (a broken export)."""
    model = onnx.load(str(src))
    for init in model.graph.initializer:
        array = onnx.numpy_helper.to_array(init)
        if array.dtype == np.float32 and array.ndim >= 2:
            init.CopyFrom(onnx.numpy_helper.from_array(array * 1.05, init.name))
    onnx.save(model, str(dst))
    return dst


def test_torch_vs_ort_fp32_passes_and_perturbed_fails(exported, synth, tmp_path):
    model, path = exported("kitpose-w8-128")
    bad = _perturbed(path, tmp_path / "bad.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = verify_parity(model, [path, bad], *synth, batch_size=4, extra={"command": "x"})
    torch_row, good_row, bad_row = report["rows"]
    assert torch_row["backend"] == "torch" and report["instances"] == len(
        json.loads(synth[0].read_text())["annotations"])
    assert good_row["precision"] == "fp32" and good_row["gate"]["passed"], good_row["gate"]
    assert good_row["assign_agreement"] == 1.0 and good_row["heatmap_max_abs"] <= 1e-4
    assert not bad_row["gate"]["checks"]["heatmap_max_abs"]["passed"]
    assert report["exit_code"] == 1 and report["passed"] is False and report["command"] == "x"
    assert all("cpu_count" in row["system"] for row in report["rows"])


def test_truncated_and_unlabelled_onnx_are_named(exported, tmp_path):
    path = exported("kitpose-w8-128")[1]
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ExportFileError, match="cut.onnx"):
        onnx_precision(cut)
    bare = onnx.load(str(path))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(ExportFileError, match="bare.onnx: no kitpose metadata"):
        onnx_precision(tmp_path / "bare.onnx")


def test_wrong_size_and_missing_data_are_named(exported, synth, tmp_path):
    model, path = exported("kitpose-w8-128")
    other = onnx.load(str(path))
    for prop in other.metadata_props:
        if prop.key == "input_size":
            prop.value = "[32, 32]"
    onnx.save(other, str(tmp_path / "other.onnx"))
    with pytest.raises(ValueError, match="other.onnx: metadata input_size"):
        verify_parity(model, [tmp_path / "other.onnx"], *synth)
    with pytest.raises(ExportFileError, match="nope.json: annotations JSON not found"):
        verify_parity(model, [path], tmp_path / "nope.json", synth[1])


def test_verify_stage_writes_report_and_raises_on_a_failed_gate(exported, synth, tmp_path):
    from kitpose.export.gates import ParityError
    from kitpose.export.verify import verify

    model, path = exported("kitpose-w8-128")
    report = verify(path, tmp_path / "ok", model=model, annotations=synth[0], images=synth[1])
    assert report == tmp_path / "ok" / "parity.json" and json.loads(report.read_text())["passed"]
    bad = _perturbed(path, tmp_path / "bad.onnx")
    with pytest.raises(ParityError, match="bad.json: parity gate failed"):
        verify(bad, tmp_path / "bad.json", model=model, annotations=synth[0], images=synth[1])
    with pytest.raises(ValueError, match="pass model="):
        verify(path, tmp_path / "r.json", annotations=synth[0], images=synth[1])


@pytest.mark.trt
@pytest.mark.slow
def test_pipeline_to_verify_checks_the_engine_source(tmp_path):
    import importlib.util

    from kitpose.export import ExportConfig
    from kitpose.export.pipeline import run_pipeline

    if importlib.util.find_spec("tensorrt_rtx") is None:
        pytest.skip("tensorrt_rtx is not installed (pip install tensorrt-rtx-cu13)")
    from .conftest import META, small_model

    model = small_model("kitpose-w8-128")
    cfg = ExportConfig(precision="fp32", backend="tensorrt_rtx", compute_capability="8.6",
                       batch=(1, 2, 4), metadata=META)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = json.loads(run_pipeline(model, tmp_path, cfg, stop_after="verify").read_text())
    rows = {row["backend"]: row for row in report["rows"]}
    assert rows["onnxruntime-cpu"]["file"] == str(tmp_path / "model_fp32.onnx")
    assert rows["onnxruntime-cpu"]["gate"]["passed"]
    assert ("runtime" in rows["tensorrt"]["skipped"]) or rows["tensorrt"]["gate"] is not None
    assert "verify" in json.loads((tmp_path / "manifest.json").read_text())
