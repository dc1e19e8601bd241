#!/usr/bin/env bash
# The GPU half of the kernel checks, for a machine with an NVIDIA GPU, nvcc, compute-sanitizer and a
# CUDA build of torch in PYTHON's environment (downloads nothing, so it also runs offline):
#
#   bash bench/gpu_check.sh [PYTHON]        # `make gpu-check` runs it with .venv/bin/python
#
# Steps, each logged to bench/results/gpu/<step>.txt; every step runs even when an earlier one failed
# (a GPU lease is short: one call should bring back everything), and the exit status is 1 if any did:
#   build         kitpose._C with CUDA, into PYTHON's environment (pip install -e . --no-build-isolation)
#   cuda_ready    torch sees a GPU and kitpose._C has CUDA kernels
#   pytest_cuda   pytest -m cuda (CUDA twins vs the reference, CUDA-graph capture); any skip fails it
#   memcheck      compute-sanitizer --tool memcheck over every op (tests/cuda_driver.py)
#   racecheck     compute-sanitizer --tool racecheck over every op
#   kernel_bench  python -m kitpose.bench kernels --device cuda (rows: bench/results/kernels_cuda.jsonl)
set -uo pipefail
PY=${1:-python3}
SANITIZER=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}
LOGS=bench/results/gpu
mkdir -p "$LOGS"
failed=()

step() {  # step NAME COMMAND...: run, log, print the log's tail, remember a failure
  local name=$1
  shift
  echo "== $name: $*"
  local start=$SECONDS
  if "$@" >"$LOGS/$name.txt" 2>&1; then
    tail -n 3 "$LOGS/$name.txt"
    echo "   ok ($((SECONDS - start)) s)"
  else
    tail -n 40 "$LOGS/$name.txt"
    echo "   FAILED ($((SECONDS - start)) s), log: $LOGS/$name.txt"
    failed+=("$name")
  fi
}

step build "$PY" -m pip install --no-deps --no-build-isolation -e .
step cuda_ready "$PY" -c "import torch, kitpose._C as c; \
assert torch.cuda.is_available(), 'torch sees no GPU (a CPU build of torch?)'; \
assert c.has_cuda(), 'kitpose._C has no CUDA kernels (was nvcc on PATH when it was built?)'; \
print('torch', torch.__version__, torch.cuda.get_device_name(), 'CUDA runtime', c.cuda_version(), \
      'devices', c.cuda_device_count())"
step pytest_cuda "$PY" -m pytest -m cuda -rs -q -p no:cacheprovider
if grep -q "needs a CUDA GPU" "$LOGS/pytest_cuda.txt"; then
  echo "   FAILED: CUDA tests were skipped on a GPU machine (see $LOGS/pytest_cuda.txt)"
  failed+=("pytest_cuda_skips")
fi
step memcheck "$SANITIZER" --tool memcheck --error-exitcode 1 "$PY" tests/cuda_driver.py
step racecheck "$SANITIZER" --tool racecheck --error-exitcode 1 "$PY" tests/cuda_driver.py
step kernel_bench "$PY" -m kitpose.bench kernels --device cuda

if ((${#failed[@]})); then
  echo "gpu_check: FAILED steps: ${failed[*]} (logs in $LOGS/)"
  exit 1
fi
echo "gpu_check: all steps passed (logs in $LOGS/)"
