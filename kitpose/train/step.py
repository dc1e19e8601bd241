"""One optimisation step and the KITPose training objective (cutmix + GHRL + adaptive loss)."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from kitpose.models.output import PoseOutput

Objective = Callable[[nn.Module, dict[str, Any]], Tensor]


def train_step(model: nn.Module, batch: dict[str, Any], optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, objective: Objective, grad_clip: float = 0.0) -> Tensor:
    """Forward, backward (loss-scaled under AMP), optional grad-norm clipping, optimiser step.

    Args:
        model: the (possibly DDP-wrapped) model in train mode.
        batch: a collated dataset batch.
        objective: (model, batch) -> scalar loss.
        grad_clip: max global gradient norm; 0 disables clipping.
    Returns:
        The detached scalar loss.
    """
    optimizer.zero_grad(set_to_none=True)
    loss = objective(model, batch)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training loss is {loss.item()}; lower train.lr or set "
                                 f"train.grad_clip")
    scaler.scale(loss).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)  # clip the true gradients, not the loss-scaled ones
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


def _float_output(output: PoseOutput) -> PoseOutput:
    """Heatmaps in fp32, so the losses (cubes, blurs) never run in fp16."""
    return PoseOutput(output.heatmaps.float(),
                      None if output.intermediate is None else output.intermediate.float(),
                      output.assign)


def _mse_all_heads(output: PoseOutput, target: Tensor, weight_a: Tensor, weight_b: Tensor | None,
                   lam: float | Tensor) -> Tensor:
    """0.5*MSE (target-weighted, cutmix-mixed like loss_for) on the final and intermediate heads."""
    from kitpose.losses import loss_for

    heads = [output.heatmaps] + ([] if output.intermediate is None else [output.intermediate])
    return sum(loss_for(PoseOutput(h), target, weight_a, weight_b, lam) for h in heads)


def make_objective(device: torch.device, amp: bool,
                   cutmix: torch.Generator | None = None, loss: str = "kitpose") -> Objective:
    """The training loss as a closure over device/AMP/cutmix settings.

    The batch dict holds `image` (B, 3, h, w), `target` (B, K, H, W), `target_weight` (B, K).
    With a `cutmix` generator every batch is mixed (spec 9.3), drawing from that generator (save
    its state to resume exactly); with loss="kitpose", kitpose.losses.loss_for picks GHRL +
    adaptive loss for KITPose and MSE for single-head peers; loss="mse" uses MSE on every head.
    """
    from kitpose.losses import loss_for

    criterion = loss_for if loss == "kitpose" else _mse_all_heads

    use_amp = amp and device.type == "cuda"

    def objective(model: nn.Module, batch: dict[str, Any]) -> Tensor:
        images = batch["image"].to(device, non_blocking=True)    # (B, 3, h, w)
        target = batch["target"].to(device, non_blocking=True)   # (B, K, H, W)
        weight = batch["target_weight"].to(device, non_blocking=True)  # (B, K)
        weight = weight.reshape(weight.shape[0], -1)
        weight_b, lam = None, 1.0
        if cutmix is not None:
            from kitpose.data.cutmix import cutmix_batch
            images, target, weight, weight_b, lam = cutmix_batch(images, target, weight, cutmix)
        with torch.autocast(device_type=device.type, enabled=use_amp):
            output = model(images)
        return criterion(_float_output(output), target, weight, weight_b, lam)

    return objective
