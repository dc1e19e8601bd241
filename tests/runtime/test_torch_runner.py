"""TorchRunner options: channels-last matches the plain run; CUDA graphs replay per batch bucket."""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kitpose.runtime.torch_runner import TorchRunner  # noqa: E402


@pytest.fixture(scope="module")
def crops():
    return np.random.default_rng(0).standard_normal((3, 3, 128, 128)).astype(np.float32)


def test_channels_last_matches_contiguous(small_model, crops):
    plain = TorchRunner(small_model)(crops)
    nhwc = TorchRunner(copy.deepcopy(small_model), channels_last=True)(crops)  # .to() is in place
    assert plain.shape == (3, 17, 32, 32) and nhwc.dtype == np.float32
    np.testing.assert_allclose(nhwc, plain, atol=1e-4)


def test_cuda_graphs_need_a_cuda_device(small_model):
    with pytest.raises(ValueError, match="cuda_graphs needs a CUDA device"):
        TorchRunner(small_model, device="cpu", cuda_graphs=True)


@pytest.mark.cuda
def test_cuda_graph_buckets_match_eager(small_model, crops):
    eager = TorchRunner(copy.deepcopy(small_model), device="cuda")(crops)
    runner = TorchRunner(copy.deepcopy(small_model), device="cuda", cuda_graphs=True)
    np.testing.assert_allclose(runner(crops), eager, atol=1e-4)       # bucket 4, padded
    np.testing.assert_allclose(runner(crops[:1]), eager[:1], atol=1e-4)  # bucket 1
    assert sorted(runner.graphs) == [1, 4]
