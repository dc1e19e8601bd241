"""train.loss picks the objective: the KITPose losses by default, MSE on every head on request."""
import pytest
import torch
from torch import nn

from kitpose.config import ConfigError, load_config
from kitpose.losses import kitpose_loss, mse_loss
from kitpose.models.output import PoseOutput
from kitpose.train.step import make_objective

from test_config import MINIMAL, write


class _TwoHeads(nn.Module):
    """Fixed maps as both heads, so each objective can be computed by hand."""

    def __init__(self, final: torch.Tensor, inter: torch.Tensor):
        super().__init__()
        self.final, self.inter = nn.Parameter(final), nn.Parameter(inter)

    def forward(self, images):
        return PoseOutput(self.final, self.inter)


def _batch_and_model():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 16, 16, generator=g)                 # (B, K, H, W)
    weight = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])       # (B, K)
    model = _TwoHeads(torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g))
    return {"image": torch.zeros(2, 3, 64, 64), "target": target, "target_weight": weight}, model


def test_mse_objective_sums_mse_of_both_heads():
    batch, model = _batch_and_model()
    got = make_objective(torch.device("cpu"), amp=False, loss="mse")(model, batch)
    want = (mse_loss(model.final, batch["target"], batch["target_weight"])
            + mse_loss(model.inter, batch["target"], batch["target_weight"]))
    assert torch.allclose(got, want) and got > 0


def test_default_objective_is_the_kitpose_loss():
    batch, model = _batch_and_model()
    got = make_objective(torch.device("cpu"), amp=False)(model, batch)
    want = kitpose_loss(PoseOutput(model.final, model.inter), batch["target"], batch["target_weight"],
                        torch.zeros_like(batch["target_weight"]), 1.0)
    assert torch.allclose(got, want)


def test_unknown_loss_is_rejected_with_file_and_key(tmp_path):
    path = write(tmp_path, {**MINIMAL, "train": {"loss": "l1"}})
    with pytest.raises(ConfigError, match="train.loss") as err:
        load_config(path)
    assert str(path) in str(err.value)
