"""Benchmark harness, shipped as kitpose.bench; results are JSON rows under bench/results/."""
