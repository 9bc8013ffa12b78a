"""The ``acorn`` console script: one command tree for demo, hub, edge, provisioning and tools."""

from __future__ import annotations

import click

from acorn import __version__
from acorn.broker import broker_command
from acorn.demo.cli import demo_command
from edge_agent.cli import edge
from hub.channels.amazon.sandbox.cli import amazon_sandbox
from hub.cli import hub
from provisioning.cli import provision

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="acorn")
def cli() -> None:
    """Acorn runs a retail chain's stores and marketplace channels as one business."""


cli.add_command(hub)
cli.add_command(edge)
cli.add_command(provision)


@cli.group()
def sandbox() -> None:
    """Local stand-ins for marketplace services (development, demo and tests)."""


sandbox.add_command(amazon_sandbox)
cli.add_command(demo_command)
cli.add_command(broker_command)


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="acorn")


if __name__ == "__main__":
    main()
