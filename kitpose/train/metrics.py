"""Run metrics: a long-format CSV (step, epoch, name, value), TensorBoard when installed, and a
training-curve PNG. Only the main rank writes; other ranks get a disabled logger."""
from __future__ import annotations

import csv
import importlib.util
import logging
from pathlib import Path

log = logging.getLogger("kitpose.train")

CSV_NAME = "metrics.csv"
CURVE_NAME = "training_curve.png"
TB_DIR = "tb"
FIELDS = ("step", "epoch", "name", "value")


class MetricsLogger:
    """Append metrics to `<out_dir>/metrics.csv` (+ TensorBoard events under `<out_dir>/tb`).

    Args:
        out_dir: run folder.
        enabled: False on non-main ranks (every call becomes a no-op).
        resume_step: when resuming, rows logged after this step (by the interrupted run, after
            its last checkpoint) are dropped so the CSV has no duplicate steps.
    """

    def __init__(self, out_dir: Path, enabled: bool = True, resume_step: int | None = None):
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self.csv_path = self.out_dir / CSV_NAME
        self._writer = None
        if not enabled:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is None or not self.csv_path.exists():
            self.csv_path.write_text(",".join(FIELDS) + "\n")
        else:
            _truncate_after(self.csv_path, resume_step)
        self._writer = _tensorboard_writer(self.out_dir / TB_DIR)

    def log(self, step: int, epoch: int, values: dict[str, float]) -> None:
        """One row per value, e.g. {"train/loss": 0.01, "train/lr": 5e-4}."""
        if not self.enabled:
            return
        with self.csv_path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            for name, value in values.items():
                writer.writerow((step, epoch, name, f"{float(value):.8g}"))
        if self._writer is not None:
            for name, value in values.items():
                self._writer.add_scalar(name, float(value), step)

    def close(self) -> None:
        """Flush TensorBoard and draw the curve PNG."""
        if not self.enabled:
            return
        if self._writer is not None:
            self._writer.close()
        plot_curves(self.csv_path, self.out_dir / CURVE_NAME)


def _tensorboard_writer(log_dir: Path):
    """A SummaryWriter, or None (logged once with the reason) when tensorboard is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        log.info("TensorBoard logging skipped: the 'tensorboard' package is not installed "
                 "(pip install tensorboard); metrics still go to %s", CSV_NAME)
        return None
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(log_dir=str(log_dir))


def _truncate_after(csv_path: Path, step: int) -> None:
    rows = read_metrics(csv_path)
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for row in rows:
            if row["step"] <= step:
                writer.writerow((row["step"], row["epoch"], row["name"], f"{row['value']:.8g}"))


def read_metrics(csv_path: Path) -> list[dict]:
    """Rows of a metrics CSV with typed fields."""
    with Path(csv_path).open(newline="") as handle:
        return [{"step": int(r["step"]), "epoch": int(r["epoch"]), "name": r["name"],
                 "value": float(r["value"])} for r in csv.DictReader(handle)]


def plot_curves(csv_path: Path, png_path: Path) -> Path:
    """Training loss against step and validation AP against epoch, side by side (matplotlib Agg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(csv_path)
    fig, (ax_loss, ax_ap) = plt.subplots(1, 2, figsize=(10, 4))
    loss = [(r["step"], r["value"]) for r in rows if r["name"] == "train/loss"]
    if loss:
        ax_loss.plot(*zip(*loss), lw=1)
    ax_loss.set(xlabel="step", ylabel="loss", title="train loss")
    ax_loss.set_yscale("log" if loss and min(v for _, v in loss) > 0 else "linear")
    ap = [(r["epoch"], r["value"]) for r in rows if r["name"] == "val/AP"]
    if ap:
        ax_ap.plot(*zip(*ap), marker="o")
    ax_ap.set(xlabel="epoch", ylabel="AP", title="validation AP")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)
