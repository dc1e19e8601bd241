"""`kitpose serve --model M --host 127.0.0.1 --port P`: a local Triton server for a pose model.

Resolves M like `kitpose infer` (default, checkpoint -> cached ONNX, .onnx, engine), then replaces
this process with `python -m kitpose.serving.server` in the serve env (interpreter.py explains why
the server needs an environment of its own), so SIGINT and SIGTERM reach the server directly.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import click

from kitpose.runtime.metadata import ModelFileError
from kitpose.runtime.model_files import resolve_model
from kitpose.serving.interpreter import (ServeEnvError, check_kitpose_link, create_env, default_env_dir, env_python,
                                         env_ready, link_kitpose)


def _serving_python(env_dir: Path, setup_env: bool, env_python_base: str | None) -> str:
    """The interpreter to serve with: the serve env (built here with --setup-env), or this one when it has pytriton."""
    if env_ready(env_dir):
        link_kitpose(env_dir)  # follow this kitpose if the checkout moved
        try:
            check_kitpose_link(env_dir)
        except ServeEnvError as err:
            raise click.ClickException(str(err)) from None
        return str(env_python(env_dir))
    if importlib.util.find_spec("pytriton") is not None:
        return sys.executable  # a user-managed environment that already has PyTriton
    if not setup_env:
        raise click.ClickException(
            f"no serve env at {env_dir}: the server runs PyTriton (nvidia-pytriton 0.7.0, which needs "
            f"numpy < 2) in an environment of its own. Create it once with `kitpose serve --setup-env` "
            f"or `make serve-env` (about 170 MB from PyPI), or point KITPOSE_SERVE_ENV at one")
    click.echo(f"building the serve env in {env_dir} (about 170 MB from PyPI) ...", err=True)
    try:
        return str(create_env(env_dir, env_python_base))
    except ServeEnvError as err:
        raise click.ClickException(str(err)) from None


@click.command("serve")
@click.option("--model", default="default", show_default=True,
              help="'default', a kitpose checkpoint (exported to ONNX once, cached), an .onnx or an engine.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the HTTP, gRPC and metrics endpoints.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="HTTP port.")
@click.option("--grpc-port", default=None, type=click.IntRange(1, 65535), help="gRPC port [default: port+1].")
@click.option("--metrics-port", default=None, type=click.IntRange(1, 65535), help="Metrics port [default: port+2].")
@click.option("--backend", type=click.Choice(["auto", "ort", "trt"]), default="auto", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--max-batch", default=16, show_default=True, type=click.IntRange(1, 1024),
              help="Most requests Triton's dynamic batcher joins into one batch.")
@click.option("--queue-delay-us", default=2000, show_default=True, type=click.IntRange(0),
              help="Longest a request waits in the queue for others to batch with.")
@click.option("--crop-batch", default=16, show_default=True, type=click.IntRange(1), help="Most crops per runner call.")
@click.option("--max-boxes", default=64, show_default=True, type=click.IntRange(1), help="Most boxes per image.")
@click.option("--instances", default=1, show_default=True, type=click.IntRange(1), help="Model instances.")
@click.option("--exit-timeout", default=10, show_default=True, type=click.IntRange(0),
              help="Seconds Triton waits on shutdown for in-flight requests and model unloading.")
@click.option("--statistics", is_flag=True, help="Serve Triton's model statistics without an access token.")
@click.option("--env", "env_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Serve env folder [default: $KITPOSE_SERVE_ENV, else <active venv>/serve].")
@click.option("--setup-env", is_flag=True, help="Build the serve env first when it is missing or stale.")
@click.option("--env-python", default=None, help="Interpreter to build the serve env from [default: this one].")
def serve_cmd(model, host, port, grpc_port, metrics_port, backend, device, max_batch, queue_delay_us, crop_batch,
              max_boxes, instances, exit_timeout, statistics, env_dir, setup_env, env_python):
    """Serve a pose model with Triton Inference Server (PyTriton): image + boxes in, keypoints out."""
    try:
        model_path = resolve_model(model)
    except (FileNotFoundError, ValueError, ImportError, ModelFileError) as err:
        raise click.BadParameter(str(err), param_hint="--model") from None
    python = _serving_python(env_dir or default_env_dir(), setup_env, env_python)
    args = ["--model", str(model_path), "--host", host, "--port", str(port),
            "--grpc-port", str(grpc_port or port + 1), "--metrics-port", str(metrics_port or port + 2),
            "--backend", backend, "--device", device, "--max-batch", str(max_batch),
            "--queue-delay-us", str(queue_delay_us), "--crop-batch", str(crop_batch),
            "--max-boxes", str(max_boxes), "--instances", str(instances), "--exit-timeout", str(exit_timeout),
            *(["--statistics"] if statistics else [])]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, "-m", "kitpose.serving.server", *args])
