"""A local Triton Inference Server (through PyTriton) serving the torch-free pose pipeline.

Runs inside the serve env (see interpreter.py); `kitpose serve` resolves the model and execs
`python -m kitpose.serving.server --model FILE ...` there. One model, MODEL_NAME:

    inputs   image      UINT8 (h, w, 3)   BGR frame
             boxes      FP32  (N, 4)      x, y, w, h pixels (N <= --max-boxes)
    outputs  keypoints  FP32  (N, K, 3)   x, y, score in frame pixels; NaN rows for dropped boxes
             kept       BOOL  (N,)        False where a box lay outside the frame or was not finite

each with a leading batch dimension (a request may carry b >= 1 images of one size). Triton's dynamic
batcher groups concurrent requests of equal shapes; the whole group's crops go through the runner
together (batching.PoseBatcher). Health endpoints are Triton's own: GET /v2/health/live,
/v2/health/ready, /v2/models/kitpose_pose/ready (HTTP) and the gRPC equivalents; probe the model's
(READY_PATH). Triton starts with the model in its repository (PyTriton's local model store), so it
answers nothing, not even /v2/health/ready, before the model has loaded; PyTriton's default started
Triton first and loaded the model seconds later, while /v2/health/ready already said 200. The
"kitpose serve: ready" line comes once the model's endpoint answers 200. In front of PyTriton's proxy
sits triton_guard.py (install_guard): invalid requests get HTTP 400 with one line, requests without
boxes an empty answer, and no error carries a traceback or a path. SIGINT and SIGTERM
stop the server cleanly: in-flight requests finish, then Triton exits (waiting at most --exit-timeout
seconds for the model to unload).

The served keypoints equal PoseEstimator's in the serve env. They can differ slightly from those of
the main environment: the serve env has OpenCV 4.11 (numpy < 2), whose warpAffine rounds crops
differently from OpenCV 5 (measured: the trained default model moved a keypoint by 0.54 px, 0.03
heatmap px, on an AP-10K image).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from kitpose.commands import run_command
from kitpose.errors import UserInputError
from kitpose.serving.batching import PoseBatcher
from kitpose.serving.tensors import BOXES, GUARD_SETTINGS, IMAGE, KEPT, KEYPOINTS, MODEL_NAME, READY_PATH
from kitpose.serving.interpreter import check_stub_python, stub_environment

MODEL_VERSION = "1"  # PyTriton's default version of a bound model


@dataclass(frozen=True)
class ServeOptions:
    """What `serve` runs: the command's options (grpc_port and metrics_port already resolved)."""

    model: Path
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    backend: str = "auto"
    device: str = "cpu"
    max_batch: int = 16
    crop_batch: int = 16
    max_boxes: int = 64
    queue_delay_us: int = 2000
    instances: int = 1
    exit_timeout: int = 10
    statistics: bool = False
    log_verbose: int = 0


def _stop_on_signals() -> threading.Event:
    """An event that SIGINT and SIGTERM set; the main loop polls it, so a stop never waits on a
    blocking call (a signal that lands on one of PyTriton's threads is seen within a poll)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    return stop


class InferCallable:
    """PyTriton infer function over a list of requests (one instance per Triton model instance)."""

    def __init__(self, model: Path, backend: str, device: str, max_boxes: int, max_batch: int):
        from kitpose.runtime.pipeline import PoseEstimator

        self.estimator = PoseEstimator.from_file(model, backend, device, max_batch=max_batch)
        self.batcher, self.max_boxes = PoseBatcher(self.estimator), max_boxes
        self.batcher([np.zeros((64, 64, 3), np.uint8)], [np.array([[8.0, 8.0, 48.0, 48.0]])])  # warm-up

    def __call__(self, requests) -> list[dict[str, np.ndarray]]:
        return self.batcher.serve_requests([{IMAGE: r[IMAGE], BOXES: r[BOXES]} for r in requests],
                                           self.max_boxes)


def bind_model(triton, callables: list[InferCallable], num_keypoints: int, max_batch: int,
               queue_delay_us: int) -> None:
    """Bind MODEL_NAME with dynamic batching (preferred sizes: powers of two from 4 up to max_batch)."""
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    # No preferred size below 4: a batch that reaches a preferred size leaves the queue at once.
    preferred = [b for b in (4, 8, 16, 32, 64) if b <= max_batch] or [max_batch]
    triton.bind(
        model_name=MODEL_NAME,
        infer_func=callables,
        inputs=[Tensor(name=IMAGE, dtype=np.uint8, shape=(-1, -1, 3)),
                Tensor(name=BOXES, dtype=np.float32, shape=(-1, 4))],
        outputs=[Tensor(name=KEYPOINTS, dtype=np.float32, shape=(-1, num_keypoints, 3)),
                 Tensor(name=KEPT, dtype=np.bool_, shape=(-1,))],
        config=ModelConfig(max_batch_size=max_batch, batcher=DynamicBatcher(
            max_queue_delay_microseconds=queue_delay_us, preferred_batch_size=preferred)),
        strict=True,
    )


def install_guard(model_store: Path, max_boxes: int) -> None:
    """Put triton_guard.py in front of PyTriton's proxy in the bound model's folder (before Triton starts)."""
    folder = model_store / MODEL_NAME / MODEL_VERSION
    (folder / "model.py").replace(folder / "pytriton_proxy.py")
    shutil.copyfile(Path(__file__).with_name("triton_guard.py"), folder / "model.py")
    (folder / GUARD_SETTINGS).write_text(json.dumps({"max_boxes": max_boxes}))


def wait_model_ready(host: str, port: int, timeout_s: float = 120.0) -> None:
    """Poll READY_PATH over HTTP until it answers 200; RuntimeError after timeout_s."""
    probe = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # a wildcard bind answers on loopback
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://{probe}:{port}{READY_PATH}", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass  # 400 "not ready" and refused connections alike
        if time.monotonic() > deadline:
            raise RuntimeError(f"model {MODEL_NAME} not ready at http://{probe}:{port}{READY_PATH} after "
                               f"{timeout_s:.0f} s; see the log above")
        time.sleep(0.1)


def serve(args: ServeOptions) -> None:
    """Start Triton on args.host (HTTP args.port, gRPC args.grpc_port), serve until SIGINT/SIGTERM.

    Args:
        args: the model file and the server's settings.
    """
    from pytriton.triton import (DEFAULT_PROTECTED_ENDPOINTS, Triton, TritonConfig, TritonLifecyclePolicy,
                                 TritonSecurityConfig)
    from pytriton.utils.workspace import Workspace

    check_stub_python()
    os.environ.update(stub_environment())  # tritonserver and its stub inherit this LD_LIBRARY_PATH
    callables = [InferCallable(args.model, args.backend, args.device, args.max_boxes, args.crop_batch)
                 for _ in range(args.instances)]
    config = TritonConfig(http_address=args.host, http_port=args.port, grpc_address=args.host,
                          grpc_port=args.grpc_port, metrics_address=args.host, metrics_port=args.metrics_port,
                          exit_timeout_secs=args.exit_timeout, log_verbose=args.log_verbose)
    # PyTriton guards these endpoints with a random access token; --statistics opens the read-only
    # statistics endpoint (the load test reads the average batch size from it).
    guarded = [e for e in DEFAULT_PROTECTED_ENDPOINTS if not (args.statistics and e == "statistics")]
    stop = _stop_on_signals()
    # The model goes into the repository before Triton starts (bind, then run), so Triton loads it first,
    # and the guard can go in front of PyTriton's proxy there.
    policy, workspace = TritonLifecyclePolicy(launch_triton_on_startup=False, local_model_store=True), Workspace()
    with Triton(config=config, workspace=workspace, triton_lifecycle_policy=policy,
                security_config=TritonSecurityConfig(restricted_endpoints=guarded)) as triton:
        bind_model(triton, callables, callables[0].estimator.metadata.num_keypoints, args.max_batch,
                   args.queue_delay_us)
        install_guard(workspace.model_store_path, args.max_boxes)
        triton.run()
        wait_model_ready(args.host, args.port)
        # One parseable line for scripts and tests that wait for readiness.
        print(f"kitpose serve: ready model={MODEL_NAME} http={args.host}:{args.port} "
              f"grpc={args.host}:{args.grpc_port} metrics={args.host}:{args.metrics_port} pid={os.getpid()} "
              f"ready=http://{args.host}:{args.port}{READY_PATH}", flush=True)
        while not stop.wait(0.5):
            if not triton.is_alive():
                raise RuntimeError("tritonserver or the model's proxy exited; see the log above")
    print("kitpose serve: stopped", flush=True)  # leaving the with-block stopped Triton


@click.command("server", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help=".onnx or TensorRT engine file.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for HTTP, gRPC and metrics.")
@click.option("--port", default=8000, show_default=True, type=int, help="HTTP port.")
@click.option("--grpc-port", default=None, type=int, help="gRPC port [default: --port + 1].")
@click.option("--metrics-port", default=None, type=int, help="Metrics port [default: --port + 2].")
@click.option("--backend", type=click.Choice(["auto", "ort", "trt"]), default="auto", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--max-batch", default=16, show_default=True, type=int, help="Most requests per dynamic batch.")
@click.option("--crop-batch", default=16, show_default=True, type=int, help="Most crops per runner call.")
@click.option("--max-boxes", default=64, show_default=True, type=int, help="Most boxes per image.")
@click.option("--queue-delay-us", default=2000, show_default=True, type=int, help="Dynamic batcher max queue delay.")
@click.option("--instances", default=1, show_default=True, type=int, help="Model instances (one runner each).")
@click.option("--exit-timeout", default=10, show_default=True, type=int,
              help="Seconds Triton waits for in-flight requests.")
@click.option("--statistics", is_flag=True, help="Serve model statistics without a token.")
@click.option("--log-verbose", default=0, show_default=True, type=int, help="Triton's --log-verbose level.")
def server_cmd(grpc_port: int | None, metrics_port: int | None, **options) -> int:
    """Serve a kitpose model (.onnx or engine) with Triton; exit code 2 for a model it cannot use."""
    port = options["port"]
    args = ServeOptions(grpc_port=grpc_port or port + 1, metrics_port=metrics_port or port + 2, **options)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        serve(args)
    except UserInputError as err:  # e.g. a model file ONNX Runtime cannot load: one line, no traceback
        print(f"Error: {err}", file=sys.stderr, flush=True)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the server (`kitpose serve` execs this in the serve env); returns the exit code."""
    return run_command(server_cmd, argv, "python -m kitpose.serving.server")


if __name__ == "__main__":
    sys.exit(main())
