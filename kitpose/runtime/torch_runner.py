"""PyTorch backend, for development and parity checks; torch is imported only when one is built."""
from __future__ import annotations

from typing import Any

import numpy as np

from kitpose.runtime.base import RunnerBase, check_inputs


class TorchRunner(RunnerBase):
    """A kitpose nn.Module (or anything `kitpose.models.load_model` accepts) behind the Runner API."""

    def __init__(self, model: Any, device: str = "cpu"):
        """Args:
            model: an nn.Module returning an object with `.heatmaps`, or a name / checkpoint path
                for `kitpose.models.load_model` ("default", "runs/x/best.pt").
            device: torch device string.
        """
        try:
            import torch
        except ImportError:
            raise ImportError("TorchRunner needs PyTorch; on a torch-free box use the ONNX "
                              "(OrtRunner) or engine (TrtRunner) backends") from None
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from kitpose.models import load_model

            model = load_model(str(model))
        self.torch, self.device = torch, str(device)
        self.model = model.to(self.device).eval()
        self.input_size = tuple(int(v) for v in model.config.input_size)

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """inputs (B, 3, h, w) float32 -> heatmaps (B, K, H, W) float32 (numpy, on the host)."""
        x = check_inputs(inputs, self.input_size, type(self.model).__name__)
        with self.torch.inference_mode():
            out = self.model(self.torch.from_numpy(x).to(self.device))
        return out.heatmaps.float().cpu().numpy()  # (B, K, H, W)

    def close(self) -> None:
        self.model = None
