"""kitpose: structure-aware top-down pose estimation, from training to real-time edge inference.

Importing the package is cheap and torch-free: `kitpose.runtime` must work on an edge box with
no PyTorch. Torch-based parts live in subpackages (`kitpose.models`, `kitpose.ops`, ...).

Which module owns which job. Subpackages: `models` (architectures, presets, checkpoint loading),
`data` (datasets, transforms, synthetic data), `codecs` (heatmap encode/decode), `ops` (the Python
front of the compiled kernels and their references), `train`, `evaluation`, `cape` (category-agnostic
pose pieces), `runtime` (torch-free inference: runners, pipeline, sources, sinks, `kitpose infer`) and
`serving` (Triton). The deployment pipeline is `kitpose.export` and the benchmarks `kitpose.bench`
(the repository's `export/` and `bench/`). Top-level modules each hold one shared thing: `cli.py`
the `kitpose` command and `commands.py` the click plumbing every command line shares; `config.py`
the run configuration; `checkpoint.py` and `atomic.py` the checkpoint file and atomic writes;
`default_model.py` what the embedded default model is good for; `demo.py` `kitpose demo`;
`errors.py` the user-input error base; `imagenet.py` the ImageNet mean/std and normalisation;
`closeable.py` the context-manager mixin of everything with a `close()`; `native.py` access to the
compiled `kitpose._C`; `info.py` the environment report; `losses.py` the training losses;
`visualize.py` the overlays.
"""
__version__ = "0.1.0"
