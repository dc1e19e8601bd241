"""Official KITPose checkpoint import: key layout, round trip, kitpose format, clear errors."""
import pytest
import torch
import yaml
from torch import nn

import kitpose.checkpoint
from kitpose.models.kitpose import KITPose, KITPoseConfig
from kitpose.checkpoint import FORMAT as CHECKPOINT_FORMAT
from kitpose.models import load_model
from kitpose.models.official import (convert_official, from_official, read_official_config,
                                     to_official_state_dict)

from helpers import OFFICIAL_KEYS_TSV as TSV
SMALL = KITPoseConfig(width=8, input_size=(64, 96), num_keypoints=5, num_clusters=2, dim=64,
                      depth=2)


def _tsv_shapes() -> dict[str, tuple]:
    rows = [line.rstrip("\n").split("\t") for line in open(TSV, encoding="utf-8")
            if not line.startswith("#")]
    return {key: tuple(int(v) for v in shape.strip("()").split(",") if v.strip())
            for key, shape in rows}


def _official_yaml(config: KITPoseConfig) -> dict:
    """An experiment YAML in the official layout (IMAGE_SIZE is [w, h])."""
    h, w = config.input_size
    c = config.width
    stages = {f"STAGE{s}": {"NUM_MODULES": m, "NUM_BRANCHES": s, "BLOCK": "BASIC",
                            "NUM_BLOCKS": [4] * s, "NUM_CHANNELS": [c * 2 ** i for i in range(s)],
                            "FUSE_METHOD": "SUM"} for s, m in ((2, 1), (3, 4), (4, 3))}
    return {"GPUS": "(0, 1)", "DATASET": {"DATASET": "ap10k"},
            "MODEL": {"NAME": "kitpose_part", "NUM_JOINTS": config.num_keypoints,
                      "NUM_BP": config.num_clusters, "TRANSFORMER_DEPTH": config.depth,
                      "TRANSFORMER_HEADS": config.heads, "TRANSFORMER_MLP_RATIO": config.mlp_ratio,
                      "POS_EMBEDDING_TYPE": "sine-full", "INIT": True, "DIM": config.dim,
                      "PATCH_SIZE": [h // 4, w // 4], "IMAGE_SIZE": [w, h],
                      "HEATMAP_SIZE": [w // 4, h // 4], "SIGMA": 2,
                      "EXTRA": {"FINAL_CONV_KERNEL": 1, **stages}}}


def _write_yaml(path, doc: dict):
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _trained_like(config: KITPoseConfig) -> KITPose:
    """A model with O(1) activations everywhere and calibrated BN statistics, so that every part,
    prompts included, moves the output (HRNet's N(0, 0.001) init leaves the heatmaps near zero)."""
    torch.manual_seed(1)
    model = KITPose(config)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
        for m in norms:
            m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
            m.momentum = 1.0  # running stats := the statistics of the calibration batch
        model.train()(torch.randn(4, config.in_channels, *config.input_size))
        for m in norms:
            m.momentum = 0.1
    return model.eval()


@pytest.fixture
def official_files(tmp_path):
    """(model, yaml path, official state dict) for the small config."""
    model = _trained_like(SMALL)
    cfg_path = _write_yaml(tmp_path / "exp.yaml", _official_yaml(SMALL))
    return model, cfg_path, to_official_state_dict(model)


def test_key_layout_matches_published_w32_checkpoint():
    config = KITPoseConfig(width=32, input_size=(256, 256), num_keypoints=17, num_clusters=4,
                           dim=1024, depth=2)
    with torch.device("meta"):
        model = KITPose(config)
    ours = {k: tuple(v.shape) for k, v in to_official_state_dict(model).items()}
    expected = _tsv_shapes()
    assert len(expected) == 1810
    assert ours == expected


def test_reads_official_yaml_fields(tmp_path):
    config = KITPoseConfig(width=48, input_size=(384, 288), num_keypoints=17, num_clusters=4,
                           dim=1728, depth=4, heads=2, mlp_ratio=2)
    assert read_official_config(_write_yaml(tmp_path / "e.yaml", _official_yaml(config))) == config


@pytest.mark.parametrize("layout", ["plain", "module-prefix", "state_dict-entry"])
def test_round_trip_gives_identical_outputs(official_files, tmp_path, layout):
    model, cfg_path, state = official_files
    if layout != "plain":
        state = {f"module.{k}": v for k, v in state.items()}
    if layout == "state_dict-entry":
        state = {"epoch": 210, "perf": 0.76, "state_dict": state}
    torch.save(state, tmp_path / "official.pth")
    imported = from_official(cfg_path, tmp_path / "official.pth")
    assert not imported.training and imported.config == SMALL
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        want, got = model(x), imported(x)
    # trivially small or exploding outputs would make the comparison vacuous
    assert want.heatmaps.std() > 1e-2 and 1e-2 < want.intermediate.std() < 1e3
    assert (want.heatmaps - got.heatmaps).abs().max() <= 1e-5
    assert torch.equal(want.assign, got.assign)


def test_convert_then_load_checkpoint(official_files, tmp_path):
    model, cfg_path, state = official_files
    torch.save(state, tmp_path / "official.pth")
    out = convert_official(cfg_path, tmp_path / "official.pth", tmp_path / "ours" / "kitpose.pt")
    saved = torch.load(out, weights_only=True)
    assert saved["format"] == CHECKPOINT_FORMAT and saved["arch"] == "kitpose"
    assert KITPoseConfig(**saved["config"]) == SMALL
    assert sorted((tmp_path / "ours").iterdir()) == [out]  # no temp file left behind
    assert kitpose.checkpoint.load_checkpoint(out)["arch"] == "kitpose"  # the trainer's reader
    loaded = load_model(out)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert (model(x).heatmaps - loaded(x).heatmaps).abs().max() <= 1e-5
    assert not loaded.training


def test_yaml_dim_disagreeing_with_tensors_names_key_and_shapes(official_files, tmp_path):
    _, _, state = official_files
    doc = _official_yaml(SMALL)
    doc["MODEL"]["DIM"] = 32
    torch.save(state, tmp_path / "official.pth")
    with pytest.raises(ValueError, match=r"channelformer\.\S+ has shape \(\d+, \d+\).*implies"):
        from_official(_write_yaml(tmp_path / "bad.yaml", doc), tmp_path / "official.pth")


def test_yaml_width_disagreeing_with_tensors(official_files, tmp_path):
    _, _, state = official_files
    wide = KITPoseConfig(**{**SMALL.__dict__, "width": 16})
    torch.save(state, tmp_path / "official.pth")
    with pytest.raises(ValueError, match=r"pre_feature\.\S+ has shape .*\(8,.*implies \(16,"):
        from_official(_write_yaml(tmp_path / "w.yaml", _official_yaml(wide)),
                      tmp_path / "official.pth")


@pytest.mark.parametrize("change,message", [
    ("drop", r"missing: \['channelformer.mlp_head.1.bias'\]"),
    ("add", r"unexpected: \['channelformer.extra.weight'\]"),
], ids=["missing-key", "unexpected-key"])
def test_key_mismatch_lists_the_keys(official_files, tmp_path, change, message):
    _, cfg_path, state = official_files
    if change == "drop":
        del state["channelformer.mlp_head.1.bias"]
    else:
        state["channelformer.extra.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "official.pth")
    with pytest.raises(ValueError, match=message):
        from_official(cfg_path, tmp_path / "official.pth")


def test_unused_official_keys_may_be_absent(official_files, tmp_path):
    model, cfg_path, state = official_files
    for key in ("channelformer.bp_embeddings", "channelformer.pos_embedding"):
        del state[key]
    torch.save(state, tmp_path / "official.pth")
    assert from_official(cfg_path, tmp_path / "official.pth").config == model.config


def test_different_positional_table_is_rejected(official_files, tmp_path):
    _, cfg_path, state = official_files
    state["channelformer.pos_embedding"] = torch.randn_like(state["channelformer.pos_embedding"])
    torch.save(state, tmp_path / "official.pth")
    with pytest.raises(ValueError, match="pos_embedding is not the 1-D sine table"):
        from_official(cfg_path, tmp_path / "official.pth")


@pytest.mark.parametrize("edit,field", [
    (lambda m: m["EXTRA"]["STAGE3"].update(NUM_MODULES=2), "STAGE3.NUM_MODULES"),
    (lambda m: m["EXTRA"]["STAGE4"].update(NUM_CHANNELS=[8, 16, 32, 48]), "STAGE4.NUM_CHANNELS"),
    (lambda m: m.update(POS_EMBEDDING_TYPE="learnable"), "POS_EMBEDDING_TYPE"),
    (lambda m: m.update(HEATMAP_SIZE=[48, 48]), "HEATMAP_SIZE"),
    (lambda m: m.pop("NUM_BP"), "NUM_BP"),
    (lambda m: m.update(NAME="kitpose_dense"), "NAME"),
    (lambda m: m.update(PATCH_SIZE=[4, 4]), "PATCH_SIZE"),
    (lambda m: m.update(DIM=16), "DIM"),  # 16 <= 384 / 16: the official two-layer head
], ids=["stage-modules", "stage-channels", "pos-type", "heatmap-size", "no-num-bp", "other-arch",
        "patched-tokens", "two-layer-head"])
def test_unsupported_yaml_names_the_field(tmp_path, edit, field):
    doc = _official_yaml(SMALL)
    edit(doc["MODEL"])
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        read_official_config(_write_yaml(tmp_path / "e.yaml", doc))


def test_non_state_dict_file_is_rejected(official_files, tmp_path):
    _, cfg_path, _ = official_files
    torch.save({"epoch": 3, "weights": [1, 2]}, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match="expected a state dict"):
        from_official(cfg_path, tmp_path / "odd.pth")


def test_load_model_rejects_official_files(official_files, tmp_path):
    _, _, state = official_files
    torch.save(state, tmp_path / "official.pth")
    with pytest.raises(ValueError, match="from_official"):
        load_model(tmp_path / "official.pth")
