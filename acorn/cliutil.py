"""Small helpers shared by every ``acorn`` subcommand."""

from __future__ import annotations

from typing import NoReturn

import click

EXIT_USAGE = 2
EXIT_FAILURE = 1


def fail(message: str, *, code: int = EXIT_FAILURE) -> NoReturn:
    """Print an error sentence to stderr and exit with a non-zero code."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)
