"""k-medoids: hand-computed cases, named edge cases, properties, the export form, the front's checks, twins."""
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_same_partition, cpu_and_cuda, point_cases, random_points, separated_points
import kitpose.native
import kitpose.native_calls
import kitpose.ops
from kitpose.native import NativeUnavailableError
from kitpose.ops import available_backends, dispatch, kmedoids, kmedoids_fixed
from kitpose.ops.reference import cosine_distances, kkz_init, kmedoids_compute_dtype


def on_circle(degrees, norms) -> np.ndarray:
    """(1, N, 2) float32 points at the given angles and lengths."""
    rad = np.deg2rad(np.asarray(degrees, np.float64))
    pts = np.stack([np.cos(rad), np.sin(rad)], axis=1) * np.asarray(norms, np.float64)[:, None]
    return pts[None].astype(np.float32)


# --------------------------------------------------------------------------- hand-computed cases

def test_two_member_clusters_go_to_the_lowest_index():
    # KKZ: largest norm is point 1 (10 deg); farthest from it is point 3 (90 deg). Clusters {0, 1} and
    # {2, 3} are exact two-member ties, so the medoids move to 0 and 2 and stay there.
    x = on_circle([0, 10, 80, 90], [1, 3, 1, 1])
    assign, medoids = kmedoids(x, 2, backend="reference")
    assert medoids.tolist() == [[0, 2]] and assign.tolist() == [[0, 0, 1, 1]]


def test_three_member_cluster_moves_to_its_centre():
    # KKZ: point 0 (largest norm), then point 4 (90 deg). Cluster {0, 1, 2} at 0/10/20 deg: point 1 has
    # the smallest summed distance 2(1 - cos 10) < (1 - cos 10) + (1 - cos 20); {3, 4} is a tie -> 3.
    x = on_circle([0, 10, 20, 85, 90], [5, 1, 1, 1, 1])
    assign, medoids = kmedoids(x, 2, backend="reference")
    assert medoids.tolist() == [[1, 3]] and assign.tolist() == [[0, 0, 0, 1, 1]]


def test_first_medoid_is_the_largest_original_norm():
    # the same direction at different lengths: all normalised rows are equal, only the norm decides
    x = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [2.0, 4.0], [-1.0, 0.5]]])
    seeds = kkz_init(x, cosine_distances(x), 1)
    assert seeds.tolist() == [[1]]


def test_distances_are_exactly_symmetric_with_a_zero_diagonal():
    x = torch.from_numpy(random_points(0, (3, 24, 64)))
    d = cosine_distances(x)
    assert torch.equal(d, d.transpose(1, 2))
    assert (torch.diagonal(d, dim1=1, dim2=2) == 0).all() and (d >= 0).all()


# (medoids, assign) for `helpers.point_cases()`, derived from the rule by hand
EXPECTED = {
    "n_equals_c": ([list(range(7))], [list(range(7))]),  # every point its own cluster
    "all_equal": ([[0, 1, 2, 3]] * 2, [[0, 1, 2, 3, 0, 0]] * 2),  # all d = 0: KKZ takes 0..C-1, ties to slot 0
    "all_zero": ([[0, 1, 2]], [[0, 1, 2, 0, 0]]),  # all norms 0, all d = 1
    # rows 0-2 zero, rows 3-6 unit axes, every d is 1: seeds 3 (largest norm), then 0 and 1 (ties to
    # the lowest id); sorted [0, 1, 3], every tie goes to medoid 0, whose members all cost 4: it stays
    "zero_rows": ([[0, 1, 3]], [[0, 1, 0, 2, 0, 0, 0]]),
    "duplicates": ([[0, 3]], [[0, 0, 0, 1, 1, 1]]),  # rows e1 e1 e1 e2 e2 e2
}


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_edge_cases_give_the_documented_answer(name):
    x, c = point_cases()[name]
    want_medoids, want_assign = EXPECTED[name]
    assign, medoids = kmedoids(x, c, backend="reference")
    assert medoids.tolist() == want_medoids and assign.tolist() == want_assign


def test_single_cluster_medoid_minimises_the_summed_distance():
    x, _ = point_cases()["c_one"]
    assign, medoids = kmedoids(x, 1, backend="reference")
    d = cosine_distances(torch.from_numpy(x))[0]  # (N, N)
    assert (assign == 0).all() and medoids[0, 0] == int(d.sum(1).argmin())


# --------------------------------------------------------------------------- properties

@st.composite
def point_sets(draw):
    """(x (B, N, D) float32, C) with random shapes, sometimes with duplicated and zero rows."""
    b, n, dim = draw(st.integers(1, 3)), draw(st.integers(1, 24)), draw(st.integers(1, 64))
    x = random_points(draw(st.integers(0, 2**16)), (b, n, dim))
    if draw(st.booleans()):
        src, dst = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        x[:, dst] = x[:, src]
    if draw(st.booleans()):
        x[:, draw(st.integers(0, n - 1))] = 0.0
    return x, draw(st.integers(1, n))


def assert_valid_clustering(x: np.ndarray, assign: torch.Tensor, medoids: torch.Tensor) -> None:
    """Sorted distinct medoids in their own clusters, no empty cluster, every point at a nearest medoid."""
    b, n, _ = x.shape
    c = medoids.shape[1]
    assert assign.shape == (b, n) and medoids.shape == (b, c)
    assert assign.dtype == torch.int64 and medoids.dtype == torch.int64
    assert (medoids[:, 1:] > medoids[:, :-1]).all(), "medoids must be strictly ascending"
    assert (assign.gather(1, medoids) == torch.arange(c)).all(), "a medoid must sit in its own cluster"
    counts = torch.nn.functional.one_hot(assign, c).sum(1)  # (B, C)
    assert (counts >= 1).all(), "no cluster may be empty"
    d = cosine_distances(torch.from_numpy(x))  # (B, N, N)
    to_medoids = d.gather(1, medoids.unsqueeze(2).expand(-1, -1, n))  # (B, C, N)
    own = to_medoids.gather(1, assign.unsqueeze(1)).squeeze(1)  # (B, N)
    is_medoid = torch.zeros(b, n, dtype=torch.bool).scatter_(1, medoids, True)
    # medoids are exempt: a duplicate medoid may sit at a rounding-size negative distance
    nearest = (own <= to_medoids.min(dim=1).values) | is_medoid
    assert nearest.all(), "every point must sit at a nearest medoid"


@settings(max_examples=50, deadline=None)
@given(case=point_sets(), max_iters=st.integers(1, 6))
def test_properties_and_fixed_form_equality(case, max_iters):
    x, c = case
    assign, medoids = kmedoids(torch.from_numpy(x), c, max_iters, backend="reference")
    assert_valid_clustering(x, assign, medoids)
    fixed = kmedoids_fixed(torch.from_numpy(x), c, max_iters)
    assert torch.equal(fixed[0], assign) and torch.equal(fixed[1], medoids)


@settings(max_examples=50, deadline=None)
@given(case=point_sets())
def test_converged_medoids_minimise_their_cluster_cost(case):
    x, c = case
    assign, medoids = kmedoids(torch.from_numpy(x), c, 100, backend="reference")
    d = cosine_distances(torch.from_numpy(x).double())  # (B, N, N), float64 so only near-ties blur
    for b in range(x.shape[0]):
        for k in range(c):
            members = torch.nonzero(assign[b] == k).squeeze(1)
            cost = d[b][members][:, members].sum(1)  # summed distance of each member to the others
            mine = cost[members == medoids[b, k]]
            # float32 rounding may break a near-tie (e.g. duplicate rows) either way; nothing more
            assert mine <= cost.min() + 1e-4, f"medoid {int(medoids[b, k])} is not its cluster's cheapest"
    # a converged state is a fixed point: more rounds change nothing
    more = kmedoids_fixed(torch.from_numpy(x), c, 130)
    assert torch.equal(more[0], assign) and torch.equal(more[1], medoids)


@settings(max_examples=30, deadline=None)
@given(case=point_sets())
def test_instances_are_clustered_independently(case):
    x, c = case
    assign, medoids = kmedoids(x, c, 40, backend="reference")
    for b in range(x.shape[0]):
        alone = kmedoids(x[b:b + 1], c, 40, backend="reference")
        np.testing.assert_array_equal(alone[0][0], assign[b])
        np.testing.assert_array_equal(alone[1][0], medoids[b])


def test_separated_groups_are_found():
    x = separated_points(0, batch=4, groups=3, per_group=5, dim=16)
    assign, _ = kmedoids(x, 3, backend="reference")
    truth = np.repeat(np.arange(3), 5)[None].repeat(4, axis=0)
    assert_same_partition(assign, truth)


# --------------------------------------------------------------------------- export form

def test_fixed_form_traces_to_onnx_and_runs_in_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")

    class Cluster(torch.nn.Module):
        def forward(self, x):
            return kmedoids_fixed(x, 4, 8)

    path = tmp_path / "kmedoids.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is asked for on purpose
        torch.onnx.export(Cluster(), (torch.from_numpy(random_points(0, (2, 17, 32))),), str(path),
                          dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["assign", "medoids"], dynamic_axes={"x": {0: "B"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, x in [(2, random_points(1, (2, 17, 32))), (5, separated_points(2, 5, 4, 5, 32)[:, :17])]:
        got_assign, got_medoids = session.run(None, {"x": x})
        want_assign, want_medoids = kmedoids(x, 4, 8, backend="reference")
        np.testing.assert_array_equal(got_medoids, want_medoids, err_msg=f"batch {batch}")
        np.testing.assert_array_equal(got_assign, want_assign, err_msg=f"batch {batch}")


# --------------------------------------------------------------------------- front: types, dtypes, errors

@pytest.mark.parametrize("dtype,want", [(torch.float64, torch.float64), (torch.float32, torch.float32),
                                         (torch.float16, torch.float32), (torch.bfloat16, torch.float32)],
                         ids=["float64", "float32", "float16", "bfloat16"])
def test_distances_are_computed_in_float32_or_float64(dtype, want):
    assert kmedoids_compute_dtype(torch.zeros(1, 2, 3, dtype=dtype)).dtype == want


def test_float64_input_clusters_validly():
    x = random_points(3, (2, 12, 8), np.float64)
    got = kmedoids(torch.from_numpy(x), 3, 5, backend="reference")
    assert_valid_clustering(x, *got)
    fixed = kmedoids_fixed(torch.from_numpy(x), 3, 5)
    assert torch.equal(fixed[0], got[0]) and torch.equal(fixed[1], got[1])


def test_half_input_clusters_like_its_float32_values():
    x = random_points(4, (3, 10, 6)).astype(np.float16)
    got = kmedoids(torch.from_numpy(x), 3, backend="reference")
    want = kmedoids(torch.from_numpy(x.astype(np.float32)), 3, backend="reference")
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_numpy_in_numpy_out_and_empty_batch():
    assign, medoids = kmedoids(np.zeros((0, 5, 3), np.float32), 2, backend="reference")
    assert isinstance(assign, np.ndarray) and assign.shape == (0, 5) and medoids.shape == (0, 2)
    assert assign.dtype == np.int64 and medoids.dtype == np.int64


@pytest.mark.parametrize("x,kwargs,error,words", [
    (np.zeros((5, 3), np.float32), {}, ValueError, ["x", "(5, 3)"]),
    (np.zeros((1, 1, 5, 3), np.float32), {}, ValueError, ["x", "(1, 1, 5, 3)"]),
    (np.zeros((1, 5, 3), np.int32), {}, TypeError, ["x", "int32", "(1, 5, 3)"]),
    (torch.zeros(1, 5, 3, dtype=torch.bool), {}, TypeError, ["x", "bool"]),
    (np.zeros((1, 0, 3), np.float32), {"num_clusters": 1}, ValueError, ["x", "(1, 0, 3)"]),
    (np.zeros((1, 5, 0), np.float32), {}, ValueError, ["x", "(1, 5, 0)"]),
    (np.zeros((1, 5, 3), np.float32), {"num_clusters": 0}, ValueError, ["num_clusters", "0"]),
    (np.zeros((1, 5, 3), np.float32), {"num_clusters": 6}, ValueError, ["num_clusters", "6"]),
    (np.zeros((1, 5, 3), np.float32), {"num_clusters": 2.0}, TypeError, ["num_clusters"]),
    (np.zeros((1, 5, 3), np.float32), {"max_iters": 0}, ValueError, ["max_iters", "0"]),
    (np.full((1, 5, 3), np.nan, np.float32), {}, ValueError, ["x", "NaN"]),
    (np.zeros((1, 5, 3), np.float32), {"backend": "gpu"}, ValueError, ["backend", "gpu"]),
], ids=["rank2", "rank4", "int", "bool", "no_points", "no_features", "zero_clusters", "more_clusters_than_points",
        "float_clusters", "zero_iters", "nan", "bad_backend"])
def test_bad_arguments_raise_naming_the_argument(x, kwargs, error, words):
    kwargs = {"num_clusters": 2, "backend": "reference", **kwargs}
    with pytest.raises(error) as info:
        kmedoids(x, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_fixed_form_checks_its_arguments():
    with pytest.raises(ValueError, match="num_iters"):
        kmedoids_fixed(np.zeros((1, 5, 3), np.float32), 2, 0)


# --------------------------------------------------------------------------- backend dispatch

def test_auto_falls_back_to_the_reference_and_warns_once(monkeypatch):
    monkeypatch.setattr(dispatch, "compiled_available", lambda op, device: False)
    monkeypatch.setattr(dispatch, "_warned_fallback", set())
    x = separated_points(0, 2, 2, 3, 4)
    with pytest.warns(RuntimeWarning, match="using the PyTorch reference"):
        got = kmedoids(x, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kmedoids(x, 2)
    np.testing.assert_array_equal(got[1], kmedoids(x, 2, backend="reference")[1])


def test_compiled_backend_missing_says_what_to_build(monkeypatch):
    monkeypatch.setattr(kitpose.native, "load_native", lambda: None)  # kitpose._C not built
    monkeypatch.setattr(dispatch, "load_native", lambda: None)
    with pytest.raises(NativeUnavailableError, match="pip install -e"):
        kmedoids(np.ones((1, 4, 3), np.float32), 2, backend="cpu")
    assert available_backends() == ("reference",)


def test_cpu_backend_calls_the_compiled_op_with_the_documented_arguments(monkeypatch):
    calls = []

    def fake(x, num_clusters, max_iters, device):
        calls.append((x.device.type, x.dtype, num_clusters, max_iters, device))
        return torch.zeros(x.shape[:2], dtype=torch.int64), torch.arange(num_clusters).expand(x.shape[0], -1)

    fake_module = types.SimpleNamespace(kmedoids=fake)
    monkeypatch.setitem(sys.modules, "kitpose.ops.compiled", fake_module)
    monkeypatch.setattr(kitpose.ops, "compiled", fake_module, raising=False)
    monkeypatch.setattr(dispatch, "require_native", lambda what: None)
    assign, medoids = kmedoids(np.ones((2, 5, 3), np.float32), 3, 7, backend="cpu")
    assert calls == [("cpu", torch.float32, 3, 7, "cpu")]
    assert isinstance(assign, np.ndarray) and medoids.tolist() == [[0, 1, 2]] * 2


def test_auto_uses_the_reference_beyond_the_compiled_size_limits(monkeypatch):
    def refuse(*args):
        raise AssertionError("the compiled op must not be called beyond its limits")

    fake_module = types.SimpleNamespace(kmedoids=refuse)
    monkeypatch.setitem(sys.modules, "kitpose.ops.compiled", fake_module)
    monkeypatch.setattr(kitpose.ops, "compiled", fake_module, raising=False)
    monkeypatch.setattr(kitpose.native_calls, "MAX_POINTS", 4)
    monkeypatch.setattr(dispatch, "compiled_available", lambda op, device: True)
    x = separated_points(1, 2, 2, 3, 4)  # N = 6 > MAX_POINTS
    with pytest.warns(RuntimeWarning, match="size"):
        monkeypatch.setattr(dispatch, "_warned_fallback", set())
        got = kmedoids(x, 2)
    np.testing.assert_array_equal(got[1], kmedoids(x, 2, backend="reference")[1])


# --------------------------------------------------------------------------- compiled twins vs reference

@pytest.mark.parametrize("device", cpu_and_cuda())
def test_compiled_twin_matches_the_reference(device):
    if device not in available_backends("kmedoids"):
        pytest.skip(f"the compiled kmedoids for {device} is not built (kitpose/ops/compiled.py or kitpose._C)")
    for name, (x, c) in point_cases().items():
        got = kmedoids(torch.from_numpy(x).to(device), c, backend=device)
        want = kmedoids(torch.from_numpy(x), c, backend="reference")
        assert got[1].tolist() == want[1].tolist() and got[0].tolist() == want[0].tolist(), name
    x = random_points(7, (8, 17, 64))
    got = [t.cpu() for t in kmedoids(torch.from_numpy(x).to(device), 4, backend=device)]
    want = kmedoids(x, 4, backend="reference")
    assert_same_partition(got[0], want[0], x, got[1], want[1])


@pytest.mark.cuda
def test_cuda_batches_beyond_the_grid_z_limit_equal_the_cpu_twin():
    """70,000 instances: the CUDA launcher splits at 65,535 (gridDim.z); every instance, in both
    chunks, must equal the CPU twin's answer, means included."""
    from kitpose.ops import compiled

    x = torch.from_numpy(random_points(3, (70_000, 5, 3)))
    want = compiled.kmedoids_with_means(x, 2, 40, device="cpu")
    got = compiled.kmedoids_with_means(x.cuda(), 2, 40, device="cuda")
    for g, w in zip(got, want):
        torch.testing.assert_close(g.cpu(), w, rtol=0, atol=1e-6)
