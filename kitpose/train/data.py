"""Training and validation datasets from a Config (optionally generating the synthetic set)."""
from __future__ import annotations

import logging
from pathlib import Path

from kitpose.config import Config, ConfigError
from kitpose.train.distributed import DistContext, barrier

log = logging.getLogger("kitpose.train")


def ensure_synthetic(json_path: str, image_dir: str, count: int, seed: int,
                     image_size: tuple[int, ...], split: str) -> None:
    """Generate `count` synthetic images when `json_path` does not exist yet.

    kitpose.data.synthetic writes `<root>/images/` and `<root>/annotations/<split>.json`, so the
    config's paths must follow that layout.
    """
    json_file, images = Path(json_path), Path(image_dir)
    if count <= 0 or json_file.exists():
        return
    root = json_file.parent.parent
    if json_file != root / "annotations" / f"{split}.json" or images != root / "images":
        raise ConfigError(f"data: synthetic {split} split needs paths <root>/annotations/{split}.json "
                          f"and <root>/images; got {json_file} and {images}")
    from kitpose.data.synthetic import generate_dataset

    log.info("generating %d synthetic %s images under %s", count, split, root)
    generate_dataset(root, count, seed, tuple(image_size), split)


def build_datasets(cfg: Config, input_size, heatmap_size, ctx: DistContext):
    """TopDownDataset for training (augmented) and validation (None without val_json).

    Args:
        cfg: run config (data, aug, train.seed).
        input_size: (h, w) model input; heatmap_size: (H, W) model output.
        ctx: only rank 0 generates synthetic data; the others wait.
    Returns:
        (train_set, val_set or None).
    """
    from kitpose.data.dataset import AugmentConfig
    from kitpose.data.metadata import DATASETS

    data, aug = cfg.data, cfg.aug
    if data.dataset not in DATASETS:
        raise ConfigError(f"data.dataset: unknown dataset {data.dataset!r}; choose one of "
                          f"{', '.join(sorted(DATASETS))}")
    if ctx.is_main:
        ensure_synthetic(data.train_json, data.train_images, data.synth_train, cfg.train.seed,
                         data.synth_image_size, "train")
        if data.val_json:
            ensure_synthetic(data.val_json, data.val_images, data.synth_val, cfg.train.seed + 1,
                             data.synth_image_size, "val")
    barrier(ctx)
    for key in ("train_json", "val_json"):
        path = getattr(data, key)
        if path and not Path(path).is_file():
            raise ConfigError(f"data.{key}: {path} does not exist; give the annotation JSON of the split "
                              "(or synth_train/synth_val to generate synthetic data there)")
    info = DATASETS[data.dataset]
    augment = AugmentConfig(flip_prob=aug.flip, half_body_prob=aug.half_body_prob,
                            scale_factor=aug.scale_factor, rot_factor=aug.rotation_factor,
                            rot_prob=aug.rotation_prob)
    common = dict(info=info, input_size=tuple(input_size), heatmap_size=tuple(heatmap_size),
                  sigma=data.sigma, seed=cfg.train.seed)
    train_set = _dataset("train", data.train_json, data.train_images, train=True, aug=augment, **common)
    val_set = (_dataset("val", data.val_json, data.val_images, train=False, **common)
               if data.val_json else None)
    return train_set, val_set


def _dataset(split: str, json_path: str, image_dir: str, **kwargs):
    """TopDownDataset whose no-usable-sample error names the config key of its image folder."""
    from kitpose.data.dataset import NoSampleError, TopDownDataset

    try:
        return TopDownDataset(json_path, image_dir, **kwargs)
    except NoSampleError as err:
        raise ConfigError(f"data.{split}_images: {err}") from None
