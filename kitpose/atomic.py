"""Atomic file writes: a temp file beside the destination, fsync, then os.replace.

A crash mid-write leaves any previous file intact and never half a file under the final name. The
temp file is created as open() creates files (mode 0666 less the umask), not with tempfile.mkstemp's
fixed 0600, so exports and checkpoints are as readable as any other file the user writes. A write
also removes the temp files that killed writes of the same destination left behind (older than
STALE_AFTER_S, so a concurrent writer's live temp file is never touched).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

STALE_AFTER_S = 600.0  # a temp file this old belongs to a writer that died


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """A binary handle whose contents replace `path` when the block ends without an exception.

    Args:
        path: destination file (its folder is created).
    Yields:
        The temp file, open for writing; removed again when the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp, fd = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write bytes to path atomically (see atomic_open). Returns the path."""
    with atomic_open(path) as handle:
        handle.write(data)
    return Path(path)


def _create_temp(path: Path) -> tuple[Path, int]:
    """A new hidden temp file beside path, created with mode 0666 & ~umask; (its path, its fd)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: could not create a temp file for {path.name}")


def remove_stale_temps(path: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove `.<name>.*.tmp` files beside path not modified for older_than_s seconds; returns them."""
    cutoff, removed = time.time() - older_than_s, []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            continue  # another process removed or renamed it first
    return removed
