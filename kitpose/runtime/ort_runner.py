"""ONNX Runtime backend: CPU everywhere, CUDA / TensorRT execution providers where installed."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kitpose.config import HEATMAPS_NAME, INPUT_NAME
from kitpose.runtime.base import RunnerBase, check_inputs
from kitpose.runtime.metadata import ModelFileError, ModelMetadata

# Preferred order on a GPU box; ORT falls back along the list for nodes a provider cannot take.
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def choose_providers(device: str, available: list[str]) -> list[str]:
    """Execution providers for `device` ("cpu" or "cuda") among those ORT reports as available."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    gpu = [p for p in GPU_PROVIDERS if p in available]
    if not gpu:
        raise RuntimeError(f"device='cuda' but this onnxruntime offers only {available}; install "
                           f"onnxruntime-gpu, or use device='cpu'")
    return [*gpu, "CPUExecutionProvider"]


def open_session(path: Path, device: str = "cpu", threads: int = 0):
    """An onnxruntime.InferenceSession for `path`, or a ModelFileError naming the file.

    Args:
        path: `.onnx` file.
        device: "cpu", or "cuda" for the TensorRT / CUDA execution providers.
        threads: intra-op threads (0 = ORT default).
    """
    import onnxruntime as ort

    if not path.is_file():
        raise ModelFileError(f"{path}: ONNX file not found")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    providers = choose_providers(device, ort.get_available_providers())
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as err:  # noqa: BLE001 - ORT raises its own exception types
        raise ModelFileError(f"{path}: ONNX Runtime cannot load it ({err})") from None


class OrtRunner(RunnerBase):
    """An ONNX model exported by kitpose (input "input", output "heatmaps") in ONNX Runtime."""

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0):
        """Args:
            path: `.onnx` file with kitpose metadata.
            device: "cpu", or "cuda" for the TensorRT / CUDA execution providers.
            threads: intra-op threads (0 = ORT default).
        """
        self.path = Path(path)
        self.session = open_session(self.path, device, threads)
        names = [i.name for i in self.session.get_inputs()]
        outs = [o.name for o in self.session.get_outputs()]
        if INPUT_NAME not in names or HEATMAPS_NAME not in outs:
            raise ModelFileError(f"{self.path}: expected input {INPUT_NAME!r} and output "
                                 f"{HEATMAPS_NAME!r}, found inputs {names} and outputs {outs}")
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = ModelMetadata.from_props(props, str(self.path))
        self.providers = self.session.get_providers()

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """inputs (B, 3, h, w) float32 -> heatmaps (B, K, H, W) float32."""
        x = check_inputs(inputs, self.metadata.input_size, str(self.path))
        (heatmaps,) = self.session.run([HEATMAPS_NAME], {INPUT_NAME: x})
        return np.ascontiguousarray(heatmaps, dtype=np.float32)  # (B, K, H, W)

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """inputs (B, 3, h, w) -> every graph output by name: heatmaps (B, K, H, W) float32 and,
        for clustering models, assign (B, K)."""
        x = check_inputs(inputs, self.metadata.input_size, str(self.path))
        names = [o.name for o in self.session.get_outputs()]
        out = dict(zip(names, self.session.run(names, {INPUT_NAME: x})))
        out[HEATMAPS_NAME] = np.ascontiguousarray(out[HEATMAPS_NAME], dtype=np.float32)
        return out

    def close(self) -> None:
        self.session = None
