"""Serving with NVIDIA Triton Inference Server.

Which module owns which job:

- `kitpose serve` (cli.py -> server.py): a local Triton server through PyTriton, serving the torch-free
  PoseEstimator (image + boxes in, keypoints out) with dynamic batching; it runs in its own Python
  environment (interpreter.py explains why, builds it and checks it: `python -m
  kitpose.serving.interpreter create|check`). batching.py groups the crops of a dynamic batch into
  runner calls; tensors.py names the served tensors and holds the request check, which
  triton_guard.py runs in Triton in front of PyTriton's proxy. launch.py starts and stops a server
  process on free loopback ports (tests and the load test).
- `kitpose export --triton DIR` (repository.py): a model repository for the official Triton container
  (ONNX or TensorRT plan + a Python-backend DARK decode, joined by an ensemble); triton_decode.py is
  that decode.
- client.py: tritonclient (HTTP and gRPC) helpers; `kitpose.bench.triton`: a bounded load test.

Importing this package is cheap: nothing here imports pytriton or tritonclient at module level.
"""
