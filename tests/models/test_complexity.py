"""The two counters on hand-countable models."""
from types import SimpleNamespace

import torch
from torch import nn

from kitpose.models.complexity import honest_complexity, paper_complexity


class _Tiny(nn.Module):
    """conv 3->4 (3x3, 8x8 out) -> BN -> tokens (B, 4, 64) -> Linear 64->16 -> LayerNorm."""

    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(input_size=(8, 8))
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(64, 16)
        self.norm = nn.LayerNorm(16)

    def forward(self, x):
        y = self.bn(self.conv(x))                 # (B, 4, 8, 8)
        return self.norm(self.fc(y.flatten(2)))   # (B, 4, 16)


def test_honest_counts_every_mac():
    c = honest_complexity(_Tiny())
    conv = 4 * 3 * 3 * 3 * 8 * 8     # out channels x in x kh x kw x output pixels
    linear = 4 * 64 * 16             # tokens x in x out
    assert c.macs == conv + linear
    assert c.params == 108 + 8 + 64 * 16 + 16 + 32
    assert c.gflops == 2 * (conv + linear) / 1e9


def test_paper_convention_reproduces_the_token_bug():
    c = paper_complexity(_Tiny())
    conv = 108 * 64                  # weight numel x output H x W
    linear_paper = (4 * 16) * 4      # output numel x input.size(1) = tokens (4), not D (64)
    assert c.macs == conv + linear_paper
    # LayerNorm parameters are not counted by the paper's hooks.
    assert c.params == 108 + 8 + 64 * 16 + 16
    assert abs(c.gflops_paper_units - (conv + linear_paper) / 1024 ** 3) < 1e-15


def test_counters_restore_training_mode():
    model = _Tiny().train()
    honest_complexity(model)
    paper_complexity(model)
    assert model.training
    assert torch.is_grad_enabled()  # grad mode is back on outside the counters
