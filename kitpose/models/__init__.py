"""Model table and factory.

Dimension letters used across kitpose: B batch, N points or instances, K keypoints, C clusters
(body parts) or channels, D feature dim, H/W heatmap size, h/w image size. Sizes are (h, w).

    model = create_model("kitpose-w32-256")            # a preset
    model = create_model("kitpose-w32-256", input_size=(256, 192), num_keypoints=20)
"""
from __future__ import annotations

from torch import nn

from kitpose.models.btranspose import BTranspose, BTransposeConfig
from kitpose.models.kitpose import KITPose, KITPoseConfig
from kitpose.models.output import PoseOutput
from kitpose.models.transpose import TransPose, TransPoseConfig

# arch name -> (config class, model class)
ARCHS = {
    "kitpose": (KITPoseConfig, KITPose),
    "transpose": (TransPoseConfig, TransPose),
    "btranspose": (BTransposeConfig, BTranspose),
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
}


def list_models() -> list[str]:
    """Names accepted by create_model()."""
    return sorted(MODELS)


def create_model(name: str, **overrides) -> nn.Module:
    """Build a preset from MODELS, with any config field overridden by keyword."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    arch, fields = MODELS[name]
    config_cls, model_cls = ARCHS[arch]
    try:
        config = config_cls(**{**fields, **overrides})
    except TypeError as err:  # an override that is not a field of this architecture
        raise TypeError(f"{name}: {err}; fields of {config_cls.__name__}: "
                        f"{', '.join(config_cls.__dataclass_fields__)}") from None
    return model_cls(config)


__all__ = ["ARCHS", "MODELS", "PoseOutput", "create_model", "list_models"]
