"""DDP on CPU with gloo: two processes, DistributedSampler shards, replicas stay identical."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from kitpose.train.distributed import ResumableSampler, cleanup_distributed, init_distributed
from kitpose.train.loop import fit
from train_fakes import TinyDataset, make_run

WORLD = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    ctx = init_distributed("cpu")
    try:
        # Different initial weights per rank: DDP must broadcast rank 0's at construction.
        run = make_run(out_dir, ctx=ctx, init_seed=rank, epochs=2)
        indices = list(iter(run.sampler))
        fit(run, epochs=2, max_steps=5)
        params = {k: v.detach() for k, v in run.model.module.named_parameters()}
        torch.save({"params": params, "indices": indices, "step": run.progress.step},
                   os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        cleanup_distributed()


def test_two_ranks_keep_identical_parameters(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD))
    assert r0["step"] == r1["step"] == 5
    assert set(r0["indices"]).isdisjoint(r1["indices"])  # each rank sees its own shard
    assert len(r0["indices"]) == len(r1["indices"]) == len(TinyDataset()) // WORLD
    for name, value in r0["params"].items():
        assert torch.equal(value, r1["params"][name]), name
    assert (tmp_path / "last.pt").exists()  # written by rank 0 only, at the stop step
    assert not any(p.name.startswith(".last.pt") for p in tmp_path.iterdir())


def test_sampler_skip_resumes_the_same_order():
    from train_fakes import CPU

    sampler = ResumableSampler(TinyDataset(), CPU, seed=3)
    sampler.set_position(epoch=2, skip_samples=0)
    full = list(sampler)
    sampler.set_position(epoch=2, skip_samples=8)
    assert list(sampler) == full[8:] and len(sampler) == len(full) - 8
    sampler.set_position(epoch=3, skip_samples=0)
    assert list(sampler) != full and sorted(sampler) == sorted(full)
