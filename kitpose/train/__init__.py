"""Training: `train(config)` runs a YAML config alone or under torchrun (DDP), with exact resume."""
from kitpose.train.loop import train

__all__ = ["train"]
