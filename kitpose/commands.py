"""Click plumbing every kitpose command line shares: subcommands imported on first use, and running
a command as a program that returns its exit code.

Every command module (`kitpose ...`, `python -m kitpose.bench ...`, `python -m kitpose.runtime.steady_state`,
`python -m kitpose.serving.server`, ...) defines a click command; the same things carry the same option
names: `--model` (a model spec or file), `--device` (cpu, cuda, or auto where the command can choose),
`--out` (where the command writes its outputs), `--results` (a JSON Lines file benchmark rows are appended
to) and `--json` (JSON instead of text). Older spellings that scripts use stay as hidden options.

Torch-free: imports only click, so `kitpose infer` and the Triton serve env can use it.
"""
from __future__ import annotations

from collections.abc import Callable

import click

CommandLoader = Callable[[], click.Command]


class InputError(click.ClickException):
    """A user's input that cannot be used: one `Error: ...` line (a multi-line message joined) and exit
    code 2, as click's own usage errors."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__("; ".join(line.strip() for line in str(message).splitlines() if line.strip()))


def is_third_party(err: ImportError) -> bool:
    """True when an ImportError names a module outside kitpose (a package that is not installed).

    Args:
        err: the error an import raised.
    Returns:
        False for a missing or broken kitpose module (a bug to surface, not a package to install) and
        for an error that names no module.
    """
    top = (err.name or "").split(".")[0]
    return bool(top) and top != "kitpose"


def unavailable(name: str, err: ImportError) -> click.Command:
    """A stand-in command that says which package `name` needs, instead of crashing the whole CLI.

    Args:
        name: the subcommand's name.
        err: the ImportError of a third-party package (see is_third_party).
    Returns:
        A command whose help says what is missing and whose run fails with that message.
    """
    def fail() -> None:
        raise click.ClickException(f"`kitpose {name}` needs the Python package {err.name!r}, which is "
                                   f"not installed here ({err}); install it and run again")
    return click.Command(name, callback=fail, help=f"(unavailable here: needs {err.name})")


class LazyGroup(click.Group):
    """A click group whose `lazy` subcommands are imported only when named (or listed by --help).

    A subcommand whose import fails on a missing third-party package becomes `unavailable()`; an
    ImportError from inside kitpose propagates, since it is a bug.
    """

    def __init__(self, *args, lazy: dict[str, CommandLoader] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy:
            return super().get_command(ctx, name)
        try:
            return self.lazy[name]()
        except ImportError as err:
            if not is_third_party(err):
                raise
            return unavailable(name, err)


def run_command(command: click.Command, argv: list[str] | None, prog_name: str, **context) -> int:
    """Run a click command as a program from Python: its exit code, never SystemExit.

    Args:
        command: the click command.
        argv: its arguments (None: sys.argv[1:]).
        prog_name: the name usage lines show, e.g. "python -m kitpose.bench.triton".
        **context: click.Context settings, e.g. obj.
    Returns:
        The callback's integer return value (0 when it returns None), 0 after --help, or the exit
        code of a usage or click error (its `Error:` line printed on stderr).
    """
    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False, **context)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return code if isinstance(code, int) else 0


def parse_hw(value: str, min_side: int = 1, example: str = "480x640") -> tuple[int, int]:
    """'HxW' as (h, w), or a click.BadParameter naming the value (for option callbacks)."""
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected HxW, e.g. {example}") from None
    if h < min_side or w < min_side:
        raise click.BadParameter(f"{value!r}: both sides must be at least {min_side}")
    return h, w
