"""Clients of the served pose model over tritonclient, HTTP or gRPC (`pip install kitpose[serve]`).

    with PoseClient("127.0.0.1:8000") as client:                   # or ("127.0.0.1:8001", "grpc")
        poses = client.poses(frame, boxes)                          # kitpose.runtime.Poses, like PoseEstimator
        served = client.infer(frame, boxes, request_id="cam0-17")   # every row, with the kept mask

A client object is not thread-safe (tritonclient's HTTP client is not): give each thread its own.
`EnsembleClient` is the client of the container repository (repository.py), where the client cuts
the crops and the server returns keypoints in frame pixels.
"""
from __future__ import annotations

import importlib
import re
import time
from dataclasses import dataclass

import numpy as np

from kitpose.closeable import Closeable
from kitpose.runtime.metadata import ModelMetadata
from kitpose.runtime.pipeline import Poses
from kitpose.runtime.preprocess import boxes_to_crops, crop_matrices, warp_crops
from kitpose.serving.tensors import BOXES, IMAGE, KEPT, KEYPOINTS, MODEL_NAME

PROTOCOLS = ("http", "grpc")


class ServingError(RuntimeError):
    """The server answered a request with an error, or could not be reached; `detail` has its full text."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class ServedPoses:
    """One answered request: keypoints (N, K, 3) with NaN rows where kept (N,) is False; the echoed id."""

    keypoints: np.ndarray
    kept: np.ndarray
    request_id: str

    def to_poses(self, boxes: np.ndarray) -> Poses:
        """The kept rows as Poses (what PoseEstimator returns for the same frame and boxes)."""
        return Poses(self.keypoints[self.kept], np.asarray(boxes, np.float64).reshape(-1, 4)[self.kept])


def _module(protocol: str):
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    try:
        return importlib.import_module(f"tritonclient.{protocol}")
    except ImportError as err:
        raise ImportError(f"the Triton client needs tritonclient[{protocol}] ({err}); "
                          f"install it with `pip install \"kitpose[serve]\"`") from None


class PoseClient(Closeable):
    """tritonclient wrapper for MODEL_NAME (see server.py for the tensors)."""

    def __init__(self, url: str, protocol: str = "http", model: str = MODEL_NAME, timeout_s: float = 60.0):
        """Args:
            url: host:port of the HTTP (default 8000) or gRPC (default 8001) endpoint.
            protocol: "http" or "grpc".
            model: model name on the server.
            timeout_s: network timeout of one request.
        """
        self.url, self.protocol, self.model, self.timeout_s = url, protocol, model, timeout_s
        self._tc = _module(protocol)
        self._num_keypoints: int | None = None
        if protocol == "http":
            self._client = self._tc.InferenceServerClient(url, connection_timeout=timeout_s,
                                                          network_timeout=timeout_s)
        else:
            self._client = self._tc.InferenceServerClient(url)

    def inputs(self, image: np.ndarray, boxes: np.ndarray) -> list:
        """InferInputs of a batch-of-one request from the arrays as they are (no checks, no casts)."""
        from tritonclient.utils import np_to_triton_dtype

        tensors = []
        for name, array in ((IMAGE, image), (BOXES, boxes)):
            array = np.ascontiguousarray(array)[None]  # (1, ...) batch dimension
            tensor = self._tc.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)
        return tensors

    def infer(self, image: np.ndarray, boxes: np.ndarray, request_id: str = "") -> ServedPoses:
        """Send one frame and its boxes; raises ServingError with the server's message on failure.

        An empty image is refused here with a ValueError and a frame without boxes is answered here,
        without a request (the server would answer 400 and an empty result; this saves the round trip).

        Args:
            image: (h, w, 3) uint8 BGR.
            boxes: (N, 4) x, y, w, h pixels.
            request_id: echoed back by Triton (ServedPoses.request_id).
        """
        image, boxes = np.asarray(image), np.asarray(boxes, np.float32).reshape(-1, 4)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape:
            raise ValueError(f"image must be (h, w, 3) uint8 BGR with h, w >= 1, got {image.shape} {image.dtype}")
        if len(boxes) == 0:
            return ServedPoses(np.zeros((0, self.num_keypoints(), 3), np.float32), np.zeros(0, bool), request_id)
        return self.infer_inputs(self.inputs(image, boxes), request_id)

    def num_keypoints(self) -> int:
        """K, read once from the model's configuration on the server."""
        if self._num_keypoints is None:
            config = self._client.get_model_config(self.model, **({"as_json": True} if self.protocol == "grpc" else {}))
            config = config.get("config", config)  # gRPC wraps it in {"config": ...}
            dims = next(o["dims"] for o in config["output"] if o["name"] == KEYPOINTS)
            self._num_keypoints = int(dims[-2])
        return self._num_keypoints

    def infer_inputs(self, inputs: list, request_id: str = "") -> ServedPoses:
        """Send prepared InferInputs as they are (the load test uses this for malformed requests too)."""
        outputs = [self._tc.InferRequestedOutput(n) for n in (KEYPOINTS, KEPT)]
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        try:
            result = self._client.infer(self.model, inputs, outputs=outputs, request_id=request_id, **kwargs)
        except Exception as err:  # tritonclient raises InferenceServerException and transport errors
            raise self._error(err, request_id) from None
        response = result.get_response()
        echoed = response.id if self.protocol == "grpc" else response.get("id", "")
        return ServedPoses(result.as_numpy(KEYPOINTS)[0], result.as_numpy(KEPT)[0], echoed)

    def _error(self, err: Exception, request_id: str) -> ServingError:
        """A ServingError naming the server, model and request, with the server's own words first."""
        detail = " ".join(str(err.message() if hasattr(err, "message") else err).split())
        return ServingError(f"{self.protocol}://{self.url} model {self.model} request {request_id or '-'}: "
                            f"{_summary(detail)}", detail)

    def poses(self, image: np.ndarray, boxes: np.ndarray) -> Poses:
        """Like PoseEstimator(image, boxes): keypoints of the boxes that lie in the frame."""
        return self.infer(image, boxes).to_poses(boxes)

    def ready(self) -> bool:
        """Server live and ready and the model ready (False while it starts or when unreachable)."""
        try:
            return bool(self._client.is_server_live() and self._client.is_server_ready()
                        and self._client.is_model_ready(self.model))
        except Exception:  # connection refused while the server starts
            return False

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until ready(); ServingError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if time.monotonic() > deadline:
                raise ServingError(f"{self.protocol}://{self.url}: model {self.model} not ready "
                                   f"after {timeout_s:.0f} s")
            time.sleep(0.2)

    def statistics(self) -> dict | None:
        """Inference and execution counts of the model; None where the server guards statistics
        (`kitpose serve` does unless started with --statistics)."""
        try:
            stats = self._client.get_inference_statistics(self.model, as_json=True) if self.protocol == "grpc" \
                else self._client.get_inference_statistics(self.model)
        except Exception:  # 403 / PERMISSION_DENIED without the access token
            return None
        model = stats["model_stats"][0]
        return {"inference_count": int(model.get("inference_count", 0)),
                "execution_count": int(model.get("execution_count", 0))}

    def close(self) -> None:
        self._client.close()


def crop_rows(frame: np.ndarray, boxes: np.ndarray, metadata: ModelMetadata, padding: float = 1.25
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ensemble's inputs for a frame: normalised crops, crop rows and which boxes were kept.

    Args:
        frame: (h, w, 3) uint8 BGR.
        boxes: (N, 4) x, y, w, h pixels.
        metadata: the served model's (EnsembleClient.metadata).
        padding: box enlargement, as PoseEstimator.
    Returns:
        crops (N', 3, h, w) float32, rows (N', 5) float32 cx, cy, sw, sh, rotation, kept (N,) bool.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    centers, scales, kept = boxes_to_crops(boxes, frame.shape[:2], metadata.input_size, padding)
    crops = warp_crops(frame, crop_matrices(centers, scales, metadata.input_size), metadata.input_size,
                       metadata.mean, metadata.std)
    rows = np.zeros((len(centers), 5), np.float32)
    rows[:, :2], rows[:, 2:4] = centers, scales
    return crops, rows, kept


class EnsembleClient(PoseClient):
    """Client of the `kitpose export --triton` repository's ensemble (crops in, keypoints out)."""

    def __init__(self, url: str, protocol: str = "http", model: str = "kitpose_pose", timeout_s: float = 60.0):
        super().__init__(url, protocol, model, timeout_s)
        config = self._client.get_model_config(model, **({"as_json": True} if protocol == "grpc" else {}))
        config = config.get("config", config)
        props = {k: v.get("string_value", v.get("stringValue", "")) for k, v in config.get("parameters", {}).items()}
        self.metadata = ModelMetadata.from_props(props, f"{url} model {model} parameters")
        self.max_batch = int(config.get("max_batch_size", config.get("maxBatchSize", 1)))

    def infer(self, image: np.ndarray, boxes: np.ndarray, request_id: str = "") -> ServedPoses:
        """Crop here and send the crops (max_batch per request); rows as PoseClient.infer."""
        crops, rows, kept = crop_rows(image, boxes, self.metadata)
        parts = [self._keypoints(crops[i:i + self.max_batch], rows[i:i + self.max_batch], request_id)
                 for i in range(0, len(crops), self.max_batch)]
        out = np.full((len(kept), self.metadata.num_keypoints, 3), np.nan, np.float32)
        if parts:
            out[kept] = np.concatenate(parts)
        return ServedPoses(out, kept, request_id)

    def _keypoints(self, crops: np.ndarray, rows: np.ndarray, request_id: str) -> np.ndarray:
        """One request: crops (B, 3, h, w) and rows (B, 5) -> keypoints (B, K, 3)."""
        tensors = []
        for name, array in (("input", crops), ("crop", rows)):
            tensor = self._tc.InferInput(name, list(array.shape), "FP32")
            tensor.set_data_from_numpy(np.ascontiguousarray(array, np.float32))
            tensors.append(tensor)
        try:
            return self._client.infer(self.model, tensors, request_id=request_id).as_numpy("keypoints")
        except Exception as err:  # tritonclient raises InferenceServerException and transport errors
            raise self._error(err, request_id) from None


def _summary(detail: str) -> str:
    """The innermost `SomeError: message` of a server traceback (the server's own words), else all of it."""
    head = detail.split(" At: ")[0]  # the Python backend appends the stub's frame after " At: "
    found = list(re.finditer(r"\w+(?:Error|Exception): (?!Traceback)", head))
    return head[found[-1].start():] if found else detail
