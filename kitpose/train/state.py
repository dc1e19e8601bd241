"""What a training checkpoint holds beyond the weights, and how to put it back.

Resuming must continue bit-for-bit on CPU, so next to model/optimizer/scheduler/scaler state the
payload carries the torch, numpy and Python RNG states of every rank and the progress counters
(epoch, global step, batches already consumed in the current epoch). All of it is stored as
tensors, numbers and lists so `torch.load(weights_only=True)` reads it.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass
class Progress:
    """Counters of a run; `batch` is how many batches of `epoch` have been consumed."""
    epoch: int = 0
    step: int = 0
    batch: int = 0
    best_ap: float = -1.0


def capture_rng(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """RNG states of torch (CPU and CUDA), numpy, Python and the named `generators` (e.g. the
    cutmix one), in weights_only-safe types."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": version, "state": list(py_state), "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    state["generators"] = {name: g.get_state() for name, g in (generators or {}).items()}
    return state


def restore_rng(state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
    """Inverse of capture_rng(); `generators` are set in place from the saved states."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, generator in (generators or {}).items():
        generator.set_state(state["generators"][name])


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model under a DistributedDataParallel wrapper."""
    return model.module if hasattr(model, "module") else model


def training_payload(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                     scaler: Any, progress: Progress, rng: list[dict[str, Any]],
                     run_config: dict[str, Any]) -> dict[str, Any]:
    """Checkpoint dict in the shared kitpose format plus the training state.

    Args:
        model: the trained model (DDP wrapper or bare); must have `.config` (a dataclass).
        rng: capture_rng() of every rank, indexed by rank.
        run_config: config_to_dict() of the run's Config.
    Returns:
        The payload for kitpose.checkpoint.save_checkpoint().
    """
    bare = unwrap(model)
    return {
        "arch": type(bare).__name__.lower(),
        "config": _plain(asdict(bare.config)),
        "model": bare.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "progress": asdict(progress),
        "rng": rng,
        "run_config": run_config,
    }


def restore_training(payload: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: Any, scaler: Any, rank: int = 0,
                     generators: dict[str, torch.Generator] | None = None) -> Progress:
    """Load a training payload into fresh objects and restore this rank's RNG states.

    Returns:
        The Progress at which the checkpoint was written.
    """
    unwrap(model).load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    rng = payload["rng"]
    # A run resumed on more processes than it was saved from reuses rank 0's streams.
    restore_rng(rng[rank] if rank < len(rng) else rng[0], generators)
    return Progress(**payload["progress"])


def _plain(value: Any) -> Any:
    """Tuples to lists, so configs survive weights_only loading and YAML alike."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
