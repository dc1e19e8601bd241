"""Episodes as a torch Dataset (training and evaluation) and the CAPE evaluation loop.

Every item is one (support shots, query) episode of one category with fixed-size tensors, so the
default collate batches episodes of different categories: keypoints are padded to 70 (the class's
own come first; `real` marks them) and the query's original keypoints to (70, 3) for scoring.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from kitpose.cape.padding import PADDED_K
from kitpose.cape.pck import pck_table
from kitpose.data.mp100 import CapeCategory, draw_episode, episode_sample, episodes_per_epoch
from kitpose.data.transforms import affine_points


class EpisodeDataset(Dataset):
    """Training: each epoch draws every category as often as the largest has instances (fresh draws
    per epoch, `set_epoch`). Evaluation (train=False): `episodes` fixed episodes per category."""

    def __init__(self, cats: dict[int, CapeCategory], shots: int, input_size: tuple[int, int], train: bool,
                 seed: int = 0, episodes: int = 0):
        if not cats:
            raise ValueError("EpisodeDataset: no category with a usable instance")
        if shots < 1:
            raise ValueError(f"EpisodeDataset: shots must be >= 1, got {shots}")
        self.cats, self.shots, self.size, self.train, self.seed = cats, shots, tuple(input_size), train, seed
        self.schedule = episodes_per_epoch(cats) if train else [c for c in sorted(cats) for _ in range(episodes)]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.schedule)

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, i])
        cat = self.cats[self.schedule[i]]
        supports, query = draw_episode(cat, self.shots, rng)
        s = episode_sample(cat, supports, query, self.size, rng, self.train)
        kps = np.zeros((PADDED_K, 3), np.float32)
        kps[:cat.num_keypoints] = s["query_keypoints"]
        return {"query": torch.from_numpy(s["query"]), "support": torch.from_numpy(s["support"]),
                "support_points": torch.from_numpy(s["support_points"]),
                "support_visible": torch.from_numpy(s["support_visible"]),
                "table": torch.from_numpy(s["table"]), "query_points": torch.from_numpy(s["query_points"]),
                "query_visible": torch.from_numpy(s["query_visible"]), "real": torch.from_numpy(s["real"]),
                "query_inverse": torch.from_numpy(s["query_inverse"]),
                "query_box": torch.from_numpy(np.asarray(s["query_box"], np.float64)),
                "query_keypoints": torch.from_numpy(kps), "category": cat.id}


def predict(model, batch: dict, device: torch.device) -> torch.Tensor:
    """The last layer's query points (B, 70, 2), normalised, for a collated batch."""
    out = model(batch["query"].to(device), batch["support"].to(device), batch["support_points"].to(device),
                batch["support_visible"].to(device), batch["table"].to(device))
    return out.points[-1].float().cpu()


def score_pairs(pred: torch.Tensor, batch: dict, input_size: tuple[int, int]) -> list[tuple]:
    """(pred, gt, query visible, support visible, box wh) per episode, in image pixels, real points only."""
    h, w = input_size
    pairs = []
    for b in range(len(pred)):
        k = int(batch["real"][b].sum())
        px = pred[b, :k].numpy() * np.array([w, h]) - 0.5  # crop pixels
        image_xy = affine_points(px, batch["query_inverse"][b].numpy())
        gt = batch["query_keypoints"][b, :k].numpy()
        box = batch["query_box"][b].numpy()
        pairs.append((image_xy, gt[:, :2], gt[:, 2] > 0, batch["support_visible"][b, :, :k].numpy(),
                      (box[2], box[3])))
    return pairs


@torch.no_grad()
def evaluate_cape(model, dataset: EpisodeDataset, batch_size: int, device: torch.device,
                  workers: int = 0) -> dict[str, float]:
    """PCK@{0.05,0.1,0.15,0.2} and mPCK of the last layer over the dataset's episodes."""
    from torch.utils.data import DataLoader

    was_training = model.training
    model.eval()
    pairs = []
    for batch in DataLoader(dataset, batch_size=batch_size, num_workers=workers):
        pairs += score_pairs(predict(model, batch, device), batch, dataset.size)
    model.train(was_training)
    return pck_table(pairs)
