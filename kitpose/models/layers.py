"""Small transformer pieces shared by the token-based models.

Dimension letters: B batch, N tokens, D feature dim.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sine_table_1d(length: int, dim: int, temperature: float = 10000.0) -> Tensor:
    """Fixed 1-D sine/cosine positional table over token indices 1..length (KITPose spec section 3).

    Angle base e_p = 2*pi*p / (length + 1e-6) for p = 1..length;
    tau_i = temperature**(2*floor(i/2)/dim);
    even channels hold sin(e_p / tau_i), odd channels cos(e_p / tau_i) (interleaved pairs).

    Args:
        length: number of positions (keypoints).
        dim: feature dim D.
        temperature: frequency base.

    Returns:
        (length, dim) float32 table.
    """
    # float64 first: the table is a constant, so compute it as exactly as we can once
    pos = torch.arange(1, length + 1, dtype=torch.float64)
    angle = pos / (length + 1e-6) * (2 * math.pi)  # (N,)
    index = torch.arange(dim, dtype=torch.float64)
    tau = temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / dim)  # (D,)
    phase = angle[:, None] / tau[None, :]  # (N, D)
    even = (torch.arange(dim) % 2 == 0)[None, :]
    return torch.where(even, phase.sin(), phase.cos()).float()


def init_trunc_normal(module: nn.Module, std: float = 0.02) -> None:
    """Init every Linear with trunc-normal(std) weights and zero bias, every LayerNorm to (1, 0).

    Args:
        module: the module tree to initialise in place (its Linear and LayerNorm children).
        std: standard deviation of the weights; truncation at +-2 absolute (effectively none).
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=std, a=-2.0, b=2.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class Attention(nn.Module):
    """Multi-head self-attention, one qkv Linear (with bias); scores scaled by FULL dim**-0.5."""

    def __init__(self, dim: int, heads: int = 1, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"Attention: dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        # KITPose scales by the full dim even with several heads (spec section 5): keep that
        self.scale = dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape  # (B, N, D)
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads)  # (B, N, 3, heads, D/heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, D/heads)
        # explicit matmul-softmax rather than SDPA: exact, and exports to any ONNX opset
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)  # (B, heads, N, N)
        out = (attn @ v).transpose(1, 2).reshape(b, n, d)  # (B, N, D)
        return self.drop(self.proj(out))


class FeedForward(nn.Module):
    """Linear(D -> mlp_ratio*D) -> GELU -> Linear(-> D), dropout after each Linear."""

    def __init__(self, dim: int, mlp_ratio: int = 3, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))  # (B, N, D)


class PreNormEncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, dim: int, heads: int = 1, mlp_ratio: int = 3, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_ratio, dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))  # (B, N, D)
        return x + self.mlp(self.norm2(x))  # (B, N, D)
