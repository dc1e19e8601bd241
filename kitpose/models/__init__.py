"""Model table and factory.

Which module owns which job. This file holds the preset table (MODELS) and the factory
(`create_model`, `load_model`). Architectures: `kitpose.py` (KITPose), `transpose.py` (TransPose),
`btranspose.py` (BTranspose), `fmmp.py` with `fmmp_layers.py` (FMMP, category-agnostic). Their
building blocks: `hrnet.py` (the HRNet backbone), `resnet.py` and `pyramid.py` (ResNet pieces and
the feature pyramid), `layers.py` (transformer pieces), `deformable.py` (multi-scale deformable
attention). `output.py` is the one output convention of every heatmap model, `official.py` imports
official KITPose checkpoints, `complexity.py` counts parameters and compute.

Dimension letters used across kitpose: B batch, N points or instances, K keypoints, C clusters
(body parts) or channels, D feature dim, H/W heatmap size, h/w image size. Sizes are (h, w).

    model = create_model("kitpose-w32-256")            # a preset
    model = create_model("kitpose-w32-256", input_size=(256, 192), num_keypoints=20)
    model = load_model("default")                         # the embedded default, trained weights
    model = load_model("runs/ap10k/best.pt")             # any kitpose checkpoint
    model = from_official("w32_256x256.yaml", "final_state.pth")
"""
from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from kitpose.errors import UserInputError
from kitpose.models.output import PoseOutput


def archs() -> dict[str, tuple[type, type]]:
    """arch name -> (config class, model class). Imported on use, so `kitpose.models.<module>`
    can be imported on its own without building every architecture's module."""
    from kitpose.models.btranspose import BTranspose, BTransposeConfig
    from kitpose.models.fmmp import FMMP, FMMPConfig
    from kitpose.models.kitpose import KITPose, KITPoseConfig
    from kitpose.models.transpose import TransPose, TransPoseConfig

    return {
        "kitpose": (KITPoseConfig, KITPose),
        "transpose": (TransPoseConfig, TransPose),
        "btranspose": (BTransposeConfig, BTranspose),
        "fmmp": (FMMPConfig, FMMP),
    }

# preset name -> (arch, config fields). Paper figures in comments: params (M) / "GFLOPs" (paper convention).
MODELS: dict[str, tuple[str, dict]] = {
    # KITPose-E2C4 on AP-10K (KITPose Table 2): 68.41 / 9.51, 103.47 / 19.50, 115.60 / 21.38.
    "kitpose-w32-256": ("kitpose", dict(width=32, input_size=(256, 256), num_keypoints=17,
                                        num_clusters=4, dim=1024, depth=2)),
    "kitpose-w48-256": ("kitpose", dict(width=48, input_size=(256, 256), num_keypoints=17,
                                        num_clusters=4, dim=1024, depth=2)),
    "kitpose-w32-384": ("kitpose", dict(width=32, input_size=(384, 384), num_keypoints=17,
                                        num_clusters=4, dim=1024, depth=2)),
    # The embedded default model's shape: small enough to train on a 2-core CPU in 30 minutes
    # (HRNet-W8 with a halved stage 1: 0.36 s per batch of 16 there, against 0.77 s for W16 + full
    # stage 1; 3.06 M parameters).
    "kitpose-w8-128": ("kitpose", dict(width=8, input_size=(128, 128), num_keypoints=17,
                                       num_clusters=4, dim=128, depth=2, stage1_planes=32,
                                       stage1_blocks=2)),
    # TransPose on COCO 256x192 (TransPose paper): 5.2 M, 6.0 M, 8.0 M, 17.3 M, 17.5 M.
    "transpose-r-a3": ("transpose", dict(backbone="resnet", input_size=(256, 192), num_keypoints=17,
                                         dim=256, depth=3, heads=8, ffn_dim=1024)),
    "transpose-r-a4": ("transpose", dict(backbone="resnet", input_size=(256, 192), num_keypoints=17,
                                         dim=256, depth=4, heads=8, ffn_dim=1024)),
    "transpose-h-s": ("transpose", dict(backbone="hrnet", width=32, input_size=(256, 192),
                                        num_keypoints=17, dim=64, depth=4, heads=1, ffn_dim=128)),
    "transpose-h-a4": ("transpose", dict(backbone="hrnet", width=48, input_size=(256, 192),
                                         num_keypoints=17, dim=96, depth=4, heads=1, ffn_dim=192)),
    "transpose-h-a6": ("transpose", dict(backbone="hrnet", width=48, input_size=(256, 192),
                                         num_keypoints=17, dim=96, depth=6, heads=1, ffn_dim=192)),
    # BTranspose C3A1(4) on COCO 256x192: ~10.1 M.
    "btranspose-c3a1": ("btranspose", dict(input_size=(256, 192), num_keypoints=17)),
    # Category-agnostic pose (FMMP): the paper's size on ResNet-50 (40.8 M parameters, 16.4 M outside
    # the backbone; the spec estimates 41 / 17), and a small one that trains on a 2-core CPU.
    "fmmp-r50": ("fmmp", dict()),
    "fmmp-small": ("fmmp", dict(input_size=(128, 128), dim=64, heads=4, ffn=128, planes=(16, 32, 64, 128),
                                blocks=(1, 1, 1, 1), start="similarity")),
}
# the presets that map a crop to heatmaps (every arch but the category-agnostic one)
HEATMAP_ARCHS = ("kitpose", "transpose", "btranspose")


def list_models(arch_names: tuple[str, ...] | None = None) -> list[str]:
    """Names accepted by create_model(), optionally only those of the given archs."""
    return sorted(n for n, (arch, _) in MODELS.items() if arch_names is None or arch in arch_names)


def create_model(name: str, **overrides) -> nn.Module:
    """Build a preset from MODELS, with any config field overridden by keyword."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    arch, fields = MODELS[name]
    config_cls, model_cls = archs()[arch]
    try:
        config = config_cls(**{**fields, **overrides})
    except TypeError as err:  # an override that is not a field of this architecture
        raise TypeError(f"{name}: {err}; fields of {config_cls.__name__}: "
                        f"{', '.join(config_cls.__dataclass_fields__)}") from None
    return model_cls(config)


# The embedded default model: a small KITPose trained on `kitpose synth` data (see README).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "default.pt"
# The embedded default category-agnostic model (FMMP), "default-cape".
DEFAULT_CAPE_CHECKPOINT = DEFAULT_CHECKPOINT.with_name("default_cape.pt")


def model_from_checkpoint(payload: dict, source: str = "<checkpoint>") -> nn.Module:
    """Build the model a kitpose checkpoint payload describes and load its weights (eval mode)."""
    table = archs()
    arch = payload.get("arch")
    if arch not in table:
        raise ValueError(f"{source}: unknown arch {arch!r}; known: {', '.join(table)}")
    if not isinstance(payload.get("config"), dict):
        raise ValueError(f"{source}: checkpoint config is {type(payload.get('config')).__name__}, "
                         "expected the model config as a dict; it cannot be rebuilt")
    config_cls, model_cls = table[arch]
    config = dict(payload["config"])
    if "input_size" in config:  # YAML/pickle round trips turn tuples into lists
        config["input_size"] = tuple(config["input_size"])
    model = model_cls(config_cls(**config))
    try:
        model.load_state_dict(payload["model"], strict=True)
    except (RuntimeError, KeyError) as err:
        raise ValueError(f"{source}: weights do not fit {arch} {payload['config']}: {err}") from None
    return model.eval()


def load_model(spec: str | os.PathLike) -> nn.Module:
    """A model from "default", "default-cape", a kitpose checkpoint path, or a preset name (random weights).

    Args:
        spec: "default" (the embedded model), "default-cape" (the embedded FMMP model), a path to a
            kitpose checkpoint, or a MODELS name.
    Returns:
        the model in eval mode.
    """
    from kitpose.checkpoint import load_checkpoint

    if str(spec) == "default":
        if not DEFAULT_CHECKPOINT.is_file():
            raise FileNotFoundError(f"the embedded default model {DEFAULT_CHECKPOINT} is missing; "
                                    "reinstall kitpose or train it (see README, 'The default model')")
        return model_from_checkpoint(load_checkpoint(DEFAULT_CHECKPOINT), str(DEFAULT_CHECKPOINT))
    if str(spec) == "default-cape":
        if not DEFAULT_CAPE_CHECKPOINT.is_file():
            raise FileNotFoundError(f"the embedded default CAPE model {DEFAULT_CAPE_CHECKPOINT} is missing; "
                                    "reinstall kitpose, or pass an FMMP checkpoint or exported CAPE folder")
        return model_from_checkpoint(load_checkpoint(DEFAULT_CAPE_CHECKPOINT), str(DEFAULT_CAPE_CHECKPOINT))
    if str(spec) in MODELS:
        return create_model(str(spec)).eval()
    if Path(spec).exists():
        return model_from_checkpoint(load_checkpoint(spec), str(spec))
    raise UserInputError(f"{spec!r} is neither 'default', 'default-cape', a preset ({', '.join(list_models())}) "
                         "nor an existing checkpoint file")


def from_official(config_yaml: str | os.PathLike, checkpoint: str | os.PathLike) -> nn.Module:
    """An official KITPose experiment YAML + .pth as our model, in eval mode (see models/official.py)."""
    from kitpose.models.official import from_official as _from_official

    return _from_official(config_yaml, checkpoint)


def convert_official(config_yaml: str | os.PathLike, checkpoint: str | os.PathLike,
                     out_path: str | os.PathLike) -> Path:
    """Write an official KITPose checkpoint as a kitpose checkpoint (see models/official.py)."""
    from kitpose.models.official import convert_official as _convert_official

    return _convert_official(config_yaml, checkpoint, out_path)


__all__ = ["DEFAULT_CAPE_CHECKPOINT", "DEFAULT_CHECKPOINT", "HEATMAP_ARCHS", "MODELS", "archs", "convert_official",
           "from_official", "load_model", "model_from_checkpoint", "PoseOutput", "create_model", "list_models"]
