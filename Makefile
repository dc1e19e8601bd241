# Quick start: `make demo` (set up, then run the demo on the embedded default model) and
# `make test` (set up, then run the test suite). Both create .venv at the repository root.
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel on our machines. Never leave torch unpinned here: an unpinned torch pulls gigabytes
# of CUDA packages. GPU users install their own torch first and run `pip install -e ".[dev]"`.
TORCH_VERSION ?= 2.13.0
NATIVE_SOURCES := CMakeLists.txt setup.py $(shell find csrc -type f 2>/dev/null)
PYTEST_ARGS ?=

# The Triton server's own environment (kitpose/serving/interpreter.py says why): ~170 MB from PyPI.
SERVE_ENV := $(VENV)/serve

.PHONY: setup build serve-env test demo gpu-check gpu-check-dry clean

setup: $(VENV)/.deps $(VENV)/.native

# Python dependencies (re-run when the package metadata changes).
$(VENV)/.deps: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@ && touch $(VENV)/.native  # the editable install above just built kitpose._C

# The compiled module kitpose._C (re-built when csrc/ or the build files change).
$(VENV)/.native: $(VENV)/.deps $(NATIVE_SOURCES)
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -c "import kitpose._C"
	touch $@

build: $(VENV)/.native

# Rebuilt when its requirement list (in interpreter.py) or the main environment changes.
$(SERVE_ENV)/kitpose-serve-env.json: $(VENV)/.deps kitpose/serving/interpreter.py
	$(PY) -m kitpose.serving.interpreter create $(SERVE_ENV)

serve-env: $(SERVE_ENV)/kitpose-serve-env.json

test: setup serve-env
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/kitpose demo

# On a GPU machine (nvcc, compute-sanitizer, and a CUDA torch in GPU_PY's environment): builds
# kitpose._C for sm_90, runs the CUDA tests, compute-sanitizer memcheck and racecheck over every op,
# the kernel, model, pipeline and training benchmarks; results in bench/results/gpu/run-<time>/
# (bench/gpu_check.sh says more). Downloads nothing: after `make setup` it uses .venv, or pass e.g.
# GPU_PY=python3 for a system CUDA torch. `make gpu-check-dry` runs every step on this CPU, tiny.
GPU_PY ?= $(PY)
gpu-check:
	bash bench/gpu_check.sh $(GPU_PY)

gpu-check-dry: setup
	bash bench/gpu_check.sh --dry-run $(PY)

clean:
	rm -rf $(VENV) build *.egg-info kitpose/_C*.so
