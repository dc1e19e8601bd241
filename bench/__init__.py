"""Benchmark harness, shipped as kitpose.bench; results are JSON rows under bench/results/.

Which module owns which job. The commands: `cli.py` is `kitpose bench` (also `python -m kitpose.bench
run`), `__main__.py` dispatches `python -m kitpose.bench kernels|train|run`, `kernels.py` times the
compiled kernels against `baselines.py`, `train_bench.py` times the training step, `triton.py` load-tests
a Triton server, and `gpu_check.sh` runs everything a GPU lease should measure (`gpu_report.py` writes
its machine record and summary). One `kitpose bench` run is `suite.py`: `models.py` gives the model
under test and its ONNX variants, `backends.py` a callable per backend and precision for
`model_bench.py`, `pipelines.py` and `kernel_pipeline.py` (with `official.py`'s stages and `frames.py`'s
synthetic frames) the end-to-end pipelines for `pipeline_bench.py`, `accuracy.py` AP per backend, and
`cape_bench.py` the FMMP runtime. The method is `timing.py` (warm-up, measure, percentiles, rows),
with `memory.py` (peak memory) and `machine.py` (the machine record of every row); `schema.py` is the
one row schema, `report.py` and `plots.py` turn rows into Markdown and PNG. Benchmarks append rows
(`--results`), never assert speed: targets are ratios measured in one run.
"""
