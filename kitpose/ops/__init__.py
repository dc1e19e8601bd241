"""Ops with compiled C++/CUDA twins and pure-PyTorch references: k-medoids and DARK decoding.

`backend="reference"` runs `kitpose.ops.reference`; "cpu"/"cuda" run the compiled twins through
`kitpose.ops.compiled` (raising `kitpose.native.NativeUnavailableError` when not built); "auto"
picks the twin for the input's device when built, else the reference (warning once).

Which module owns which job. `kmedoids.py` and `dark.py` are the op fronts: they own the public
arguments and check them once, for every backend; the C++ entry point is the one other check (the
sizes the kernels take), and the only one for callers that reach the kernels another way.
`dispatch.py` resolves the backend and converts numpy to tensors and back. `reference.py` holds the
pure-PyTorch rules the twins must match.
`compiled.py` adapts numpy arrays and torch tensors to the compiled twins (buffers, devices, the
current CUDA stream, torch.library registration) and checks only what it needs to build buffers.
The kernels themselves are launched through the torch-free `kitpose.native_calls`, which the
runtime calls too, and found through `kitpose.native`.
"""
from kitpose.ops.dark import dark_decode
from kitpose.ops.dispatch import available_backends
from kitpose.ops.kmedoids import kmedoids, kmedoids_fixed

__all__ = ["available_backends", "dark_decode", "kmedoids", "kmedoids_fixed"]
