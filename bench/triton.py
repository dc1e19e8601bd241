"""Load test of a Triton-served pose model: throughput and latency percentiles under concurrency,
with every request accounted for.

    python -m kitpose.bench.triton --url 127.0.0.1:8000 --concurrency 8 --requests 3000 --time-limit 120
    kitpose bench --triton 127.0.0.1:8001 --protocol grpc ...          (the bench CLI dispatches here)
    python -m kitpose.bench.triton --model model.onnx ...              (starts `kitpose serve` on loopback)

Each request carries an id (Triton echoes it) and boxes derived from that id (1..--boxes boxes,
positions moved by the id, every 10th with one box outside the frame), so the answers can be
checked: exactly one outcome per id sent, the echoed id equal to the sent one, one keypoint row per
box, NaN rows exactly for dropped boxes, kept keypoints inside their box's crop. With
--malformed-every N every N-th request has too many boxes and must fail with the server's
RequestError while the others are answered. Workers stop taking new ids at --time-limit; requests in
flight then finish. The JSON row (appended to --results) records the command, the counts, latency
percentiles of answered requests, throughput, the server's average batch size and the machine.
"""
from __future__ import annotations

import itertools
import os
import re
import shlex
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import numpy as np

from kitpose.bench.timing import append_rows
from kitpose.commands import parse_hw, run_command
from kitpose.serving.client import PoseClient, ServedPoses, ServingError

OUTSIDE_EVERY = 10     # every 10th request gets one extra box outside the frame (must come back dropped)
MALFORMED_BOXES = 10_000  # far above any sensible --max-boxes


@dataclass(frozen=True)
class LoadSettings:
    """What one load test sends and how (the command's options; `serve` is the --model it started)."""

    protocol: str = "http"
    concurrency: int = 8
    requests: int = 2000
    time_limit: float = 60.0
    image_size: str = "480x640"
    boxes: int = 3
    malformed_every: int = 0
    serve: str | None = None
    server_args: str = ""
    request_timeout: float = 60.0


@dataclass
class Outcome:
    """What happened to one request id."""

    request_id: int
    latency_ms: float
    ok: bool
    problem: str = ""      # why the answer (or error) was not the expected one; "" when it was
    error: str = ""        # the server's error message, for failed requests


def request_boxes(request_id: int, image_hw: tuple[int, int], max_boxes: int) -> np.ndarray:
    """(N, 4) x, y, w, h boxes for an id: 1..max_boxes boxes moved by the id (+1 outside every 10th)."""
    h, w = image_hw
    side = 48 + (request_id * 7) % 32
    count = 1 + request_id % max_boxes
    boxes = [[(request_id * 37 + j * 131) % max(w - side, 1), (request_id * 53 + j * 71) % max(h - side, 1),
              side, side * 1.2] for j in range(count)]
    if request_id % OUTSIDE_EVERY == OUTSIDE_EVERY - 1:
        boxes.append([w + 10.0, h + 10.0, 20.0, 20.0])
    return np.asarray(boxes, np.float32)


def check_answer(sent_id: str, boxes: np.ndarray, image_hw: tuple[int, int], served: ServedPoses) -> str:
    """'' when the answer fits the request, else what is wrong (mixed-up or corrupted answers)."""
    if served.request_id != sent_id:
        return f"echoed id {served.request_id!r} for request {sent_id!r}"
    if served.keypoints.shape[0] != len(boxes) or served.kept.shape != (len(boxes),):
        return f"{served.keypoints.shape[0]} keypoint rows for {len(boxes)} boxes"
    h, w = image_hw
    inside = (boxes[:, 0] < w) & (boxes[:, 1] < h)
    if not np.array_equal(served.kept, inside):
        return f"kept {served.kept.tolist()} but boxes inside the frame {inside.tolist()}"
    if np.isfinite(served.keypoints[~served.kept]).any():
        return "finite keypoints for a dropped box"
    for box, kp in zip(boxes[served.kept], served.keypoints[served.kept]):
        # The crop is the box padded 1.25x to the model's aspect; 1.25 * 1.5 covers aspects 2:3 to 3:2.
        centre, half = box[:2] + box[2:] / 2, 0.5 * 1.25 * 1.5 * box[2:].max() + 1.0
        if (np.abs(kp[:, :2] - centre) > half).any():
            return f"keypoints outside the crop of box {box.tolist()}"
    return ""


def percentiles(latencies_ms: list[float]) -> dict:
    """p50/p90/p99/max/mean of latencies (ms); {} when there are none."""
    if not latencies_ms:
        return {}
    t = np.asarray(latencies_ms, np.float64)
    return {"p50_ms": float(np.percentile(t, 50)), "p90_ms": float(np.percentile(t, 90)),
            "p99_ms": float(np.percentile(t, 99)), "max_ms": float(t.max()), "mean_ms": float(t.mean()),
            "count": int(t.size)}


def _frame(image_hw: tuple[int, int]) -> np.ndarray:
    """A seeded (h, w, 3) uint8 frame with gradients and noise."""
    h, w = image_hw
    ys, xs = np.mgrid[:h, :w]
    noise = np.random.default_rng(0).integers(0, 64, (h, w, 3))
    return (np.stack([xs % 256, ys % 256, (xs + ys) % 256], -1) + noise).clip(0, 255).astype(np.uint8)


class LoadTest:
    """Workers that share an id counter; every id taken gets exactly one Outcome."""

    def __init__(self, args: LoadSettings, url: str):
        self.args, self.url = args, url
        self.image_hw = tuple(int(v) for v in args.image_size.split("x"))
        self.frame = _frame(self.image_hw)
        self.ids = itertools.count()
        self.lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.taken: list[int] = []

    def _next_id(self, deadline: float) -> int | None:
        with self.lock:
            if time.monotonic() >= deadline:
                return None
            i = next(self.ids)
            if i >= self.args.requests:
                return None
            self.taken.append(i)
            return i

    def _one(self, client: PoseClient, i: int) -> Outcome:
        malformed = self.args.malformed_every and i % self.args.malformed_every == self.args.malformed_every - 1
        boxes = np.zeros((MALFORMED_BOXES, 4), np.float32) if malformed else \
            request_boxes(i, self.image_hw, self.args.boxes)
        t0 = time.perf_counter()
        try:
            served = client.infer(self.frame, boxes, request_id=str(i))
        except ServingError as err:
            ms = (time.perf_counter() - t0) * 1e3
            expected = malformed and "RequestError" in str(err)
            return Outcome(i, ms, False, "" if expected else "unexpected error", str(err))
        ms = (time.perf_counter() - t0) * 1e3
        problem = "malformed request answered" if malformed else \
            check_answer(str(i), boxes, self.image_hw, served)
        return Outcome(i, ms, True, problem)

    def _worker(self, deadline: float) -> None:
        with PoseClient(self.url, self.args.protocol, timeout_s=self.args.request_timeout) as client:
            while (i := self._next_id(deadline)) is not None:
                try:
                    outcome = self._one(client, i)
                except Exception as err:  # a bug or a transport failure must still be accounted for
                    outcome = Outcome(i, float("nan"), False, f"client exception {type(err).__name__}", str(err))
                with self.lock:
                    self.outcomes.append(outcome)

    def run(self) -> dict:
        """Run the workers to completion; returns the counts, checks and timings."""
        deadline = time.monotonic() + self.args.time_limit
        threads = [threading.Thread(target=self._worker, args=(deadline,), daemon=True)
                   for _ in range(self.args.concurrency)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self._summary(time.perf_counter() - t0)

    def _summary(self, elapsed: float) -> dict:
        seen: dict[int, int] = {}
        for o in self.outcomes:
            seen[o.request_id] = seen.get(o.request_id, 0) + 1
        answered = [o for o in self.outcomes if o.ok]
        problems = [o for o in self.outcomes if o.problem]
        errors: dict[str, int] = {}  # message (request id masked) -> count
        for o in self.outcomes:
            if o.error:
                key = re.sub(r" request \S+: ", " request <id>: ", o.error)[:300]
                errors[key] = errors.get(key, 0) + 1
        timing = percentiles([o.latency_ms for o in answered])
        return {"sent": len(self.taken), "answered": len(answered),
                "failed": sum(not o.ok for o in self.outcomes),
                "malformed_sent": sum(1 for i in self.taken if self.args.malformed_every
                                      and i % self.args.malformed_every == self.args.malformed_every - 1),
                "lost": sum(1 for i in self.taken if i not in seen),
                "duplicated": sum(1 for n in seen.values() if n > 1),
                "unexpected": len(problems), "problems": [f"{o.request_id}: {o.problem}" for o in problems[:10]],
                "errors": errors, "elapsed_s": elapsed, "throughput_rps": len(answered) / elapsed,
                "latency_ms": timing}


def _model_record(spec: str) -> dict:
    """What --serve ran: the spec, and for a file its size and sha256 (the same bytes give the same run)."""
    import hashlib

    path = Path(spec)
    if not path.is_file():
        return {"spec": spec}
    return {"spec": spec, "bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _server_statistics(url: str, protocol: str) -> dict | None:
    with PoseClient(url, protocol) as client:
        return client.statistics()


def run(args: LoadSettings, url: str, command: str) -> dict:
    """One load test against url.

    Args:
        args: the settings of the load test.
        url: host:port of the server's endpoint for args.protocol.
        command: the command line to record in the row.
    Returns:
        The result row (counts, checks, latency percentiles, server batch size, machine record).
    """
    from kitpose.info import system_info

    before = _server_statistics(url, args.protocol)
    result = LoadTest(args, url).run()
    after = _server_statistics(url, args.protocol)
    batch = None
    if before and after and after["execution_count"] > before["execution_count"]:
        batch = (after["inference_count"] - before["inference_count"]) / \
            (after["execution_count"] - before["execution_count"])
    settings = {k: v for k, v in asdict(args).items() if k != "request_timeout"}
    return {"bench": "triton_loopback", "command": command, "url": url, "settings": settings, **result,
            "server_avg_batch": batch, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_avg_1_5_15": list(os.getloadavg()), "system": system_info()}


def _command_line(ctx: click.Context) -> str:
    """The command line to record: main()'s argv, else this process's."""
    argv = (ctx.obj or {}).get("argv", sys.argv[1:])
    return shlex.join(["python", "-m", "kitpose.bench.triton", *argv])


def _image_size(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A click callback checking 'HxW' (kept as text: the row records it so)."""
    parse_hw(value)
    return value


@click.command("triton", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", default=None, help="host:port of the HTTP or gRPC endpoint (or give --model).")
@click.option("--protocol", type=click.Choice(["http", "grpc"]), default="http", show_default=True)
@click.option("--model", default=None, metavar="MODEL",
              help="Start `kitpose serve --model MODEL --statistics` on free loopback ports for this run.")
@click.option("--serve", "serve_alias", default=None, hidden=True, help="Old spelling of --model.")
@click.option("--server-args", default="", help="More `kitpose serve` flags with --model, one string.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(min=1),
              help="Client threads, one request in flight each.")
@click.option("--requests", default=2000, show_default=True, type=click.IntRange(min=0),
              help="Most requests sent in all.")
@click.option("--time-limit", default=60.0, show_default=True, type=float,
              help="Seconds after which no new request starts.")
@click.option("--request-timeout", default=60.0, show_default=True, type=float, help="Network timeout of one request.")
@click.option("--image-size", default="480x640", show_default=True, callback=_image_size, help="Frame HxW.")
@click.option("--boxes", default=3, show_default=True, type=click.IntRange(min=1),
              help="Boxes per request cycle through 1..BOXES.")
@click.option("--malformed-every", default=0, show_default=True, type=click.IntRange(min=0),
              help="Every N-th request has too many boxes (0: none).")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the result row to this JSON Lines file.")
@click.option("--json", "json_alias", type=click.Path(dir_okay=False, path_type=Path), default=None, hidden=True,
              help="Old spelling of --results.")
@click.pass_context
def triton_cmd(ctx: click.Context, url: str | None, model: str | None, serve_alias: str | None,
               results: Path | None, json_alias: Path | None, **settings) -> int:
    """Bounded load test of a Triton-served kitpose model; exit code 1 when a request was lost,
    duplicated or answered wrongly."""
    model = model or serve_alias
    if (url is None) == (model is None):
        raise click.UsageError("give exactly one of --url (a running server) and --model MODEL")
    args = LoadSettings(serve=model, **settings)
    command = _command_line(ctx)
    if model is None:
        row = run(args, url, command)
    else:
        import tempfile

        from kitpose.serving.launch import ServerProcess

        log = Path(tempfile.mkdtemp(prefix="kitpose-serve-")) / "serve.log"
        extra = ("--statistics", *shlex.split(args.server_args))
        with ServerProcess(model, log, extra) as server:
            row = run(args, server.grpc_url if args.protocol == "grpc" else server.http_url, command)
        row["server_exit_code"] = server.returncode
        row["model_file"] = _model_record(model)
    results = results or json_alias
    if results is not None:
        append_rows(results, [row])
    lat = row["latency_ms"]
    click.echo(f"{row['answered']}/{row['sent']} answered, {row['failed']} failed ({row['malformed_sent']} "
               f"malformed), lost {row['lost']}, duplicated {row['duplicated']}, unexpected {row['unexpected']}; "
               f"{row['throughput_rps']:.1f} req/s, p50 {lat.get('p50_ms', float('nan')):.1f} ms, "
               f"p99 {lat.get('p99_ms', float('nan')):.1f} ms, server batch {row['server_avg_batch']}")
    for problem in row["problems"]:
        click.echo(f"  problem {problem}")
    return 0 if row["lost"] == row["duplicated"] == row["unexpected"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """Run the load test from Python (`kitpose bench --triton` does): its exit code, never SystemExit."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_command(triton_cmd, argv, "python -m kitpose.bench.triton", obj={"argv": argv})


if __name__ == "__main__":
    sys.exit(main())
