"""Ops with compiled C++/CUDA twins and pure-PyTorch references: k-medoids and DARK decoding.

`backend="reference"` runs `kitpose.ops.reference`; "cpu"/"cuda" run the compiled twins through
`kitpose.ops.compiled` (raising `kitpose.native.NativeUnavailableError` when not built); "auto"
picks the twin for the input's device when built, else the reference (warning once).
"""
from kitpose.ops.dark import dark_decode
from kitpose.ops.dispatch import available_backends
from kitpose.ops.kmedoids import kmedoids, kmedoids_fixed

__all__ = ["available_backends", "dark_decode", "kmedoids", "kmedoids_fixed"]
