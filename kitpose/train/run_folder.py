"""When a run may start in a folder: a finished run is never replaced silently (issue 13, item 1).

A folder holding a run's checkpoints or metrics is continued with `--resume`, replaced with
`--overwrite` (its run files only; anything else in the folder is left alone), or refused.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from kitpose.errors import UserInputError
from kitpose.train.epoch import BEST_NAME, LAST_NAME
from kitpose.train.metrics import CSV_NAME, CURVE_NAME, TB_DIR

CONFIG_NAME = "config.yaml"
# what marks a folder as holding a run, and what --overwrite removes
RUN_MARKERS = (LAST_NAME, BEST_NAME, CSV_NAME)
RUN_FILES = (*RUN_MARKERS, CURVE_NAME, CONFIG_NAME)


class RunFolderError(UserInputError):
    """A run folder that cannot be used as asked; the message says which flag to use instead."""


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start over a finished run, or to resume one that does not exist.

    Args:
        out: the run folder.
        resume: continue from out/last.pt (which must exist).
        overwrite: replace the run in `out` (see clear_run_folder).
    """
    if resume and overwrite:
        raise RunFolderError("--resume continues the run in the folder and --overwrite replaces it; "
                             "give one of them")
    if resume:
        if not (out / LAST_NAME).is_file():
            raise RunFolderError(f"{out / LAST_NAME}: no checkpoint to resume from; drop --resume to "
                                 "start a new run, or give the folder of the run to continue with --out")
        return
    found = [name for name in RUN_MARKERS if (out / name).exists()]
    if found and not overwrite:
        raise RunFolderError(f"{out}: already holds a training run ({', '.join(found)}); continue it "
                             "with --resume, start a new run with another --out, or replace it with "
                             "--overwrite")


def clear_run_folder(out: Path) -> None:
    """Remove the files of a previous run (checkpoints, metrics, curve, config, TensorBoard events)."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / TB_DIR, ignore_errors=True)
