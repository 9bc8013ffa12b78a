"""``acorn hub``: the central hub's commands."""

from __future__ import annotations

import click

from acorn.cliutil import stub_command


@click.group()
def hub() -> None:
    """The central hub: API, dashboard, MQTT ingest and channel workers."""


stub_command(hub, "serve", "hub serve", "Run the hub API, dashboard, MQTT ingest and channel workers")
stub_command(hub, "migrate", "hub migrate", "Apply database migrations (Alembic)")


@hub.group()
def user() -> None:
    """HQ accounts and roles."""


stub_command(user, "add", "hub user add", "Create an HQ account")
stub_command(user, "list", "hub user list", "List HQ accounts")


@hub.group()
def catalog() -> None:
    """Products, barcodes and prices."""


stub_command(catalog, "import", "hub catalog import", "Import products from a CSV file")
stub_command(catalog, "export", "hub catalog export", "Export products to a CSV file")


@hub.group()
def channel() -> None:
    """Marketplace channel accounts."""


stub_command(channel, "add", "hub channel add", "Add a marketplace seller account")
stub_command(channel, "list", "hub channel list", "List channel accounts")
stub_command(channel, "sync", "hub channel sync", "Run one import and push cycle now")


@hub.group()
def finance() -> None:
    """Settlements and reconciliation."""


stub_command(finance, "import", "hub finance import", "Import a marketplace settlement file")
