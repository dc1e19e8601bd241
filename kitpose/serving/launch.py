"""Start `kitpose serve` as a child process on free loopback ports and stop it again (tests, bench).

    with ServerProcess(model, log_path=tmp / "serve.log") as server:
        client = PoseClient(server.http_url)

It runs the real command line (`python -m kitpose.cli serve ...`, which execs into the serve env),
waits until Triton reports the model ready, and on exit sends SIGTERM and waits for a clean stop.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kitpose.serving.client import PoseClient, ServingError


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports the OS reports free on host (held open together, then released)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class ServerProcess:
    """A `kitpose serve` child process on loopback with its log in a file."""

    def __init__(self, model: str | Path, log_path: Path, extra_args: tuple[str, ...] = (),
                 host: str = "127.0.0.1", start_timeout_s: float = 120.0, stop_timeout_s: float = 30.0,
                 cwd: str | Path | None = None):
        """Args:
            model: --model value (default, .onnx, engine or checkpoint).
            log_path: file that receives the server's stdout and stderr.
            extra_args: more `kitpose serve` flags (e.g. ("--max-boxes", "8")).
            host: loopback address to bind.
            start_timeout_s, stop_timeout_s: bounds on start-up and shutdown.
            cwd: working directory of the server (default: this one); model files are passed absolute.
        """
        self.http_port, self.grpc_port, self.metrics_port = free_ports(3, host)
        self.host, self.log_path, self.cwd = host, Path(log_path).resolve(), cwd
        model = Path(model).resolve() if Path(model).exists() else model
        self.start_timeout_s, self.stop_timeout_s = start_timeout_s, stop_timeout_s
        self.command = [sys.executable, "-m", "kitpose.cli", "serve", "--model", str(model), "--host", host,
                        "--port", str(self.http_port), "--grpc-port", str(self.grpc_port),
                        "--metrics-port", str(self.metrics_port), *extra_args]
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def launch(self) -> "ServerProcess":
        """Start the process and return at once (start() also waits for the model)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def start(self) -> "ServerProcess":
        """Launch and wait until the model is ready; ServingError with the log's tail otherwise."""
        self.launch()
        deadline = time.monotonic() + self.start_timeout_s
        with PoseClient(self.http_url) as client:
            while not client.ready():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise ServingError(f"`{' '.join(self.command)}` did not become ready "
                                       f"(exit code {self.returncode}); log {self.log_path}:\n{self.log_tail()}")
                time.sleep(0.25)
        return self

    def stop(self) -> int:
        """SIGTERM, wait for a clean exit (SIGKILL to the process group after stop_timeout_s)."""
        if self.process is None or self.returncode is not None:
            return self.returncode if self.returncode is not None else 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the server and tritonserver
            self.returncode = self.process.wait()
        return self.returncode

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.is_file() else ""

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
