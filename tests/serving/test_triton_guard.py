"""triton_guard.py without Triton: a stand-in triton_python_backend_utils and PyTriton proxy."""
import importlib
import importlib.util
import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from kitpose.serving.tensors import BOXES, GUARD_SETTINGS, IMAGE, KEPT, KEYPOINTS

GUARD = Path(importlib.util.find_spec("kitpose.serving.triton_guard").origin)  # found, not imported

PROXY = '''
class TritonPythonModel:
    """Stands in for PyTriton's proxy: answers with the request count, or raises like it does."""
    fail = False

    def initialize(self, args):
        pass

    def execute(self, requests):
        if self.fail:
            raise RuntimeError("Model execute error: Traceback ... /root/.cache/pytriton/workspace_x/model.py")
        return [("answered", len(requests))] * len(requests)
'''


def _pb_utils():
    pb = types.ModuleType("triton_python_backend_utils")

    class TritonError:
        INVALID_ARG, INTERNAL = "INVALID_ARG", "INTERNAL"

        def __init__(self, message, code=None):
            self.message, self.code = message, code

    pb.TritonError = TritonError
    pb.Tensor = lambda name, array: (name, array)
    pb.InferenceResponse = lambda output_tensors, error=None: types.SimpleNamespace(
        tensors=dict(output_tensors), error=error)
    pb.get_input_tensor_by_name = lambda request, name: types.SimpleNamespace(as_numpy=lambda: request[name])
    return pb


@pytest.fixture()
def guard(tmp_path, monkeypatch):
    """A TritonPythonModel of the guard, loaded from a model folder laid out as install_guard does."""
    folder = tmp_path / "served" / "v1"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    shutil.copyfile(GUARD, folder / "model.py")
    (folder / "pytriton_proxy.py").write_text(PROXY)
    (folder / GUARD_SETTINGS).write_text(json.dumps({"max_boxes": 4}))
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _pb_utils())
    monkeypatch.syspath_prepend(str(tmp_path))
    model = importlib.import_module("served.v1.model").TritonPythonModel()
    model.initialize({"model_config": json.dumps({"output": [{"name": KEYPOINTS, "dims": [-1, 17, 3]},
                                                              {"name": KEPT, "dims": [-1]}]})})
    yield model
    for name in [n for n in sys.modules if n.startswith("served")]:
        monkeypatch.delitem(sys.modules, name)


def _request(h=8, w=8, boxes=1):
    return {IMAGE: np.zeros((1, h, w, 3), np.uint8), BOXES: np.ones((1, boxes, 4), np.float32)}


def test_bad_requests_answered_beside_good_ones(guard):
    requests = [_request(), _request(h=0), _request(w=32767), _request(boxes=5), _request(boxes=0), _request()]
    out = guard.execute(requests)
    assert out[0] == out[5] == ("answered", 2)  # only the two good ones reached the infer function
    for response, message in zip(out[1:4], ("RequestError: image: empty image", "RequestError: image: (h, w) = "
                                             "(8, 32767)", "RequestError: boxes: 5 boxes for one image")):
        assert response.error.code == "INVALID_ARG" and response.error.message.startswith(message)
        assert "\n" not in response.error.message
    assert out[4].error is None
    assert out[4].tensors[KEYPOINTS].shape == (1, 0, 17, 3) and out[4].tensors[KEPT].shape == (1, 0)


def test_internal_errors_are_one_line_without_internals(guard, capsys):
    guard.fail = True
    [response] = guard.execute([_request()])
    assert response.error.code == "INTERNAL" and "server log" in response.error.message
    assert "Traceback" not in response.error.message and "/root" not in response.error.message
    assert "workspace_x" in capsys.readouterr().err  # the details go to the server log
