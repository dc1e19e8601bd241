"""`python -m kitpose.export`: the export pipeline (kitpose.export.pipeline.STAGES) from --from to --to.

    python -m kitpose.export --model default --out out/ --precision fp16 --to engine
"""
from __future__ import annotations

from kitpose.export.cli import pipeline_cmd


def main(argv: list[str] | None = None) -> None:
    """Parse argv (default sys.argv[1:]) and run the pipeline; exits with the command's code."""
    pipeline_cmd.main(args=argv, prog_name="python -m kitpose.export")


if __name__ == "__main__":
    main()
