"""`python -m kitpose.bench <name> [options]`: run one benchmark by name.

    python -m kitpose.bench kernels --device cuda      (kitpose.bench.kernels)
    python -m kitpose.bench train --model kitpose-w32-256 --device cuda   (kitpose.bench.train_bench)
    python -m kitpose.bench run --bench model ...      (`kitpose bench`: kitpose.bench.cli)
"""
from __future__ import annotations

import click

from kitpose.commands import LazyGroup


def _kernels() -> click.Command:
    from kitpose.bench.kernels import kernels_cmd

    return kernels_cmd


def _train() -> click.Command:
    from kitpose.bench.train_bench import train_cmd

    return train_cmd


def _run() -> click.Command:
    from kitpose.bench.cli import bench_cmd

    return bench_cmd


@click.group(cls=LazyGroup, lazy={"kernels": _kernels, "train": _train, "run": _run},
             context_settings={"help_option_names": ["-h", "--help"]})
def bench_group() -> None:
    """Run one benchmark by name; each appends JSON rows under bench/results/."""


def main(argv: list[str] | None = None) -> None:
    """Dispatch to the named benchmark (exits with its status)."""
    bench_group.main(args=argv, prog_name="python -m kitpose.bench")


if __name__ == "__main__":
    main()
