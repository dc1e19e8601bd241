"""The cape bench (bench/cape_bench.py): one tiny run gives a schema-valid row per mode, with the
ratios taken over the right rows of the same run, and the report shows them."""
import pytest

pytest.importorskip("torch")

from kitpose.bench.cape_bench import RATIO_OVER, run_cape_bench  # noqa: E402
from kitpose.bench.model_bench import Method  # noqa: E402
from kitpose.bench.report import markdown_report  # noqa: E402
from kitpose.bench.schema import CAPE_MODES  # noqa: E402
from kitpose.bench.suite import stamp  # noqa: E402


def test_one_row_per_mode_with_same_run_ratios(tiny_bench, tmp_path):
    import time

    method = Method(warmup=1, repeat=2, min_seconds=0.0, device="cpu", threads=1, rounds=1)
    rows, skips = run_cape_bench(tiny_bench, "fmmp-small", [2], method, tmp_path, frame_size=(240, 320))
    rows = stamp(rows, tiny_bench, {"threads": 1}, 1, time.gmtime())  # validates every row
    by_mode = {r["mode"]: r for r in rows}
    assert sorted(by_mode) == sorted(CAPE_MODES) and not skips
    for mode, over in RATIO_OVER.items():
        assert by_mode[mode]["ratio_p50"] == pytest.approx(by_mode[mode]["p50_ms"] / by_mode[over]["p50_ms"])
    assert by_mode["frame-cached"]["instances"] == 2 and by_mode["instance-fmmp"]["instances"] == 1
    assert by_mode["frame-cached"]["model"] == "fmmp-small" and by_mode["frame-kitpose"]["model"] == tiny_bench.spec
    assert "Category-agnostic (FMMP) runtime" in markdown_report(rows)
