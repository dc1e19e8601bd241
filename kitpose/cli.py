"""The `kitpose` command. Each subcommand parses flags and calls one library function."""
from __future__ import annotations

import json

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kitpose")
def main() -> None:
    """kitpose: structure-aware pose estimation from training to real-time edge inference."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def info(as_json: bool) -> None:
    """Versions, compiled kernels (CPU/CUDA), torch / ONNX Runtime / TensorRT availability."""
    from kitpose.info import format_info, system_info

    record = system_info()
    click.echo(json.dumps(record, indent=2) if as_json else format_info(record))


if __name__ == "__main__":
    main()
