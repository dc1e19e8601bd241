"""Test stand-in for the repository's network model: a Triton Python-backend model that runs the
model.onnx beside it with ONNX Runtime, because the tritonserver that nvidia-pytriton ships has the
Python backend only (the container runs the same ONNX with its onnxruntime backend)."""
import json
from pathlib import Path

import onnxruntime as ort


class TritonPythonModel:
    def initialize(self, args):
        folder = Path(args["model_repository"]) / args["model_version"]
        self.session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        self.max_batch = json.loads(args["model_config"])["max_batch_size"]

    def execute(self, requests):
        import triton_python_backend_utils as pb_utils

        responses = []
        for request in requests:
            crops = pb_utils.get_input_tensor_by_name(request, "input").as_numpy()  # (b, 3, h, w)
            (heatmaps,) = self.session.run(["heatmaps"], {"input": crops})
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("heatmaps", heatmaps)]))
        return responses
