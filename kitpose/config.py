"""Run configuration: one flat YAML file per run, read into frozen dataclasses (no inheritance).

A config file has up to five sections (`model`, `data`, `aug`, `train`, `output`); every key of a
section is a field of the matching dataclass below. Unknown keys, wrong types and values out of
range (`_BOUNDS`) are errors that name the file and the key. The resolved config is written beside
every run's outputs.

Also holds the fixed tensor names shared by the ONNX exporter, the engines and the runtimes.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from kitpose.errors import UserInputError

# Fixed graph I/O names (ONNX, TensorRT engines, runtimes).
INPUT_NAME = "input"
HEATMAPS_NAME = "heatmaps"
ASSIGN_NAME = "assign"


class ConfigError(UserInputError):
    """A config file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ModelSection:
    name: str                                           # a preset of kitpose.models.MODELS
    overrides: dict[str, Any] = field(default_factory=dict)  # config fields replacing the preset's
    init: str = ""  # fine-tuning: start from "default" or a kitpose checkpoint of the same architecture
    init_partial: bool = False  # with init: load the tensors whose shapes match (e.g. other K), rest fresh


@dataclass(frozen=True)
class DataSection:
    dataset: str                        # key of kitpose.data.metadata.DATASETS (sigmas, flip pairs), or
                                        # "mp100": category-agnostic episodes (FMMP, kitpose.train.cape)
    train_json: str
    train_images: str
    val_json: str = ""                  # empty: no validation
    val_images: str = ""
    sigma: float = 2.0                  # Gaussian target sigma in heatmap pixels
    synth_train: int = 0                # > 0: generate this many synthetic train images if missing
                                        # (mp100: images per synthetic category)
    synth_val: int = 0                  # > 0: same for the val split
    synth_image_size: tuple[int, ...] = (256, 256)  # (h, w) of generated images
    shots: int = 1                      # mp100: support shots per episode
    val_episodes: int = 10              # mp100: fixed validation episodes per category


@dataclass(frozen=True)
class AugSection:
    flip: float = 0.5                   # horizontal flip probability
    scale_factor: float = 0.5           # s *= clip(1 + N(0,1) sf, 1 - sf, 1 + sf)
    rotation_factor: float = 40.0       # degrees; r = clip(N(0,1) rf, -2 rf, 2 rf)
    rotation_prob: float = 0.6
    half_body_prob: float = 0.3
    cutmix: bool = True                 # KITPose's every-batch cutmix (spec 9.3)


@dataclass(frozen=True)
class TrainSection:
    epochs: int = 250
    batch_size: int = 64                # per process (per GPU)
    lr: float = 5e-4
    scheduler: str = "multistep"        # "multistep" or "cosine"
    milestones: tuple[int, ...] = (200, 230)
    gamma: float = 0.1
    lr_end: float = 5e-6                # cosine floor
    warmup_iters: int = 0               # linear warm-up: step i runs at the schedule's lr x (i+1)/N; 0: none
    weight_decay: float = 0.0           # the official code passes none (spec 11)
    grad_clip: float = 0.0              # max global grad norm; 0 disables
    amp: bool = True                    # mixed precision, used only on CUDA
    workers: int = 4
    seed: int = 0
    val_every: int = 1                  # epochs between validations; 0 disables
    val_batch_size: int = 32
    flip_test: bool = True
    sync_bn: bool = False               # SyncBatchNorm under DDP
    log_every: int = 50                 # steps between CSV/TensorBoard rows
    save_every: int = 1                 # epochs between `last.pt` checkpoints
    device: str = "auto"                # "auto", "cpu", "cuda"
    # "kitpose": GHRL on the intermediate + adaptive-weight loss on the final heatmaps (spec 9), MSE
    # for single-head peers. "mse": target-weighted 0.5*MSE on every head (faster to start from scratch).
    loss: str = "kitpose"


@dataclass(frozen=True)
class OutputSection:
    dir: str = "runs/kitpose"


@dataclass(frozen=True)
class Config:
    model: ModelSection
    data: DataSection
    aug: AugSection = AugSection()
    train: TrainSection = TrainSection()
    output: OutputSection = OutputSection()


SECTIONS: dict[str, type] = {"model": ModelSection, "data": DataSection, "aug": AugSection,
                             "train": TrainSection, "output": OutputSection}


def _type_ok(value: Any, hint: Any) -> tuple[bool, Any]:
    """Whether `value` fits `hint`; returns (ok, value converted to the field's type)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(hint):
            ok, converted = _type_ok(value, option)
            if ok:
                return True, converted
        return False, value
    if hint is Any:
        return True, value
    if hint is type(None):
        return value is None, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if hint is str:
        return isinstance(value, str), value
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, (list, tuple)):
            return False, value
        pairs = [_type_ok(v, item) for v in value]
        return all(ok for ok, _ in pairs), tuple(v for _, v in pairs)
    if origin is dict:
        return isinstance(value, dict), dict(value) if isinstance(value, dict) else value
    raise TypeError(f"config field type {hint!r} is not supported by the loader")


def _build_section(cls: type, raw: Any, where: str) -> Any:
    """One section dataclass from its YAML mapping; `where` is "file: section" for messages."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(names))}")
    values = {}
    for key, value in raw.items():
        ok, converted = _type_ok(value, hints[key])
        if not ok:
            raise ConfigError(f"{where}.{key}: expected {_hint_name(hints[key])}, "
                              f"got {type(value).__name__} {value!r}")
        values[key] = converted
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}: missing required key {missing[0]!r}")
    return cls(**values)


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) if typing.get_origin(hint) is None else str(hint)


def config_from_dict(raw: Any, source: str = "<dict>") -> Config:
    """Build a Config from a parsed YAML mapping; `source` names the file in error messages."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with sections {', '.join(SECTIONS)}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section {unknown[0]!r}; valid: {', '.join(SECTIONS)}")
    for required in ("model", "data"):
        if required not in raw:
            raise ConfigError(f"{source}: missing section {required!r}")
    sections = {name: _build_section(cls, raw[name], f"{source}: {name}")
                for name, cls in SECTIONS.items() if name in raw}
    _check_values(sections, source)
    return Config(**sections)


# (section, key, lowest value, whether the lowest itself is allowed); NaN is never in range.
# Out of range they failed late: sigma 0 gives all-zero targets, log_every 0 divides by zero,
# lr < 0 and workers < 0 end in torch's own tracebacks.
_BOUNDS = (
    ("data", "sigma", 0, False),
    ("data", "shots", 1, True),
    ("data", "val_episodes", 1, True),
    ("train", "epochs", 1, True),
    ("train", "batch_size", 1, True),
    ("train", "val_batch_size", 1, True),
    ("train", "lr", 0, False),
    ("train", "lr_end", 0, True),
    ("train", "warmup_iters", 0, True),
    ("train", "gamma", 0, False),
    ("train", "weight_decay", 0, True),
    ("train", "grad_clip", 0, True),
    ("train", "workers", 0, True),
    ("train", "val_every", 0, True),
    ("train", "log_every", 1, True),
)


def _check_bounds(sections: dict[str, Any], source: str) -> None:
    for name, key, low, inclusive in _BOUNDS:
        if name not in sections:
            continue  # the defaults are in range
        value = getattr(sections[name], key)
        if not (value >= low if inclusive else value > low):
            raise ConfigError(f"{source}: {name}.{key}: must be {'>=' if inclusive else '>'} {low}, "
                              f"got {value!r}")


def _check_values(sections: dict[str, Any], source: str) -> None:
    _check_bounds(sections, source)
    train = sections.get("train", TrainSection())
    if train.scheduler not in ("multistep", "cosine"):
        raise ConfigError(f"{source}: train.scheduler: expected 'multistep' or 'cosine', "
                          f"got {train.scheduler!r}")
    if train.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"{source}: train.device: expected 'auto', 'cpu' or 'cuda', "
                          f"got {train.device!r}")
    if train.loss not in ("kitpose", "mse"):
        raise ConfigError(f"{source}: train.loss: expected 'kitpose' or 'mse', got {train.loss!r}")


def load_config(path: str | Path) -> Config:
    """Read a YAML run config.

    Args:
        path: the YAML file.
    Returns:
        The frozen Config. Raises ConfigError naming the file and key on unknown keys or wrong types.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return config_from_dict(raw, str(path))


def config_to_dict(config: Config) -> dict:
    """Plain dict (tuples as lists) that load_config() reads back to an equal Config."""
    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(asdict(config))


def save_config(config: Config, path: str | Path) -> Path:
    """Write the resolved config as YAML (what a run actually used)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path


__all__ = ["ASSIGN_NAME", "AugSection", "Config", "ConfigError", "DataSection", "HEATMAPS_NAME",
           "INPUT_NAME", "ModelSection", "OutputSection", "TrainSection", "config_from_dict",
           "config_to_dict", "load_config", "save_config"]
