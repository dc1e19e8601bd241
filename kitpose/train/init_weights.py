"""Fine-tuning starts: the weights of a trained model copied into a freshly built one (model.init)."""
from __future__ import annotations

import logging
from dataclasses import asdict

from torch import nn

from kitpose.config import ConfigError

log = logging.getLogger("kitpose.train")


def init_from(model: nn.Module, spec: str, partial: bool = False) -> list[str]:
    """Copy the weights of `spec` ("default" or a kitpose checkpoint file) into `model` (fine-tuning).

    Args:
        model: the freshly built model of the run.
        spec: where the weights come from.
        partial: when the architectures differ (say another keypoint count), load every tensor whose
            name and shape match and leave the others freshly initialised.
    Returns:
        The names of the tensors left freshly initialised (empty for a full load).
    Raises:
        ConfigError naming the differing fields when the architectures differ and not `partial`.
    """
    from kitpose.models import MODELS, load_model

    if spec in MODELS:
        raise ConfigError(f"model.init {spec!r} is a preset (random weights); give 'default' or a "
                          "kitpose checkpoint (`kitpose convert-official` makes one from official weights)")
    try:
        source = load_model(spec)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"model.init: {err}") from None
    if type(source) is not type(model):
        raise ConfigError(f"model.init {spec!r} is a {type(source).__name__}, the config builds a "
                          f"{type(model).__name__}")
    want, got = asdict(model.config), asdict(source.config)
    if want == got:
        model.load_state_dict(source.state_dict())
        return []
    differ = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    if not partial:
        raise ConfigError(f"model.init {spec!r} differs from the configured {type(model).__name__} in "
                          f"(checkpoint, config): {differ}; set model.name/overrides to the checkpoint's "
                          "architecture, or model.init_partial: true (--init-partial) to load the tensors "
                          "whose shapes match and train the others from scratch")
    fresh_state = model.state_dict()
    loaded = {k: v for k, v in source.state_dict().items()
              if k in fresh_state and fresh_state[k].shape == v.shape}
    model.load_state_dict(loaded, strict=False)
    fresh = sorted(set(fresh_state) - set(loaded))
    log.info("model.init %s (differs in %s): loaded %d of %d tensors; fresh: %s", spec, sorted(differ),
             len(loaded), len(fresh_state), ", ".join(fresh) or "none")
    return fresh
