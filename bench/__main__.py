"""`python -m kitpose.bench <name> [options]`: run one benchmark by name."""
from __future__ import annotations

import importlib
import sys

# name -> module under kitpose.bench with a main(argv) function
# ("run" is `kitpose bench`: model-only, pipeline and accuracy benches; see kitpose.bench.cli)
BENCHES = {"kernels": "kitpose.bench.kernels", "train": "kitpose.bench.train_bench",
           "run": "kitpose.bench.cli"}


def main(argv: list[str] | None = None) -> None:
    """Dispatch to the named benchmark's main()."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHES:
        names = ", ".join(BENCHES)
        raise SystemExit(f"usage: python -m kitpose.bench {{{names}}} [options]  (got {argv[:1] or 'nothing'})")
    importlib.import_module(BENCHES[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    main()
