"""Plots: one PNG per kind of row present, none for kinds absent."""
import pytest

from kitpose.bench.plots import write_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_plot_is_a_png(tmp_path, row_factory):
    pytest.importorskip("matplotlib")
    rows = [row_factory(backend=b, size=s, p50=p) for b, s, p in
            [("torch", 1, 20.0), ("torch", 8, 90.0), ("ort", 1, 8.0), ("ort", 8, 40.0)]]
    rows += [row_factory(bench="pipeline", backend=b, size=n, p50=10.0 * n) for b in ("ort", "official")
             for n in (1, 4)]
    rows += [row_factory(bench="accuracy", backend="torch"), row_factory(bench="accuracy", backend="ort",
                                                                         precision="int8")]
    paths = write_plots(rows, tmp_path / "plots")
    assert [p.name for p in paths] == ["latency_vs_batch.png", "throughput_vs_instances.png",
                                       "ap_vs_precision.png"]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_only_plots_with_data(tmp_path, row_factory):
    pytest.importorskip("matplotlib")
    paths = write_plots([row_factory(bench="pipeline", backend="ort", size=2)], tmp_path)
    assert [p.name for p in paths] == ["throughput_vs_instances.png"]
    assert write_plots([], tmp_path / "none") == []
