"""kitpose: structure-aware top-down pose estimation, from training to real-time edge inference.

Importing the package is cheap and torch-free: `kitpose.runtime` must work on an edge box with
no PyTorch. Torch-based parts live in subpackages (`kitpose.models`, `kitpose.ops`, ...).
"""
__version__ = "0.1.0"
