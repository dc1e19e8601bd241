"""Parameter and compute counts, honest and in the KITPose paper's convention.

The paper (spec section 8.1) counts with forward hooks on Conv/BatchNorm/Linear modules only:
conv MACs = weight numel x output H x W, linear MACs = output numel x input.size(1), divided by
1024**3 and called "GFLOPs". For token inputs (B, N, D) input.size(1) is N, not D, so every
transformer linear is undercounted by about N/D; LayerNorms and fixed tables are not counted as
parameters. `paper_complexity` reproduces that convention (to compare with published tables);
`honest_complexity` counts every matmul and convolution the forward really runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class Complexity:
    params: int    # parameters counted
    macs: float    # multiply-accumulates of one forward at batch 1

    @property
    def gflops_paper_units(self) -> float:
        """MACs / 1024**3: what the KITPose paper prints as GFLOPs."""
        return self.macs / 1024 ** 3

    @property
    def gflops(self) -> float:
        """Floating-point operations (2 per MAC) / 1e9."""
        return 2 * self.macs / 1e9


def _dummy_input(model: nn.Module, input_size: tuple[int, int] | None) -> torch.Tensor:
    size = input_size or model.config.input_size
    param = next(model.parameters())
    return torch.zeros(1, 3, *size, dtype=param.dtype, device=param.device)


def honest_complexity(model: nn.Module, input_size: tuple[int, int] | None = None) -> Complexity:
    """All parameters, and every conv/matmul MAC of one batch-1 forward (torch's FlopCounterMode)."""
    x = _dummy_input(model, input_size)
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Complexity(params=params, macs=counter.get_total_flops() / 2)


def _paper_hook(module: nn.Module, inputs: tuple, output: torch.Tensor, seen: set, totals: dict) -> None:
    if id(module) not in seen:  # a module run twice counts its parameters once
        seen.add(id(module))
        totals["params"] += sum(p.numel() for p in module.parameters(recurse=False))
    if isinstance(module, nn.modules.conv._ConvNd):
        totals["macs"] += module.weight.numel() * output[0, 0].numel()
    elif isinstance(module, nn.Linear):
        # The paper's counter multiplies by input.size(1): D for (B, D) inputs, N for (B, N, D) tokens.
        totals["macs"] += output.numel() * inputs[0].size(1)


def paper_complexity(model: nn.Module, input_size: tuple[int, int] | None = None) -> Complexity:
    """Parameters and MACs exactly as the KITPose paper's hook-based counter reports them."""
    totals, seen = {"params": 0, "macs": 0}, set()
    counted = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm, nn.Linear)
    hooks = [m.register_forward_hook(lambda mod, i, o: _paper_hook(mod, i, o, seen, totals))
             for m in model.modules() if isinstance(m, counted)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(_dummy_input(model, input_size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return Complexity(params=totals["params"], macs=float(totals["macs"]))


# Published figures: params (M) and "GFLOPs" as each paper prints them (KITPose Table 2 in its
# hook convention; TransPose's table with its own counter, not reproduced by either count here).
PUBLISHED = {
    "kitpose-w32-256": (68.41, 9.51), "kitpose-w48-256": (103.47, 19.50),
    "kitpose-w32-384": (115.60, 21.38), "transpose-r-a3": (5.2, 8.0), "transpose-r-a4": (6.0, 8.9),
    "transpose-h-s": (8.0, 10.2), "transpose-h-a4": (17.3, 17.5), "transpose-h-a6": (17.5, 21.8),
    "btranspose-c3a1": (10.1, None),
}


def complexity_table(names: list[str]) -> str:
    """Markdown table: params and GFLOPs of each preset, honest and in the paper's convention."""
    from kitpose.models import create_model

    rows = ["| preset | input (h, w) | params (M) | published params (M) | GFLOPs (honest) "
            "| paper-convention params (M) / \"GFLOPs\" | published \"GFLOPs\" |",
            "|---|---|---|---|---|---|---|"]
    for name in names:
        model = create_model(name)
        honest, paper = honest_complexity(model), paper_complexity(model)
        pub_params, pub_gflops = PUBLISHED.get(name, (None, None))
        rows.append(f"| {name} | {tuple(model.config.input_size)} | {honest.params / 1e6:.2f} "
                    f"| {pub_params or '-'} | {honest.gflops:.2f} "
                    f"| {paper.params / 1e6:.2f} / {paper.gflops_paper_units:.2f} | {pub_gflops or '-'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    from kitpose.models import HEATMAP_ARCHS, list_models

    print(complexity_table(list_models(HEATMAP_ARCHS)))
