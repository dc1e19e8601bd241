"""Markdown tables of bench rows (README), in-run speed-ups, and ratios between two results files."""
from __future__ import annotations

from kitpose.bench.schema import STAGES, row_key
from kitpose.bench.timing import markdown_table


def _machine(row: dict) -> str:
    """'Intel Xeon (2 cores), no GPU, 2 threads' from a row's system record."""
    s = row["system"]
    gpus = "; ".join(s.get("gpus") or []) or "no GPU"
    return f"{s.get('cpu')} ({s.get('cpu_count')} cores), {gpus}, {s.get('threads')} threads"


def _load(row: dict) -> str:
    load = row["system"].get("load_avg")
    return "/".join(f"{v:.2f}" for v in load) if load else "unknown"


def latest_runs(rows: list[dict]) -> list[dict]:
    """The rows of the newest run of each bench kind and model (what a results file's report shows)."""
    newest: dict[tuple, tuple[str, str]] = {}
    for r in rows:
        key = (r["bench"], r["model"])
        if key not in newest or r["time"] >= newest[key][0]:
            newest[key] = (r["time"], r["run_id"])
    return [r for r in rows if newest[r["bench"], r["model"]][1] == r["run_id"]]


def speedups(rows: list[dict], bench: str, reference: str) -> dict[int, float]:
    """id(row) -> reference p50 / row p50 for rows of one run, paired by model, precision-agnostic
    size (batch or instances) and device class; fp32 reference only."""
    ref = {(r["run_id"], r["model"], r.get("batch", r.get("instances"))): r["p50_ms"] for r in rows
           if r["bench"] == bench and r["backend"] == reference and r["precision"] == "fp32"}
    out = {}
    for r in rows:
        key = (r["run_id"], r["model"], r.get("batch", r.get("instances")))
        if r["bench"] == bench and key in ref:
            out[id(r)] = ref[key] / r["p50_ms"]
    return out


def model_table(rows: list[dict]) -> str:
    rows = [r for r in rows if r["bench"] == "model"]
    ratio = speedups(rows, "model", "torch")
    flat = [{**r, "where": r["device"], "x_vs_torch": ratio.get(id(r), "")} for r in rows]
    return markdown_table(flat, ["model", "backend", "precision", "where", "batch", "p50_ms", "p90_ms",
                                 "p99_ms", "min_ms", "mean_ms", "throughput", "x_vs_torch", "host_peak_rss_mib"])


def pipeline_table(rows: list[dict]) -> str:
    rows = [r for r in rows if r["bench"] == "pipeline"]
    ratio = speedups(rows, "pipeline", "official")
    torch_ratio = speedups(rows, "pipeline", "torch")
    flat = [{**r, **{f"{s}_ms": r["stages"][s]["p50_ms"] for s in STAGES},
             "x_vs_official": ratio.get(id(r), ""), "x_vs_torch": torch_ratio.get(id(r), "")} for r in rows]
    return markdown_table(flat, ["model", "backend", "device", "instances", "p50_ms", "p99_ms", "min_ms", "fps",
                                 "throughput", *[f"{s}_ms" for s in STAGES], "x_vs_torch", "x_vs_official"])


def accuracy_table(rows: list[dict]) -> str:
    rows = [{**r, "gate": {True: "PASS", False: "FAIL", None: "reference"}[r["gate_passed"]]}
            for r in rows if r["bench"] == "accuracy"]
    return markdown_table(rows, ["model", "backend", "precision", "ap", "ap_delta", "heatmap_max_abs",
                                 "instances", "gate"])


def cape_table(rows: list[dict]) -> str:
    rows = [r for r in rows if r["bench"] == "cape"]
    return markdown_table(rows, ["model", "mode", "instances", "p50_ms", "p90_ms", "mean_ms", "ratio_p50",
                                 "ratio_over"])


def markdown_report(rows: list[dict], skips: list[str] = ()) -> str:
    """The Markdown for README: one section per bench present, where it ran, and what was skipped."""
    parts = []
    runs = {r["run_id"]: r for r in rows}  # one line per run, in order of appearance
    for run in runs.values():
        parts.append(f"Run {run['run_id']} ({run['time']}) on {_machine(run)}, load average "
                     f"{_load(run)}; model {run['model']} ({run['weights']} weights).")
        parts += [f"**Warning:** {w}" for w in run["system"].get("warnings") or []]
    if rows:
        parts.append("Latencies in ms (p50 unless named); throughput in instances/s; x_vs_* = p50 "
                     "ratios within one run.")
    for title, table, bench in (("Model only (runner call per batch)", model_table, "model"),
                                ("End-to-end pipeline (one frame, p50 per stage)", pipeline_table, "pipeline"),
                                ("Accuracy parity (AP in points vs PyTorch fp32)", accuracy_table, "accuracy"),
                                ("Category-agnostic (FMMP) runtime, ORT", cape_table, "cape")):
        if any(r["bench"] == bench for r in rows):
            parts += [f"### {title}", table(rows)]
    if skips:
        parts += ["### Not measured here", "\n".join(f"- {s}" for s in skips)]
    return "\n\n".join(parts) + "\n"


def latest(rows: list[dict]) -> dict[tuple, dict]:
    """row_key -> the newest row with that key (a results file accumulates runs)."""
    out: dict[tuple, dict] = {}
    for r in sorted(rows, key=lambda r: r["time"]):
        if r["bench"] in ("model", "pipeline"):
            out[row_key(r)] = r
    return out


def compare_rows(a_rows: list[dict], b_rows: list[dict]) -> list[dict]:
    """Rows matched by bench/model/backend/precision/batch (newest of each), with B-over-A ratios.

    Returns:
        one dict per matched key: the key fields, a_p50_ms, b_p50_ms, speedup (A p50 / B p50: > 1
        means B is faster), throughput_ratio (B / A), and where each ran.
    """
    a, b = latest(a_rows), latest(b_rows)
    out = []
    for key in sorted(set(a) & set(b), key=str):
        ra, rb = a[key], b[key]
        out.append({"bench": key[0], "model": key[1], "backend": key[2], "precision": key[3],
                    "size": key[4], "a_p50_ms": ra["p50_ms"], "b_p50_ms": rb["p50_ms"],
                    "speedup": ra["p50_ms"] / rb["p50_ms"],
                    "throughput_ratio": rb["throughput"] / ra["throughput"],
                    "a_where": f"{ra['device']} {ra['system'].get('cpu')}",
                    "b_where": f"{rb['device']} {rb['system'].get('cpu')}"})
    return out


def format_compare(matched: list[dict], a_name: str, b_name: str) -> str:
    """The comparison as Markdown, or a line saying nothing matched."""
    if not matched:
        return (f"no rows of {a_name} and {b_name} share bench/model/backend/precision/batch; "
                f"nothing to compare")
    head = f"A = {a_name}, B = {b_name}; speedup = A p50 / B p50 (> 1: B faster)\n\n"
    return head + markdown_table(matched, ["bench", "model", "backend", "precision", "size", "a_p50_ms",
                                           "b_p50_ms", "speedup", "throughput_ratio", "a_where", "b_where"])
