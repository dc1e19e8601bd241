"""Percentiles and the measurement loop."""
import time

import pytest

from kitpose.bench.memory import peak_rss_mib, reset_peak_rss
from kitpose.bench.timing import measure, summarize


def test_summarize_percentiles():
    stats = summarize(range(1, 101))  # 1..100 ms
    assert stats["p50_ms"] == pytest.approx(50.5) and stats["p90_ms"] == pytest.approx(90.1)
    assert stats["p99_ms"] == pytest.approx(99.01) and stats["mean_ms"] == pytest.approx(50.5)
    assert stats["min_ms"] == 1.0 and stats["repeat"] == 100


def test_measure_runs_warmup_then_repeat():
    calls = []
    stats = measure(lambda: calls.append(1), warmup=2, repeat=5)
    assert len(calls) == 7 and stats["repeat"] == 5 and stats["warmup"] == 2
    assert stats["timer"] == "perf_counter"


def test_measure_extends_to_min_seconds_within_the_cap():
    stats = measure(lambda: time.sleep(0.002), warmup=0, repeat=3, min_seconds=0.05, max_repeat=1000)
    assert 3 < stats["repeat"] <= 1000 and stats["repeat"] * stats["mean_ms"] >= 50
    capped = measure(lambda: time.sleep(0.002), warmup=0, repeat=3, min_seconds=10.0, max_repeat=6)
    assert capped["repeat"] == 6


def test_peak_rss_resets_per_measurement():
    import numpy as np

    scope = reset_peak_rss()
    before = peak_rss_mib()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB touched
    grown = peak_rss_mib()
    del block
    assert grown - before > 50
    if scope == "measurement":
        reset_peak_rss()
        assert peak_rss_mib() < grown - 50
