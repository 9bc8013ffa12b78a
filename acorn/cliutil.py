"""Small helpers shared by every ``acorn`` subcommand."""

from __future__ import annotations

from typing import NoReturn

import click

EXIT_USAGE = 2
EXIT_FAILURE = 1


def not_available(command: str) -> NoReturn:
    """Say on stderr that a command is not built yet and exit 2; never pretend it ran."""
    click.echo(f"acorn {command}: not available yet", err=True)
    raise SystemExit(EXIT_USAGE)


def fail(message: str, *, code: int = EXIT_FAILURE) -> NoReturn:
    """Print an error sentence to stderr and exit with a non-zero code."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def stub_command(group: click.Group, name: str, full_name: str, help_text: str) -> None:
    """Register a placeholder command that reports it is not available yet."""

    @group.command(
        name=name,
        help=f"{help_text} (not available yet)",
        context_settings={"ignore_unknown_options": True},
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def _stub(args: tuple[str, ...]) -> None:
        not_available(full_name)
