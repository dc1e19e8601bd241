#!/usr/bin/env bash
# Everything kitpose measures on a GPU, as one command that fits a short GPU lease (<= 9 minutes):
#
#   bash bench/gpu_check.sh [--dry-run] [PYTHON] [OUT_DIR]     # `make gpu-check` runs it with .venv
#
# PYTHON: an environment with a CUDA torch (default python3). Downloads nothing (offline machines).
# Results: bench/results/gpu/run-<UTC time>/ (rows *.jsonl, machine.json, summary.json/.md, logs/);
# with OUT_DIR, also OUT_DIR/gpu_check.tar.gz (the whole run folder) plus summary.json, machine.json
# and the four result files, 7 files in all (a lease brings back at most 8).
#
# Steps, most valuable first so a cut-off run still brings back the essentials. Each runs under its
# own `timeout`, is logged to logs/<step>.txt with its status in logs/<step>.status, and runs even
# when an earlier one failed; the exit status is 1 if any failed. GPU_CHECK_BUDGET_S (default 460)
# bounds the whole run: a step gets at most the time left, and steps that no longer fit are skipped.
#   build          kitpose._C with CUDA for sm_90 only (KITPOSE_CUDA_ARCHS=90), all cores, editable
#   cuda_ready     torch sees a GPU, kitpose._C has CUDA kernels; machine.json (GPU, driver, clocks)
#   pytest_cuda    pytest -m cuda (twins vs reference, CUDA-graph capture of all three ops, the GPU
#                  pipeline); any skip fails the step      } these three run side by side:
#   memcheck       compute-sanitizer memcheck over every op } correctness only, no timing
#   racecheck      compute-sanitizer racecheck over every op}
#   kernel_bench   python -m kitpose.bench kernels --device cuda
#   model_w32      kitpose-w32-256 eager fp32/fp16, channels-last, CUDA graphs, batch 1..256
#   pipeline       1080p frames with 1/8/32 animals: GPU warp -> fp16 model (CUDA graphs) -> GPU DARK
#                  vs the official-style pipeline and PyTorch eager on the same GPU, per stage
#   pipeline_compile  the same at 32 animals with the model through torch.compile (kernels-compile)
#   train          50 AMP steps of kitpose-w32-256 at batch 32, our k-medoids vs the official loop
#   pipeline_default  the pipeline bench on the trained default model (peaked maps: DARK's usual path)
#   model_default  the default model, same variants and sweep as model_w32
#   compile        torch.compile of kitpose-w32-256 fp16 (where it compiles in the time left)
#   summary        summary.json / summary.md: steps, and every GPU target met / missed / not measured
#
# GPU_CHECK_STEPS="build cuda_ready ...": run only the named steps (a short rerun; the summary always
# runs). GPU_CHECK_BATCHES, GPU_CHECK_INSTANCES and GPU_CHECK_COMPILE_BATCHES override the model sweep,
# the animals per frame and the torch.compile batches.
# --dry-run: the same steps on this CPU with tiny sizes (device cpu, no sanitizers, pytest collects
# the CUDA tests without running them), into out/gpu_check_dry/, so only the GPU can fail there.
set -uo pipefail
DRY=0
if [[ ${1:-} == --dry-run ]]; then DRY=1; shift; fi
PY=${1:-python3}
OUT=${2:-}
BUDGET=${GPU_CHECK_BUDGET_S:-460}
SANITIZER=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
if ((DRY)); then RUN=${GPU_CHECK_RESULTS:-out/gpu_check_dry}/run-$STAMP; else RUN=${GPU_CHECK_RESULTS:-bench/results/gpu}/run-$STAMP; fi
LOGS=$RUN/logs
mkdir -p "$LOGS"
START=$SECONDS
export PYTHONUNBUFFERED=1
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=/usr/local/cuda/bin:$PATH; fi

# step NAME TIMEOUT_S COMMAND...: run under timeout (capped by the budget left), log, record status
step() {
  local name=$1 limit=$2
  shift 2
  if [[ -n ${GPU_CHECK_STEPS:-} && $name != summary && " $GPU_CHECK_STEPS " != *" $name "* ]]; then
    skip "$name" "not in GPU_CHECK_STEPS"
    return
  fi
  local left=$((BUDGET - (SECONDS - START) - 10))  # 10 s kept for the summary and the tarball
  if ((left < 15)); then
    echo "skipped 0 0" >"$LOGS/$name.status"
    echo "== $name: skipped, ${left}s of the ${BUDGET}s budget left" | tee "$LOGS/$name.txt"
    return
  fi
  ((limit > left)) && limit=$left
  echo "== $name (<= ${limit}s): $*"
  local t0=$SECONDS rc=0
  timeout --kill-after=5 "$limit" "$@" >"$LOGS/$name.txt" 2>&1 || rc=$?
  local status=ok
  ((rc == 124 || rc == 137)) && status=timeout
  ((rc != 0 && rc != 124 && rc != 137)) && status=failed
  echo "$status $rc $((SECONDS - t0))" >"$LOGS/$name.status"
  tail -n 4 "$LOGS/$name.txt" | sed 's/^/   /'
  echo "   $status (exit $rc, $((SECONDS - t0)) s)"
}

# skip NAME REASON: a step that cannot run in this mode (recorded, never counted as a pass)
skip() {
  echo "skipped 0 0" >"$LOGS/$1.status"
  echo "== $1: skipped ($2)" | tee "$LOGS/$1.txt"
}

W32=kitpose-w32-256
if ((DRY)); then
  DEV=cpu BATCHES=1,2 INSTANCES=1,2 STEPS=2 TRAIN_BATCH=2 REPEAT=2 SECS=0 FAST_MODEL=default FAST_INSTANCES=1
else
  DEV=cuda BATCHES=1,2,4,8,16,32,64,128,256 INSTANCES=1,8,32 STEPS=50 TRAIN_BATCH=32 REPEAT=10 SECS=0.2
  FAST_MODEL=$W32 FAST_INSTANCES=32
fi
BATCHES=${GPU_CHECK_BATCHES:-$BATCHES} INSTANCES=${GPU_CHECK_INSTANCES:-$INSTANCES}
BENCH=("$PY" -m kitpose.bench run --device "$DEV" --no-plots --warmup 2 --repeat "$REPEAT" --rounds 1
       --min-seconds "$SECS")
MODEL=(--bench model --backends torch,torch-cl,torch-graphs --precisions fp32,fp16 --batches "$BATCHES"
       --results "$RUN/model_cuda.jsonl")

echo "gpu_check: $( ((DRY)) && echo dry run || echo GPU run ) into $RUN, budget ${BUDGET}s, $(nproc) cores"
step build 150 env KITPOSE_CUDA=1 KITPOSE_CUDA_ARCHS=90 CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
  "$PY" -m pip install --no-deps --no-build-isolation --no-index -e .
if ((DRY)); then
  step cuda_ready 60 "$PY" -m kitpose.bench.gpu_report machine "$RUN"
else
  step cuda_ready 60 "$PY" -c "import torch, kitpose._C as c, runpy, sys; \
assert torch.cuda.is_available(), 'torch sees no GPU (a CPU build of torch?)'; \
assert c.has_cuda(), 'kitpose._C has no CUDA kernels (was nvcc on PATH when it was built?)'; \
print('torch', torch.__version__, torch.cuda.get_device_name(), 'CUDA runtime', c.cuda_version()); \
sys.argv = ['gpu_report', 'machine', '$RUN']; runpy.run_module('kitpose.bench.gpu_report', run_name='__main__')"
fi

# correctness side by side (no timing in them), then the benchmarks one at a time
if ((DRY)); then
  step pytest_cuda 120 "$PY" -m pytest -m cuda --collect-only -q -p no:cacheprovider tests
  skip memcheck "dry run: compute-sanitizer needs a GPU"
  skip racecheck "dry run: compute-sanitizer needs a GPU"
else
  # only the files that hold CUDA tests: a module skipped for another reason (a package this image
  # lacks) is not a CUDA skip, and every skip left is one
  mapfile -t CUDA_TESTS < <(grep -rlE "mark\.cuda|cpu_and_cuda\(\)" tests --include="test_*.py" | sort)
  step pytest_cuda 200 "$PY" -m pytest -m cuda -rs -q -p no:cacheprovider "${CUDA_TESTS[@]}" &
  step memcheck 200 "$SANITIZER" --tool memcheck --error-exitcode 1 "$PY" tests/cuda_driver.py &
  step racecheck 200 "$SANITIZER" --tool racecheck --error-exitcode 1 "$PY" tests/cuda_driver.py &
  wait
  if grep -q "^SKIPPED" "$LOGS/pytest_cuda.txt"; then  # a skipped CUDA test on a GPU is a failure
    echo "failed 1 0" >"$LOGS/pytest_cuda_skips.status"
    grep "^SKIPPED" "$LOGS/pytest_cuda.txt" >"$LOGS/pytest_cuda_skips.txt"
    echo "   FAILED: CUDA tests were skipped on a GPU machine (logs/pytest_cuda_skips.txt)"
  fi
fi

if ((DRY)); then
  step kernel_bench 120 "$PY" -m kitpose.bench kernels --device cpu --batch 8 --repeat 3 --results "$RUN/kernels_cuda.jsonl"
else
  step kernel_bench 120 "$PY" -m kitpose.bench kernels --device cuda --results "$RUN/kernels_cuda.jsonl"
fi
step model_w32 120 "${BENCH[@]}" --model "$W32" "${MODEL[@]}" --out "$RUN/report_model_w32"
step pipeline 150 "${BENCH[@]}" --model "$W32" --bench pipeline --pipelines kernels,torch,official \
  --instances "$INSTANCES" --frame-size 1080x1920 --results "$RUN/pipeline_cuda.jsonl" --out "$RUN/report_pipeline"
# the same pipeline with the model through torch.compile (captured in the CUDA graph), at 32 animals
# only: one batch bucket, one compile
step pipeline_compile 150 "${BENCH[@]}" --model "$FAST_MODEL" --bench pipeline \
  --pipelines kernels-compile,kernels,official --instances "$FAST_INSTANCES" --frame-size 1080x1920 \
  --results "$RUN/pipeline_cuda.jsonl" --out "$RUN/report_pipeline_compile"
step train 150 "$PY" -m kitpose.bench train --model "$W32" --batch "$TRAIN_BATCH" --steps "$STEPS" \
  --warmup 2 --device "$DEV" --results "$RUN/train_cuda.jsonl"
step pipeline_default 90 "${BENCH[@]}" --model default --bench pipeline --pipelines kernels,torch,official \
  --instances "$INSTANCES" --frame-size 1080x1920 --results "$RUN/pipeline_cuda.jsonl" --out "$RUN/report_pipeline_default"
step model_default 90 "${BENCH[@]}" --model default "${MODEL[@]}" --out "$RUN/report_model_default"
if ((DRY)); then  # the same code path, small enough for inductor on 2 CPU cores
  step compile 200 "${BENCH[@]}" --model default --bench model --backends torch-compile --precisions fp32 \
    --batches 1 --results "$RUN/model_cuda.jsonl" --out "$RUN/report_compile"
else
  step compile 200 "${BENCH[@]}" --model "$W32" --bench model --backends torch-compile --precisions fp16 \
    --batches "${GPU_CHECK_COMPILE_BATCHES:-1,32,256}" --results "$RUN/model_cuda.jsonl" --out "$RUN/report_compile"
fi

step summary 30 "$PY" -m kitpose.bench.gpu_report summary "$RUN"
cat "$RUN/summary.md" 2>/dev/null
if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  tar -czf "$OUT/gpu_check.tar.gz" -C "$(dirname "$RUN")" "$(basename "$RUN")"
  for f in summary.json machine.json kernels_cuda.jsonl model_cuda.jsonl pipeline_cuda.jsonl train_cuda.jsonl; do
    [[ -f $RUN/$f ]] && cp "$RUN/$f" "$OUT/"
  done
fi
failed=$(grep -lE "^(failed|timeout)" "$LOGS"/*.status | xargs -r -n1 basename | sed 's/\.status$//' | tr '\n' ' ')
echo "gpu_check: $((SECONDS - START)) s; run folder $RUN"
if [[ -n $failed ]]; then
  echo "gpu_check: FAILED or timed out: $failed"
  exit 1
fi
echo "gpu_check: every step that ran passed (skipped steps are listed in summary.md)"
