"""Markers and skips: a test that cannot run here is skipped with its reason, never dropped."""
import importlib.util
import random

import cv2
import numpy as np
import pytest

from kitpose.native import load_native, native_has_cuda


def _has_trt() -> bool:
    return any(importlib.util.find_spec(m) is not None for m in ("tensorrt", "tensorrt_rtx"))


def pytest_collection_modifyitems(config, items):
    skips = {
        "cuda": (native_has_cuda(), "needs a CUDA GPU and kitpose._C built with CUDA"),
        "trt": (_has_trt(), "needs the tensorrt or tensorrt_rtx Python package"),
    }
    for item in items:
        for marker, (available, reason) in skips.items():
            if marker in item.keywords and not available:
                item.add_marker(pytest.mark.skip(reason=reason))
        if "native" in item.fixturenames and load_native() is None:
            item.add_marker(pytest.mark.skip(reason="kitpose._C is not built"))


@pytest.fixture(scope="session")
def cuda_emu():
    """kitpose._C's CUDA kernels built for the CPU under the emulated runtime (tests/emulated_cuda.py)."""
    import shutil

    if shutil.which("g++") is None:
        pytest.skip("needs g++ to build the emulated CUDA kernels")
    from emulated_cuda import load_emulated_module

    module = load_emulated_module()
    assert module.has_cuda() and module.cuda_device_count() == 0
    return module


@pytest.fixture(autouse=True)
def _restore_rng():
    """Tests may seed freely; the global RNG state is put back afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        import torch
        torch_state = torch.random.get_rng_state()
    except ImportError:
        torch_state = None
    yield
    random.setstate(py_state)
    np.random.set_state(np_state)
    if torch_state is not None:
        torch.random.set_rng_state(torch_state)


@pytest.fixture
def native():
    """The compiled module (tests using it are skipped when it is not built)."""
    return load_native()


@pytest.fixture()
def frame():
    """(96, 128, 3) uint8 BGR test frame with structure (gradients and a disc)."""
    ys, xs = np.mgrid[:96, :128]
    img = np.stack([xs * 2, ys * 2, (xs + ys)], axis=-1).astype(np.uint8)
    cv2.circle(img, (64, 48), 20, (0, 0, 255), -1)
    return img
