"""Official KITPose checkpoint import (github.com/Raojiyong/KITPose).

    model = from_official("2Encoder_w32_256x256.yaml", "final_state.pth")   # eval mode
    convert_official("2Encoder_w32_256x256.yaml", "final_state.pth", "kitpose_w32.pt")
    model = kitpose.models.load_model("kitpose_w32.pt")                     # kitpose's own format

The official YAML (yacs keys) gives every dim; the checkpoint's tensors are checked against them.
Official keys our model does not use are dropped on purpose: `bp_to_embeddings`, `bp_embeddings`
(dead modules) and `pos_embedding` (the fixed sine table, which we recompute after checking that the
stored one equals ours). Key layout: official_checkpoint_keys_w32_256x256.tsv in the shared design
documents (`../shared/docs/` beside the checkout).
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path

import torch
import yaml
from torch import Tensor

from kitpose.checkpoint import CheckpointError, save_checkpoint, torch_load_reason
from kitpose.config import ConfigError

from kitpose.models.hrnet import BLOCKS_PER_BRANCH, STAGE_MODULES
from kitpose.models.kitpose import KITPose, KITPoseConfig
from kitpose.models.layers import sine_table_1d

OFFICIAL_MODEL_NAME = "kitpose_part"
POS_KEY = "channelformer.pos_embedding"
# official keys of modules the official forward never runs
UNUSED_KEYS = ("channelformer.bp_to_embeddings.weight", "channelformer.bp_to_embeddings.bias",
               "channelformer.bp_embeddings")
# the stored sine table was computed in float32; a different formula differs by O(0.1)
POS_ATOL = 1e-4

# our state-dict key -> official key: (pattern, replacement), first match wins. The whole mapping.
KEY_RULES = (
    (r"^keypoint_head\.", "pre_feature.final_layer."),
    (r"^backbone\.", "pre_feature."),
    (r"^token_embed\.", "channelformer.kpt_to_embedding."),
    (r"^nano_block\.", "channelformer.prompt_learner.meta_net."),
    (r"^prompt_head\.", "channelformer.prompt_learner.prompt_head."),
    (r"^heatmap_head\.", "channelformer.mlp_head."),
    (r"^encoder\.(\d+)\.attn\.qkv\.", r"channelformer.transformer.layers.\1.attn.to_qkv."),
    (r"^encoder\.(\d+)\.attn\.proj\.", r"channelformer.transformer.layers.\1.attn.to_out.0."),
    (r"^encoder\.(\d+)\.mlp\.fc1\.", r"channelformer.transformer.layers.\1.ffn.net.0."),
    (r"^encoder\.(\d+)\.mlp\.fc2\.", r"channelformer.transformer.layers.\1.ffn.net.3."),
    (r"^encoder\.(\d+)\.norm([12])\.", r"channelformer.transformer.layers.\1.norm\2."),
)


def official_key(key: str) -> str:
    """Official checkpoint name of one of our KITPose state-dict keys.

    Args:
        key: a key of `KITPose.state_dict()`.

    Returns:
        the key an official KITPose checkpoint stores the same tensor under.
    """
    for pattern, replacement in KEY_RULES:
        new, count = re.subn(pattern, replacement, key)
        if count:
            return new
    raise KeyError(f"no official name for KITPose key {key!r}: add a rule to KEY_RULES")


def to_official_state_dict(model: KITPose) -> dict[str, Tensor]:
    """The state dict an official KITPose checkpoint would hold for `model` (all official keys).

    The dead official modules are filled with zeros; `pos_embedding` holds our sine table.

    Args:
        model: our KITPose.

    Returns:
        official key -> tensor (shapes as in the official code).
    """
    c = model.config
    hw = c.heatmap_size[0] * c.heatmap_size[1]
    state = {official_key(k): v for k, v in model.state_dict().items()}
    state["channelformer.bp_to_embeddings.weight"] = torch.zeros(c.dim, hw)
    state["channelformer.bp_to_embeddings.bias"] = torch.zeros(c.dim)
    state["channelformer.bp_embeddings"] = torch.zeros(1, c.num_clusters, c.dim)
    state[POS_KEY] = sine_table_1d(c.num_keypoints, c.dim)[None]  # (1, K, D)
    return state


# ---------------------------------------------------------------------------------------------
# official YAML


def _field(section: dict, name: str, path: Path, prefix: str = "MODEL"):
    if name not in section:
        raise ConfigError(f"{path}: official config lacks {prefix}.{name}")
    return section[name]


def _check_hrnet_extra(extra: dict, path: Path) -> int:
    """HRNet width C from MODEL.EXTRA, after checking the stages are the standard W-C layout."""
    if extra.get("FINAL_CONV_KERNEL", 1) != 1:
        raise ConfigError(f"{path}: MODEL.EXTRA.FINAL_CONV_KERNEL must be 1, "
                          f"got {extra['FINAL_CONV_KERNEL']}")
    stage2 = _field(extra, "STAGE2", path, "MODEL.EXTRA")
    width = int(_field(stage2, "NUM_CHANNELS", path, "MODEL.EXTRA.STAGE2")[0])
    for s, modules in STAGE_MODULES.items():
        stage = _field(extra, f"STAGE{s}", path, "MODEL.EXTRA")
        expected = {"NUM_MODULES": modules, "NUM_BRANCHES": s, "BLOCK": "BASIC",
                    "NUM_BLOCKS": [BLOCKS_PER_BRANCH] * s,
                    "NUM_CHANNELS": [width * 2 ** i for i in range(s)], "FUSE_METHOD": "SUM"}
        for key, want in expected.items():
            got = stage.get(key, want if key == "FUSE_METHOD" else None)
            if got != want:
                raise ConfigError(f"{path}: MODEL.EXTRA.STAGE{s}.{key} is {got!r}; kitpose's HRNet "
                                  f"supports only the standard layout, which needs {want!r}")
    return width


def _size_pair(model: dict, name: str, path: Path) -> tuple[int, int]:
    value = _field(model, name, path)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{path}: MODEL.{name} must be [w, h], got {value!r}")
    return int(value[0]), int(value[1])


def _check_variant(model: dict, path: Path) -> None:
    """Reject official variants kitpose does not build (other archs, learnable PE)."""
    name = model.get("NAME", OFFICIAL_MODEL_NAME)
    if name != OFFICIAL_MODEL_NAME:
        raise ConfigError(f"{path}: MODEL.NAME is {name!r}; only {OFFICIAL_MODEL_NAME!r} is "
                          f"supported")
    pos = model.get("POS_EMBEDDING_TYPE", "sine-full")
    if pos != "sine-full":
        raise ConfigError(f"{path}: MODEL.POS_EMBEDDING_TYPE is {pos!r}; only 'sine-full' is "
                          f"supported")


def _image_size(model: dict, path: Path) -> tuple[int, int]:
    """(h, w) from MODEL.IMAGE_SIZE [w, h], checked against HEATMAP_SIZE, PATCH_SIZE and DIM."""
    img_w, img_h = _size_pair(model, "IMAGE_SIZE", path)
    heatmap = (img_w // 4, img_h // 4)  # [w, h] like the YAML
    if "HEATMAP_SIZE" in model and _size_pair(model, "HEATMAP_SIZE", path) != heatmap:
        raise ConfigError(f"{path}: MODEL.HEATMAP_SIZE {model['HEATMAP_SIZE']} must be "
                          f"IMAGE_SIZE / 4 = {list(heatmap)}")
    pixels = heatmap[0] * heatmap[1]
    patch = model.get("PATCH_SIZE")
    if patch and int(patch[0]) * int(patch[1]) != pixels:
        raise ConfigError(f"{path}: MODEL.PATCH_SIZE {patch} must be the whole heatmap "
                          f"({heatmap[1]} x {heatmap[0]})")
    if int(_field(model, "DIM", path)) <= pixels // 16:
        # the official code then swaps in a two-layer heatmap head that kitpose does not build
        raise ConfigError(f"{path}: MODEL.DIM {model['DIM']} <= heatmap pixels / 16 selects the "
                          f"official two-layer heatmap head, which kitpose does not support")
    return img_h, img_w


def read_official_config(config_yaml: str | os.PathLike) -> KITPoseConfig:
    """Our KITPoseConfig from an official KITPose experiment YAML.

    Args:
        config_yaml: path of the official YAML (MODEL.IMAGE_SIZE is [w, h]).

    Returns:
        the matching KITPoseConfig.
    """
    path = Path(config_yaml)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("MODEL"), dict):
        raise ConfigError(f"{path}: not an official KITPose config (no MODEL section)")
    model = raw["MODEL"]
    _check_variant(model, path)
    return KITPoseConfig(
        width=_check_hrnet_extra(_field(model, "EXTRA", path), path),
        input_size=_image_size(model, path),
        num_keypoints=int(_field(model, "NUM_JOINTS", path)),
        num_clusters=int(_field(model, "NUM_BP", path)),
        dim=int(_field(model, "DIM", path)),
        depth=int(_field(model, "TRANSFORMER_DEPTH", path)),
        heads=int(model.get("TRANSFORMER_HEADS", 1)),
        mlp_ratio=int(model.get("TRANSFORMER_MLP_RATIO", 3)))


# ---------------------------------------------------------------------------------------------
# official checkpoint


def load_official_state_dict(checkpoint: str | os.PathLike) -> dict[str, Tensor]:
    """Tensors of an official `.pth`: a plain or `module.`-prefixed state dict, or one in a dict.

    The dict form holds the state dict under 'state_dict' (the official training checkpoints).

    Args:
        checkpoint: path of the `.pth` file (loaded with weights_only=True).

    Returns:
        official key (without `module.`) -> tensor.
    """
    try:
        obj = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - garbage bytes fail torch.load in many ways (IndexError too)
        raise CheckpointError(f"{checkpoint}: cannot read the official checkpoint (truncated or not a "
                              f"torch file?): {torch_load_reason(err)}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{checkpoint}: expected a state dict (key -> tensor), or a dict holding "
                              f"one under 'state_dict'")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _check_pos_embedding(stored: Tensor, config: KITPoseConfig, checkpoint) -> None:
    ours = sine_table_1d(config.num_keypoints, config.dim)[None]  # (1, K, D)
    if tuple(stored.shape) != tuple(ours.shape):
        raise CheckpointError(f"{checkpoint}: key {POS_KEY} has shape {tuple(stored.shape)}, the config "
                              f"implies {tuple(ours.shape)}")
    diff = (stored.float() - ours).abs().max().item()
    if diff > POS_ATOL:
        raise CheckpointError(f"{checkpoint}: {POS_KEY} is not the 1-D sine table kitpose recomputes "
                              f"(max abs diff {diff:.3g} > {POS_ATOL}); this checkpoint used another "
                              f"positional embedding and cannot be imported")


def _match_state(official: dict[str, Tensor], model: KITPose, checkpoint) -> dict[str, Tensor]:
    """Our state dict from official tensors; raises on missing, unexpected or mis-shaped keys."""
    ours = model.state_dict()
    names = {official_key(k): k for k in ours}  # official -> ours
    dropped = set(UNUSED_KEYS) | {POS_KEY}
    missing = sorted(set(names) - set(official))
    unexpected = sorted(set(official) - set(names) - dropped)
    if missing or unexpected:
        raise CheckpointError(f"{checkpoint}: key mismatch with the official KITPose layout; "
                              f"missing: {missing or 'none'}; unexpected: {unexpected or 'none'}")
    for off_key, our_key in names.items():
        got, want = tuple(official[off_key].shape), tuple(ours[our_key].shape)
        if got != want:
            raise CheckpointError(f"{checkpoint}: key {off_key} has shape {got}, but the config implies "
                                  f"{want}; the YAML does not describe this checkpoint")
    return {our_key: official[off_key] for off_key, our_key in names.items()}


def from_official(config_yaml: str | os.PathLike, checkpoint: str | os.PathLike) -> KITPose:
    """Our KITPose, in eval mode, carrying an official checkpoint's weights.

    Args:
        config_yaml: the official experiment YAML the checkpoint was trained with.
        checkpoint: the official `.pth`.

    Returns:
        KITPose in eval mode with outputs identical to the official model's.
    """
    config = read_official_config(config_yaml)
    official = load_official_state_dict(checkpoint)
    model = KITPose(config)
    state = _match_state(official, model, checkpoint)
    if POS_KEY in official:
        _check_pos_embedding(official[POS_KEY], config, checkpoint)
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---------------------------------------------------------------------------------------------
# kitpose checkpoint format


def convert_official(config_yaml: str | os.PathLike, checkpoint: str | os.PathLike,
                     out_path: str | os.PathLike) -> Path:
    """Convert an official KITPose checkpoint into kitpose's checkpoint format.

    Args:
        config_yaml: the official experiment YAML.
        checkpoint: the official `.pth`.
        out_path: where to write {"format", "arch", "config", "model"}.

    Returns:
        the written path.
    """
    model = from_official(config_yaml, checkpoint)
    return save_checkpoint(out_path, {"arch": "kitpose", "config": asdict(model.config),
                                      "model": model.state_dict()})
