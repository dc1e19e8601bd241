"""The records of a `bench/gpu_check.sh` run: the machine, and a summary of steps and targets.

    python -m kitpose.bench.gpu_report machine RUN_DIR   # RUN_DIR/machine.json
    python -m kitpose.bench.gpu_report summary RUN_DIR   # RUN_DIR/summary.json + summary.md

`machine` records what the numbers depend on: GPU name, driver, clocks (nvidia-smi), CUDA and
torch versions, the toolchain (nvcc, compute-sanitizer), kitpose's own machine record and the
commit measured ($GPU_CHECK_COMMIT: a copied working tree has no .git to ask).
`summary` reads the step statuses gpu_check.sh wrote (RUN_DIR/logs/<step>.status: status, exit
code, seconds) and the result rows of the run, and reports every GPU target of the kernels and
benchmark issues as met, missed or not measured, with the measured value beside the goal.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click

SMI_FIELDS = ("name", "driver_version", "pci.bus_id", "memory.total", "clocks.sm", "clocks.mem",
              "clocks.max.sm", "clocks.max.mem", "power.limit", "temperature.gpu", "persistence_mode")
RESULT_FILES = ("kernels_cuda.jsonl", "model_cuda.jsonl", "pipeline_cuda.jsonl", "train_cuda.jsonl")


def _command(args: list[str]) -> str | None:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def nvidia_smi() -> list[dict]:
    """One dict per GPU of SMI_FIELDS (empty without nvidia-smi)."""
    text = _command(["nvidia-smi", f"--query-gpu={','.join(SMI_FIELDS)}", "--format=csv,noheader"])
    if not text:
        return []
    return [dict(zip(SMI_FIELDS, (v.strip() for v in line.split(",")))) for line in text.splitlines()]


def torch_record() -> dict:
    """torch, its CUDA and cuDNN versions, and each visible device's properties."""
    try:
        import torch
    except ImportError:
        return {"torch": None}
    record = {"torch": torch.__version__, "cuda": torch.version.cuda,
              "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
              "devices": []}
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            record["devices"].append({"name": p.name, "capability": f"{p.major}.{p.minor}",
                                      "multiprocessors": p.multi_processor_count,
                                      "memory_gib": round(p.total_memory / 2**30, 1)})
    return record


def machine(run_dir: Path) -> dict:
    """Write and return run_dir/machine.json."""
    from kitpose.bench.machine import machine_record

    first_line = lambda text: text.splitlines()[-1] if text else None  # noqa: E731
    record = {"commit": os.environ.get("GPU_CHECK_COMMIT"), "nvidia_smi": nvidia_smi(), **torch_record(),
              "nvcc": first_line(_command(["nvcc", "--version"])),
              "compute_sanitizer": first_line(_command(["compute-sanitizer", "--version"])),
              "kitpose": machine_record()}
    (run_dir / "machine.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


# ----------------------------------------------------------------------------- summary

def _rows(run_dir: Path, name: str) -> list[dict]:
    path = run_dir / name
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _target(name: str, goal: str, value: float | None, met: bool | None, unit: str = "") -> dict:
    return {"target": name, "goal": goal, "value": value, "unit": unit,
            "status": "not measured" if met is None else "met" if met else "missed"}


def _pick(rows: list[dict], **want) -> dict | None:
    """The last row whose fields equal `want` (a `settings_X` name reads settings["X"])."""
    def get(row, key):
        return row.get("settings", {}).get(key[9:]) if key.startswith("settings_") else row.get(key)
    found = [r for r in rows if all(get(r, k) == v for k, v in want.items())]
    return found[-1] if found else None


def kernel_targets(rows: list[dict]) -> list[dict]:
    """DARK vs NumPy and vs the copy bound at B=4096, k-medoids vs PyTorch, 32-crop warp time."""
    out = []
    dark = _pick(rows, op="dark_decode", impl="compiled_cuda", settings_B=4096)
    out.append(_target("DARK decode vs per-map NumPy/OpenCV, B=4096", ">= 200x",
                       dark and dark["speedup_p50"], dark and dark["speedup_p50"] >= 200, "x"))
    out.append(_target("DARK decode vs device-copy bound, B=4096", "<= 2x the copy time",
                       dark and dark["vs_copy_bound"], dark and dark["vs_copy_bound"] <= 2.0, "x"))
    for d in (4096, 256):
        km = _pick(rows, op="kmedoids", impl="compiled_cuda", settings_D=d)
        out.append(_target(f"k-medoids vs chunked PyTorch on the same GPU, D={d}", ">= 50x",
                           km and km["speedup_p50"], km and km["speedup_p50"] >= 50, "x"))
    warp = _pick(rows, op="warp_affine", impl="compiled_cuda")
    out.append(_target("warp + normalise, 32 crops of a 1080p frame", "<= 0.2 ms",
                       warp and warp["p50_ms"], warp and warp["p50_ms"] <= 0.2, "ms"))
    return out


def model_targets(rows: list[dict]) -> list[dict]:
    """kitpose-w32-256 fp16 instances/s at batch 256: the best PyTorch variant."""
    cands = [r for r in rows if r.get("model") == "kitpose-w32-256" and r.get("precision") == "fp16"
             and r.get("batch") == 256]
    best = max(cands, key=lambda r: r["throughput"], default=None)
    name = "kitpose-w32-256 fp16, batch 256" + (f" ({best['backend']})" if best else "")
    return [_target(name, ">= 5000 instances/s", best and best["throughput"],
                    best and best["throughput"] >= 5000, "instances/s")]


def pipeline_targets(rows: list[dict]) -> list[dict]:
    """GPU pipeline vs official-style at 32 animals (with and without the shared JPEG decode), and
    the kernels' share of its frame time, per model; the same for `kernels-compile` where it ran."""
    out = []
    for model in ("kitpose-w32-256", "default"):
        official = _pick(rows, backend="official", instances=32, device="cuda", model=model)
        for backend in ("kernels", "kernels-compile"):
            ours = _pick(rows, backend=backend, instances=32, device="cuda", model=model)
            if ours or (model == "kitpose-w32-256" and backend == "kernels"):
                out += _pipeline_rows(ours, official, model if backend == "kernels" else f"{model}, {backend}")
    return out


def _pipeline_rows(ours: dict | None, official: dict | None, label: str) -> list[dict]:
    """The three pipeline targets of one of our pipelines against the official-style one."""
    ratio = official["p50_ms"] / ours["p50_ms"] if ours and official else None
    out = [_target(f"GPU pipeline vs official-style, {label}, 32 animals, 1080p", ">= 10x", ratio,
                   None if ratio is None else ratio >= 10, "x")]
    after = lambda r: r["p50_ms"] - r["stages"]["capture"]["p50_ms"]  # noqa: E731
    ratio = after(official) / after(ours) if ours and official else None
    out.append(_target(f"  the same from the decoded frame (JPEG decode left out of both), {label}",
                       ">= 10x", ratio, None if ratio is None else ratio >= 10, "x"))
    share = ours.get("kernel_share_p50") if ours else None
    out.append(_target(f"warp + DARK kernels' share of the GPU pipeline's frame, {label}, 32 animals",
                       "< 5%", None if share is None else 100 * share, None if share is None else share < 0.05, "%"))
    return out


def train_facts(rows: list[dict]) -> dict:
    """images/s and peak memory per clustering, and the clustering speed-ups."""
    facts = {}
    for r in rows:
        key = f"{r['what']}/{r['clustering']}"
        facts[key] = {k: r.get(k) for k in ("p50_ms", "images_per_s", "device_peak_mib",
                                            "speedup_vs_official_p50") if r.get(k) is not None}
    return facts


def summary(run_dir: Path) -> dict:
    """Write run_dir/summary.json and summary.md; return the summary."""
    steps = []
    for status_file in sorted((run_dir / "logs").glob("*.status"), key=lambda p: p.stat().st_mtime):
        status, rc, seconds = (status_file.read_text().split() + ["", "", ""])[:3]
        steps.append({"step": status_file.stem, "status": status, "exit_code": rc, "seconds": seconds,
                      "log": f"logs/{status_file.stem}.txt"})
    data = {name: _rows(run_dir, name) for name in RESULT_FILES}
    result = {"run": run_dir.name, "steps": steps,
              "targets": kernel_targets(data["kernels_cuda.jsonl"]) + model_targets(data["model_cuda.jsonl"])
              + pipeline_targets(data["pipeline_cuda.jsonl"]),
              "train": train_facts(data["train_cuda.jsonl"]),
              "rows": {name: len(rows) for name, rows in data.items()}}
    (run_dir / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    (run_dir / "summary.md").write_text(markdown(result))
    return result


def markdown(result: dict) -> str:
    """Steps and targets as Markdown tables."""
    fmt = lambda v: "-" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [f"# gpu_check {result['run']}", "", "| step | status | exit | seconds |", "|---|---|---|---|"]
    lines += [f"| {s['step']} | {s['status']} | {s['exit_code']} | {s['seconds']} |" for s in result["steps"]]
    lines += ["", "| target | goal | measured | status |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['goal']} | {fmt(t['value'])} {t['unit']} | {t['status']} |"
              for t in result["targets"]]
    if result["train"]:
        lines += ["", "| training bench | p50 ms | images/s | peak MiB | x vs official |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {fmt(v.get('p50_ms'))} | {fmt(v.get('images_per_s'))} | "
                  f"{fmt(v.get('device_peak_mib'))} | {fmt(v.get('speedup_vs_official_p50'))} |"
                  for k, v in result["train"].items()]
    return "\n".join(lines) + "\n"


_RUN_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@click.group("gpu_report", context_settings={"help_option_names": ["-h", "--help"]})
def gpu_report_cmd() -> None:
    """The records of a bench/gpu_check.sh run folder (gpu_check.sh creates RUN_DIR)."""


@gpu_report_cmd.command("machine")
@click.argument("run_dir", type=_RUN_DIR)
def machine_cmd(run_dir: Path) -> None:
    """Write RUN_DIR/machine.json: GPU, driver, clocks and versions."""
    machine(run_dir)


@gpu_report_cmd.command("summary")
@click.argument("run_dir", type=_RUN_DIR)
def summary_cmd(run_dir: Path) -> None:
    """Write RUN_DIR/summary.json and summary.md (steps, targets met / missed / not measured); print it."""
    click.echo(markdown(summary(run_dir)), nl=False)


def main(argv: list[str] | None = None) -> None:
    """`python -m kitpose.bench.gpu_report machine|summary RUN_DIR` (exits with its status)."""
    gpu_report_cmd.main(args=argv, prog_name="python -m kitpose.bench.gpu_report")


if __name__ == "__main__":
    main()
