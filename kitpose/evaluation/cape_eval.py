"""`kitpose eval --cape`: a category-agnostic model (FMMP) on the categories of a file, by PCK.

Each category gets `episodes` fixed (support shots, query) episodes drawn with `seed` (kitpose.cape.
episodes.EpisodeDataset, evaluation mode: no augmentation, equal-division padding); the query's
keypoints are predicted from the support alone and scored with PCK@{0.05..0.2} and mPCK
(kitpose.cape.pck: counted where visible in the query and every shot, normalised by the longer box
side). An MP-100-style file is scored per its own categories; any COCO keypoints file (one layout,
e.g. a real fixture dataset) can be scored as one category with `single_category`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from kitpose.errors import UserInputError


def load_cape_categories(annotations: str | Path, images: str | Path, single_category: bool = False) -> dict:
    """category id -> CapeCategory with at least 2 clean instances (an episode needs a support and a query)."""
    from kitpose.data.mp100 import episode_categories

    try:
        return episode_categories(annotations, images, single_category)
    except ValueError as err:
        raise UserInputError(f"--annotations {err}") from None


def evaluate_cape_model(model: nn.Module, annotations: str | Path, images: str | Path, shots: int = 1,
                        episodes: int = 10, seed: int = 0, batch_size: int = 16,
                        single_category: bool = False) -> dict[str, Any]:
    """PCK table of `model` on the file's categories.

    Args:
        model: an FMMP model.
        annotations, images: an MP-100-style file (or any COCO keypoints file with single_category)
            and the folder its file names are relative to.
        shots: support shots per episode; episodes: fixed episodes per category; seed: their draw.
    Returns:
        {"metrics": {"PCK@0.05", .., "PCK@0.2", "mPCK"}, "categories", "episodes", "shots", ...}.
    """
    from kitpose.cape.episodes import EpisodeDataset, evaluate_cape
    from kitpose.models.fmmp import FMMP

    if not isinstance(model, FMMP):
        raise UserInputError(f"--cape needs a category-agnostic model (fmmp-*, default-cape), got "
                             f"{type(model).__name__}")
    cats = load_cape_categories(annotations, images, single_category)
    data = EpisodeDataset(cats, shots, model.config.input_size, train=False, seed=seed, episodes=episodes)
    metrics = evaluate_cape(model, data, batch_size, torch.device("cpu"))
    return {"metrics": metrics, "annotations": str(annotations), "categories": len(cats),
            "episodes": len(data), "shots": shots, "seed": seed}
