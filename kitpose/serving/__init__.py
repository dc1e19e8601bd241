"""Serving with NVIDIA Triton Inference Server.

- `kitpose serve` (cli.py -> server.py): a local Triton server through PyTriton, serving the torch-free
  PoseEstimator (image + boxes in, keypoints out) with dynamic batching; it runs in its own Python
  environment (interpreter.py explains why and builds it). tensors.py names the served tensors and holds
  the request check, which triton_guard.py runs in Triton in front of PyTriton's proxy.
- `kitpose export --triton DIR` (repository.py): a model repository for the official Triton container
  (ONNX or TensorRT plan + a Python-backend DARK decode, joined by an ensemble).
- client.py: tritonclient (HTTP and gRPC) helpers; `kitpose.bench.triton`: a bounded load test.

Importing this package is cheap: nothing here imports pytriton or tritonclient at module level.
"""
