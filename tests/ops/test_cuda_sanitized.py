"""CPU stand-ins for compute-sanitizer: the emulated CUDA kernels (tests/emulated_cuda.py) driven by
tests/cuda_emulator/sanitize_driver.cpp under AddressSanitizer + UndefinedBehaviorSanitizer (memcheck:
every buffer has its exact size, so one element past an end is reported) and ThreadSanitizer
(racecheck: the emulated threads of a block share the kernels' __shared__ arrays, and an access that
no barrier orders is reported whatever the schedule). The GPU's own compute-sanitizer runs are in
`make gpu-check`.
"""
import os
import shutil
import subprocess

import pytest

from emulated_cuda import build_sanitized_driver

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emulated kernels")]


@pytest.mark.parametrize("sanitizer", ["address,undefined", "thread"], ids=["memcheck", "racecheck"])
def test_emulated_kernels_run_clean_under_the_sanitizer(sanitizer):
    driver = build_sanitized_driver(sanitizer)
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1", "TSAN_OPTIONS": "halt_on_error=1"}
    run = subprocess.run([str(driver)], capture_output=True, text=True, timeout=900, env=env)
    report = run.stdout + run.stderr
    assert run.returncode == 0 and "all ops ran" in run.stdout, f"{sanitizer} found problems:\n{report[-6000:]}"
    assert "WARNING" not in report and "runtime error" not in report, report[-6000:]
