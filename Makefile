# Quick start: `make demo` (set up, then run the demo on the embedded default model) and
# `make test` (set up, then run the test suite). Both create .venv at the repository root.
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel on our machines. Never leave torch unpinned here: an unpinned torch pulls gigabytes
# of CUDA packages. GPU users install their own torch first and run `pip install -e ".[dev]"`.
TORCH_VERSION ?= 2.13.0
NATIVE_SOURCES := CMakeLists.txt setup.py $(shell find csrc -type f 2>/dev/null)
PYTEST_ARGS ?=
PY_VERSION = $(shell $(PY) -c "import sysconfig; print(sysconfig.get_config_var('py_version_short'))")

# The Triton server's own environment (kitpose/serving/interpreter.py says why): ~170 MB from PyPI.
SERVE_ENV := $(VENV)/serve

.PHONY: setup build serve-env cross-tools test demo gpu-check gpu-check-dry clean

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

# For tests/ops/test_aarch64.py: Debian's aarch64 cross toolchain and qemu-user (apt, as root), and
# Debian's arm64 CPython headers for the aarch64 kitpose._C (downloaded, not installed). A failure
# here does not stop `make test`: those tests then skip and say what is missing.
CROSS_APT := g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
CROSS_PY_HEADERS := build/cross/python-aarch64
cross-tools:
	@command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $(CROSS_APT) >/dev/null; } || echo "cross-tools: could not install $(CROSS_APT); the aarch64 tests will skip"
	@test -f $(CROSS_PY_HEADERS)/include/python$(PY_VERSION)/Python.h || \
	  bash tests/cross/fetch_python_headers.sh $(CROSS_PY_HEADERS) $(PY_VERSION) || \
	  echo "cross-tools: no arm64 Python headers; the aarch64 kitpose._C test will skip"

test: setup serve-env cross-tools
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
