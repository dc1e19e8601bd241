"""The torch-free CAPE (FMMP) runtime: parity with the PyTorch model on the crops training makes,
the cached support against re-encoding it, every bad input as one error naming its field, and
`kitpose infer --support`."""
import json
from dataclasses import asdict

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from kitpose.runtime.cape_graphs import CapeGraphs  # noqa: E402
from kitpose.runtime.cape_pipeline import CapePipeline  # noqa: E402
from kitpose.runtime.cape_support import Category, SupportError, SupportShot, read_support_file  # noqa: E402
from kitpose.runtime.metadata import ModelFileError  # noqa: E402
from kitpose.runtime.model_files import default_cape_checkpoint, resolve_cape_model  # noqa: E402

NAMES = ("nose", "neck", "tail", "front_paw", "back_paw")
SKELETON_1BASED = [[1, 2], [2, 3], [2, 4], [3, 5]]
SUPPORT_BOX = [30.0, 20.0, 100.0, 80.0]
SUPPORT_KPS = [[50, 40, 2], [70, 50, 2], [120, 60, 1], [60, 90, 2], [110, 95, 0]]
QUERY_BOXES = np.array([[10.0, 15.0, 90.0, 70.0], [80.0, 40.0, 70.0, 90.0]])


def _image(seed: int, hw=(140, 180)) -> np.ndarray:
    """A textured BGR frame (noise plus blurred blobs) so crops differ and points move."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (7, 7), 2.0)


@pytest.fixture(scope="module")
def fmmp():
    """fmmp-small with seeded random weights; the point updates get weights so the points move."""
    from kitpose.models import create_model

    torch.manual_seed(0)
    model = create_model("fmmp-small").eval()
    for update in model.updates:
        torch.nn.init.normal_(update.mlp[-1].weight, std=0.1)
    return model


@pytest.fixture(scope="module")
def cape_dir(fmmp, tmp_path_factory):
    from kitpose.export.cape_onnx import export_cape_onnx

    out = tmp_path_factory.mktemp("cape")
    export_cape_onnx(fmmp, out, shots=1)
    return out


@pytest.fixture(scope="module")
def checkpoint(fmmp, tmp_path_factory):
    from kitpose.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "fmmp_small.pt"
    return save_checkpoint(path, {"arch": "fmmp", "config": asdict(fmmp.config), "model": fmmp.state_dict()})


@pytest.fixture()
def support_files(tmp_path):
    """A support image and its COCO-style support file."""
    image = tmp_path / "support.png"
    frame = _image(1)
    cv2.imwrite(str(image), frame)
    doc = {"images": [{"id": 1, "file_name": "support.png", "width": frame.shape[1], "height": frame.shape[0]}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": SUPPORT_BOX,
                            "keypoints": [v for kp in SUPPORT_KPS for v in kp]}],
           "categories": [{"id": 1, "name": "critter", "keypoints": list(NAMES), "skeleton": SKELETON_1BASED}]}
    ann = tmp_path / "support.json"
    ann.write_text(json.dumps(doc))
    return image, ann, doc


def _shot() -> SupportShot:
    return SupportShot(_image(1), np.asarray(SUPPORT_KPS, np.float64), np.asarray(SUPPORT_BOX))


def _category(names=NAMES, skeleton=None) -> Category:
    links = [(i - 1, j - 1) for i, j in SKELETON_1BASED] if skeleton is None else skeleton
    return Category("critter", tuple(names), tuple(links))


def test_runtime_names_match_the_export():
    from kitpose.export import cape_onnx
    from kitpose.runtime import cape_graphs

    assert cape_graphs.SUPPORT_INPUTS == cape_onnx.SUPPORT_INPUTS
    assert cape_graphs.STATE_NAMES == cape_onnx.STATE_NAMES and cape_graphs.QUERY_INPUTS == cape_onnx.QUERY_INPUTS
    assert cape_graphs.POINTS_NAME == cape_onnx.POINTS_NAME


SECOND_SHOT_KPS = [[48, 45, 2], [72, 52, 2], [118, 66, 2], [58, 88, 0], [112, 92, 2]]  # another pose


def test_keypoints_match_pytorch_on_training_crops(fmmp, cape_dir, tmp_path):
    """The runtime crops as kitpose.data.mp100 does and its ORT keypoints equal the torch model's
    within 1e-3 of the crop side, in frame pixels."""
    poses = _assert_keypoints_match_pytorch(fmmp, cape_dir, tmp_path, [(_image(1), SUPPORT_KPS)])
    assert poses.keypoints[..., 2].tolist() == [[1, 1, 1, 1, 0]] * 2  # v = 0 in the support: score 0


def test_two_shot_keypoints_match_pytorch(fmmp, tmp_path):
    """A 2-shot export end to end: both support images cropped, padded and encoded as training does,
    the ORT keypoints equal the torch model's; a keypoint visible in either shot is scored."""
    from kitpose.export.cape_onnx import export_cape_onnx

    two_shot = tmp_path / "cape2"
    export_cape_onnx(fmmp, two_shot, shots=2)
    poses = _assert_keypoints_match_pytorch(fmmp, two_shot, tmp_path,
                                            [(_image(1), SUPPORT_KPS), (_image(6), SECOND_SHOT_KPS)])
    assert poses.keypoints[..., 2].tolist() == [[1, 1, 1, 1, 1]] * 2


def _assert_keypoints_match_pytorch(fmmp, cape_dir, tmp_path, shots: list[tuple[np.ndarray, list]]):
    """Run CapePipeline on a frame with `shots` (image, keypoints in SUPPORT_BOX) and compare its
    keypoints with fmmp's on the crops kitpose.data.mp100 makes; returns the runtime's poses."""
    from kitpose.cape.padding import equal_padding
    from kitpose.cape.structure import structure_table
    from kitpose.data.mp100 import Instance, crop
    from kitpose.data.transforms import sanitize_box

    frame = _image(2)
    query_path = tmp_path / "q.png"
    cv2.imwrite(str(query_path), frame)
    size = fmmp.config.input_size
    clean = lambda box, img: sanitize_box(box, img.shape[:2])  # noqa: E731 - as load_mp100 cleans boxes
    crops, runtime_shots = [], []
    for i, (image, points) in enumerate(shots):
        support_path = tmp_path / f"s{i}.png"
        cv2.imwrite(str(support_path), image)
        kps = np.asarray(points, np.float64)
        runtime_shots.append(SupportShot(image, kps.copy(), np.asarray(SUPPORT_BOX)))
        kps[kps[:, 2] <= 0] = 0.0  # as mp100's cleaning
        crops.append(crop(Instance(support_path, clean(SUPPORT_BOX, image), kps), size))
    category = _category()
    padded = equal_padding(np.stack([c["points"] for c in crops]), np.stack([c["visible"] for c in crops]),
                           category.skeleton)  # (S, 70, 2), (S, 70)
    table = structure_table(padded.links, padded.visible.any(0))
    queries = [crop(Instance(query_path, clean(box, frame), np.zeros((len(NAMES), 3))), size) for box in QUERY_BOXES]
    n = len(QUERY_BOXES)
    with torch.no_grad():
        out = fmmp(torch.from_numpy(np.stack([q["image"] for q in queries])),
                   torch.from_numpy(np.repeat(np.stack([c["image"] for c in crops])[None], n, 0)),
                   torch.from_numpy(np.repeat(padded.points[None], n, 0)),
                   torch.from_numpy(np.repeat(padded.visible[None], n, 0)),
                   torch.from_numpy(np.repeat(table[None], n, 0))).points[-1].numpy()  # (n, 70, 2)
    h, w = size
    expect = np.stack([(out[i, :len(NAMES)] * [w, h] - 0.5) @ q["inverse"][:, :2].T + q["inverse"][:, 2]
                       for i, q in enumerate(queries)])  # (n, K_c, 2) frame pixels
    with CapePipeline.from_folder(cape_dir, runtime_shots, category) as cape:
        poses = cape(frame, QUERY_BOXES)
    assert poses.keypoints.shape == (n, len(NAMES), 3)
    side = 1.25 * QUERY_BOXES[:, 2:].max(1)  # (n,) crop side in frame pixels
    err = np.abs(poses.keypoints[..., :2] - expect).max(axis=(1, 2))
    assert (err < 1e-3 * side).all(), (err, side)
    assert np.abs(out[:, :len(NAMES)] - 0.5).max() > 1e-2  # the points did move
    return poses


def test_cached_and_reencoded_support_give_identical_keypoints(cape_dir):
    frames = [_image(3), _image(4)]
    with CapePipeline.from_folder(cape_dir, [_shot()], _category()) as cached, \
            CapePipeline.from_folder(cape_dir, [_shot()], _category(), reencode=True) as fresh:
        for frame in frames:
            a, b = cached(frame, QUERY_BOXES), fresh(frame, QUERY_BOXES)
            np.testing.assert_array_equal(a.keypoints, b.keypoints)
            np.testing.assert_array_equal(a.boxes, b.boxes)


def test_max_batch_splits_give_the_same_keypoints(cape_dir):
    boxes = np.concatenate([QUERY_BOXES, QUERY_BOXES + 5])
    with CapePipeline.from_folder(cape_dir, [_shot()], _category()) as whole, \
            CapePipeline.from_folder(cape_dir, [_shot()], _category(), max_batch=3) as split:
        np.testing.assert_allclose(split(_image(5), boxes).keypoints, whole(_image(5), boxes).keypoints, atol=1e-4)


@pytest.mark.parametrize("shots,category,match", [
    ([], _category(), "empty"),
    ([SupportShot(_image(1), np.asarray(SUPPORT_KPS) * [1, 1, 0], np.asarray(SUPPORT_BOX))], _category(),
     "no visible keypoint"),
    ([SupportShot(_image(1), np.zeros((71, 3)), np.asarray(SUPPORT_BOX))], _category([f"k{i}" for i in range(71)], []),
     "1 to 70"),
    ([_shot()], _category(skeleton=[(0, 1), (1, 5)]), r"skeleton\[1\]"),
    ([SupportShot(_image(1), np.asarray(SUPPORT_KPS[:4]), np.asarray(SUPPORT_BOX))], _category(), "3 x 5"),
    ([_shot(), _shot()], _category(), "exported for 1"),
    ([SupportShot(_image(1), np.asarray(SUPPORT_KPS), np.asarray([500.0, 500, 50, 50]))], _category(),
     "outside"),
], ids=["empty", "nothing-visible", "71-keypoints", "skeleton-index", "count-mismatch", "shots", "box-outside"])
def test_bad_support_is_an_error_naming_the_field(cape_dir, shots, category, match):
    graphs = CapeGraphs(cape_dir)
    with pytest.raises(SupportError, match=match):
        CapePipeline(graphs, shots, category)


def test_missing_graph_file_is_named(cape_dir, tmp_path):
    (tmp_path / "support.onnx").write_bytes((cape_dir / "support.onnx").read_bytes())
    with pytest.raises(ModelFileError, match="query.onnx"):
        CapeGraphs(tmp_path)


def test_missing_default_cape_is_one_clear_error(monkeypatch, tmp_path):
    """As an install without the asset meets it (the asset is pointed at a path that does not exist)."""
    import kitpose.models
    import kitpose.runtime.model_files as model_files

    monkeypatch.setattr(model_files, "default_cape_checkpoint", lambda: tmp_path / "default_cape.pt")
    monkeypatch.setattr(kitpose.models, "DEFAULT_CAPE_CHECKPOINT", tmp_path / "default_cape.pt")
    with pytest.raises(ModelFileError, match="default CAPE model is missing"):
        resolve_cape_model("default-cape")
    with pytest.raises(FileNotFoundError, match="default CAPE model .* is missing"):
        kitpose.models.load_model("default-cape")


def test_the_shipped_default_cape_resolves(tmp_path):
    assert default_cape_checkpoint().is_file()
    folder = resolve_cape_model("default-cape", cache=tmp_path)
    assert (folder / "support.onnx").is_file() and (folder / "query.onnx").is_file()


def test_a_heatmap_checkpoint_is_not_a_cape_model(tmp_path):
    from kitpose.checkpoint import save_checkpoint
    from kitpose.models import create_model

    model = create_model("kitpose-w8-128")
    path = save_checkpoint(tmp_path / "kp.pt", {"arch": "kitpose", "config": asdict(model.config),
                                                "model": model.state_dict()})
    with pytest.raises(ModelFileError, match="not a category-agnostic"):
        resolve_cape_model(str(path), cache=tmp_path / "cache")


def test_support_file_reads_coco_one_based_links(support_files):
    image, ann, _ = support_files
    shot, category = read_support_file(ann, image)
    assert category.keypoint_names == NAMES and category.skeleton == ((0, 1), (1, 2), (1, 3), (2, 4))
    assert shot.keypoints.shape == (5, 3) and shot.box.tolist() == SUPPORT_BOX


@pytest.mark.parametrize("edit,match", [
    (lambda d: d["categories"][0].update(skeleton=[[0, 1]]), r"categories\[0\]\.skeleton\[0\]"),
    (lambda d: d["categories"][0].update(skeleton=[[1, 6]]), r"categories\[0\]\.skeleton\[0\]"),
    (lambda d: d["categories"][0].update(keypoints=[f"k{i}" for i in range(71)]), "at most 70"),
    (lambda d: d["annotations"][0].update(keypoints=[1, 2, 2]), r"annotations\[0\]\.keypoints has 3 values"),
    (lambda d: d["annotations"][0].update(keypoints=[0] * 15), "no visible keypoint"),
    (lambda d: d["annotations"][0].pop("bbox"), "lacks field 'bbox'"),
    (lambda d: d.update(annotations=[]), "'annotations' must be a list of exactly one"),
    (lambda d: d["images"][0].update(width=999), r"images\[0\] is 999x"),
], ids=["zero-index", "past-end", "71-names", "count", "invisible", "no-bbox", "no-annotation", "wrong-image"])
def test_bad_support_file_names_file_and_field(support_files, edit, match):
    image, ann, doc = support_files
    edit(doc)
    ann.write_text(json.dumps(doc))
    with pytest.raises(SupportError, match=match) as info:
        read_support_file(ann, image)
    assert str(ann) in str(info.value)


def test_infer_with_support_writes_k_keypoints_per_box(checkpoint, support_files, tmp_path, monkeypatch):
    """`kitpose infer` with --support and an FMMP checkpoint (exported once to the cache)."""
    from kitpose.cli import main

    monkeypatch.setenv("KITPOSE_CACHE", str(tmp_path / "cache"))
    image, ann, _ = support_files
    frame = tmp_path / "frame.png"
    cv2.imwrite(str(frame), _image(6))
    out = tmp_path / "out"
    args = ["infer", str(frame), "--support", str(image), "--support-keypoints", str(ann), "--model",
            str(checkpoint), "--boxes", "10,15,90,70;80,40,70,90", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "poses.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and len(rows[0]["instances"]) == 2
    assert all(np.asarray(i["keypoints"]).shape == (len(NAMES), 3) for i in rows[0]["instances"])
    assert (out / "overlays" / "frame.jpg").is_file()
    assert len(list((tmp_path / "cache" / "cape").iterdir())) == 1  # exported once, cached


@pytest.mark.parametrize("edit,flag", [
    (lambda d: d["categories"][0].update(skeleton=[[1, 9]]), "--support-keypoints"),
    (None, "--model"),
], ids=["bad-skeleton", "missing-model"])
def test_infer_support_errors_are_one_line(cape_dir, support_files, tmp_path, edit, flag):
    from kitpose.cli import main

    image, ann, doc = support_files
    if edit is not None:
        edit(doc)
        ann.write_text(json.dumps(doc))
    model = tmp_path / "nowhere" if flag == "--model" else cape_dir
    frame = tmp_path / "frame.png"
    cv2.imwrite(str(frame), _image(6))
    result = CliRunner().invoke(main, ["infer", str(frame), "--support", str(image), "--support-keypoints",
                                       str(ann), "--model", str(model)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and flag in result.output


def test_cape_model_without_support_is_a_usage_error(tmp_path):
    from kitpose.cli import main

    frame = tmp_path / "frame.png"
    cv2.imwrite(str(frame), _image(6))
    result = CliRunner().invoke(main, ["infer", str(frame), "--model", "default-cape"])
    assert result.exit_code == 2 and "--support" in result.output and "Traceback" not in result.output
