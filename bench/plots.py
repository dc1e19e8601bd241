"""PNG plots of bench rows with matplotlib (Agg): latency vs batch, throughput vs instances, AP vs precision."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from kitpose.bench.schema import PRECISIONS


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install matplotlib (or kitpose[train]); "
                          "or run kitpose bench with --no-plots") from None
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _series(rows: list[dict], x: str, label) -> dict[str, list[tuple]]:
    """label -> sorted (x, row) points of rows of one bench."""
    out = defaultdict(list)
    for r in rows:
        out[label(r)].append((r[x], r))
    return {k: sorted(v, key=lambda p: p[0]) for k, v in out.items()}


def _line_plot(series: dict[str, list[tuple]], y: str, path: Path, **axes) -> Path:
    """One line per series of row[y] against x, ticks at the measured x, axes settings from `axes`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, points in series.items():
        ax.plot([p[0] for p in points], [p[1][y] for p in points], marker="o", label=label)
    ax.set(**axes)
    _ticks(ax, series)
    return _save(fig, ax, path)


def _title(rows: list[dict], what: str) -> str:
    system = rows[0]["system"]
    gpus = "; ".join(system.get("gpus") or []) or "no GPU"
    return f"{what}: {', '.join(_models(rows))} on {system.get('cpu')} ({gpus})"


def _models(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["model"] for r in rows))


def _prefix(rows: list[dict]):
    """A label prefix naming the model, only when the rows hold more than one."""
    return (lambda r: f"{r['model']}: ") if len(_models(rows)) > 1 else (lambda r: "")


def latency_vs_batch(rows: list[dict], path: Path) -> Path | None:
    """p50 latency per call against batch size, one line per backend/precision (log-log)."""
    rows = [r for r in rows if r["bench"] == "model"]
    model = _prefix(rows)
    series = _series(rows, "batch", lambda r: f"{model(r)}{r['backend']} {r['precision']} ({r['device']})")
    if not series:
        return None
    return _line_plot(series, "p50_ms", path, xscale="log", yscale="log", xlabel="batch (crops per call)",
                      ylabel="p50 latency (ms)", title=_title(rows, "Model-only latency"))


def throughput_vs_instances(rows: list[dict], path: Path) -> Path | None:
    """Pipeline instances/s against animals per frame, one line per pipeline."""
    rows = [r for r in rows if r["bench"] == "pipeline"]
    model = _prefix(rows)
    series = _series(rows, "instances", lambda r: f"{model(r)}{r['backend']} ({r['device']})")
    if not series:
        return None
    return _line_plot(series, "throughput", path, xlabel="animals per frame",
                      ylabel="instances / s (end to end)", yscale="log", title=_title(rows, "Pipeline throughput"))


def ap_vs_precision(rows: list[dict], path: Path) -> Path | None:
    """AP (points) per backend/precision as bars, in fp32, fp16, int8 order."""
    acc = [r for r in rows if r["bench"] == "accuracy"]
    if not acc:
        return None
    acc.sort(key=lambda r: (PRECISIONS.index(r["precision"]), r["backend"] != "torch"))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    model = _prefix(acc)
    labels = [f"{model(r)}{r['backend']}\n{r['precision']}" for r in acc]
    colours = ["#555" if r["backend"] == "torch" else "#4a7" for r in acc]  # reference in grey
    bars = ax.bar(labels, [r["ap"] for r in acc], color=colours)
    ax.bar_label(bars, fmt="%.2f")
    ax.set(ylabel="AP (points)", title=_title(acc, "Accuracy parity"))
    return _save(fig, ax, path, legend=False)


def _ticks(ax, series: dict[str, list[tuple]]) -> None:
    """x ticks exactly at the measured sizes; plain numbers on both axes."""
    from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

    xs = sorted({p[0] for points in series.values() for p in points})
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 100, not 10^2
    ax.yaxis.set_minor_formatter(NullFormatter())


def _save(fig, ax, path: Path, legend: bool = True) -> Path:
    import matplotlib.pyplot as plt

    if legend:
        ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.title.set_fontsize(9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(rows: list[dict], out_dir: Path) -> list[Path]:
    """Every plot the rows support, as PNG files in out_dir. Returns the written paths."""
    made = [latency_vs_batch(rows, out_dir / "latency_vs_batch.png"),
            throughput_vs_instances(rows, out_dir / "throughput_vs_instances.png"),
            ap_vs_precision(rows, out_dir / "ap_vs_precision.png")]
    return [p for p in made if p is not None]
