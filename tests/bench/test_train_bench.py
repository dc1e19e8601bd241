"""The training-step bench on the CPU: both clusterings run inside a real train_step and give rows."""
import pytest

pytest.importorskip("torch")


def test_train_bench_rows_for_both_clusterings(tmp_path):
    import kitpose.models.kitpose as kit
    from kitpose.bench import train_bench

    shipped = kit._cluster
    rows = train_bench.run("default", batch=2, steps=2, warmup=0, device="cpu", amp=True)
    assert kit._cluster is shipped  # the official loop was swapped in for its run only
    steps = {r["clustering"]: r for r in rows if r["what"] == "train_step"}
    calls = {r["clustering"]: r for r in rows if r["what"] == "clustering"}
    assert set(steps) == set(calls) == {"ours", "official"}
    assert steps["ours"]["settings"]["amp"] is False  # AMP is a GPU path
    assert steps["ours"]["repeat"] == 2 and steps["ours"]["images_per_s"] > 0
    assert calls["ours"]["settings"]["shape"] == [2, 17, 32 * 32]  # the step's own (B, K, HW) heatmaps
    assert steps["ours"]["speedup_vs_official_p50"] == pytest.approx(
        steps["official"]["p50_ms"] / steps["ours"]["p50_ms"])


def test_official_cluster_finds_the_same_body_parts_as_ours_on_separated_rows():
    import torch

    from kitpose.bench.train_bench import official_cluster
    from kitpose.ops import kmedoids

    g = torch.Generator().manual_seed(0)
    centres = torch.rand(4, 64, generator=g) * 10  # (C, D)
    x = centres[torch.arange(17) % 4][None] + 0.01 * torch.rand(1, 17, 64, generator=g)  # (1, K, D)
    same_part = lambda a: a[0, :, None] == a[0, None, :]  # noqa: E731  (K, K): rows in one cluster
    # the same partition (label numbering may differ: the official loop orders its medoids its own way)
    assert torch.equal(same_part(official_cluster(x, 4, 40)), same_part(kmedoids(x, 4, 40)[0]))
    assert int(official_cluster(x, 4, 40).unique().numel()) == 4
