"""What Triton runs as the served model's model.py: a request check in front of PyTriton's proxy.

`kitpose serve` (server.install_guard) copies this file into PyTriton's model store as model.py,
with PyTriton's own model.py beside it as pytriton_proxy.py, before Triton starts. It runs in Triton's
Python-backend stub (serve env: numpy, kitpose, `triton_python_backend_utils`). Without it two kinds
of request went wrong: PyTriton's proxy cannot carry zero-size tensors (TypeError: memoryview: cannot
cast view with zeros in shape or strides), and any error behind the proxy came back as HTTP 500
carrying the proxy's traceback and its temporary workspace path. Here, per request:

- invalid (tensors.validate_request): HTTP 400 / gRPC INVALID_ARGUMENT, one line "RequestError: ...";
- no boxes: answered here, keypoints (b, 0, K, 3) and kept (b, 0);
- the rest goes through the proxy to the infer function; should that fail, HTTP 500 with one line and
  no internals, the traceback in the server log.
"""
import json
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from kitpose.serving.tensors import (BOXES, GUARD_SETTINGS, IMAGE, KEPT, KEYPOINTS, MODEL_NAME, RequestError,
                                    validate_request)

from .pytriton_proxy import TritonPythonModel as ProxyModel


def _error(message: str, code) -> "pb_utils.InferenceResponse":
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message, code))


class TritonPythonModel(ProxyModel):
    """PyTriton's proxy model, with each request checked first."""

    def initialize(self, args: dict) -> None:
        super().initialize(args)
        self.max_boxes = int(json.loads((Path(__file__).parent / GUARD_SETTINGS).read_text())["max_boxes"])
        outputs = json.loads(args["model_config"])["output"]
        self.num_keypoints = int(next(o["dims"] for o in outputs if o["name"] == KEYPOINTS)[-2])

    def execute(self, requests: list) -> list:
        responses: list = [None] * len(requests)
        forward = []  # indices of the requests for the infer function
        for i, request in enumerate(requests):
            responses[i] = self._answer_here(request)
            if responses[i] is None:
                forward.append(i)
        if forward:
            for i, response in zip(forward, self._forward([requests[i] for i in forward])):
                responses[i] = response
        return responses

    def _answer_here(self, request):
        """The response for an invalid request or one without boxes; None for the others."""
        inputs = {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in (IMAGE, BOXES)}
        try:
            image, boxes = validate_request(inputs, self.max_boxes)
        except RequestError as err:
            return _error(f"RequestError: {err}", pb_utils.TritonError.INVALID_ARG)
        if boxes.shape[1]:
            return None
        b = len(image)
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor(KEYPOINTS, np.zeros((b, 0, self.num_keypoints, 3), np.float32)),
            pb_utils.Tensor(KEPT, np.zeros((b, 0), np.bool_))])

    def _forward(self, requests: list) -> list:
        """The proxy's responses; one line per request, without its traceback, when it raises."""
        try:
            return super().execute(requests)
        except Exception as err:  # noqa: BLE001 - TritonModelException with the proxy's traceback
            print(f"kitpose serve: {MODEL_NAME} failed on {len(requests)} request(s):\n{err}", file=sys.stderr,
                  flush=True)
            message = f"{MODEL_NAME}: internal error while estimating poses; the server log has the details"
            return [_error(message, pb_utils.TritonError.INTERNAL) for _ in requests]
