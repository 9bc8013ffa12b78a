"""``acorn edge``: the store agent's commands."""

from __future__ import annotations

import click

from acorn.cliutil import stub_command


@click.group()
def edge() -> None:
    """The store agent on the POS box."""


stub_command(edge, "run", "edge run", "Run the store agent: cashier UI, hardware and sync")
