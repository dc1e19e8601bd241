"""kitpose.runtime imports and runs with torch blocked (an edge box has no PyTorch)."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys

    class _BlockTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")

    sys.meta_path.insert(0, _BlockTorch())
    sys.modules["torch"] = None
    import importlib
    import pkgutil

    import numpy as np
    import kitpose.runtime
    from kitpose.runtime import PoseEstimator

    for info in pkgutil.iter_modules(kitpose.runtime.__path__):  # every module imports torch-free
        importlib.import_module(f"kitpose.runtime.{info.name}")
    from kitpose.runtime.cli import infer_cmd

    import kitpose.native_calls as calls  # the launch layer ops and runtime share, on numpy buffers
    x = np.random.default_rng(0).random((2, 6, 3), dtype=np.float32)
    assign, medoids, means = np.empty((2, 6), np.int64), np.empty((2, 2), np.int64), np.empty((2, 2, 3), np.float32)
    ws = np.empty(max(1, calls.kmedoids_workspace_bytes((2, 6, 3), 2)), np.uint8)
    calls.launch_kmedoids("cpu", *map(calls.data_ptr, (x, assign, medoids, means, ws)), (2, 6, 3), 2, 40)
    assert (np.diff(medoids, axis=1) > 0).all() and set(assign.ravel()) <= {0, 1}, (assign, medoids)
    crops = np.empty((1, 3, 4, 5), np.float32)
    frame, mats = np.full((8, 10, 3), 255, np.uint8), np.eye(2, 3)[None]
    calls.launch_warp_affine("cpu", *map(calls.data_ptr, (frame, mats, crops)), (8, 10), 1, (4, 5), False,
                             (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert np.allclose(crops, 1.0), crops

    with PoseEstimator.from_file(sys.argv[1], flip_test=True) as est:
        frame = np.full((96, 128, 3), 90, np.uint8)
        poses = est(frame, [[10, 10, 60, 50], [0, 0, 128, 96]])
    assert poses.keypoints.shape == (2, 17, 3), poses.keypoints.shape
    assert np.isfinite(poses.keypoints).all()
    infer_cmd.main([sys.argv[2], "--model", sys.argv[1], "--out", sys.argv[3]], standalone_mode=False)
    loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    print("TORCH_MODULES", [m for m in loaded if sys.modules[m] is not None])
""")


def test_runtime_runs_without_torch(small_onnx, tmp_path):
    image = tmp_path / "img.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(image), np.full((64, 80, 3), 128, np.uint8))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(small_onnx), str(image), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TORCH_MODULES []" in proc.stdout
    assert (out / "poses.jsonl").read_text().count("\n") == 1
    assert (out / "coco_results.json").is_file()
