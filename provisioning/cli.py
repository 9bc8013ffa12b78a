"""``acorn provision``: bring stores online and check them."""

from __future__ import annotations

import click

from acorn.cliutil import stub_command


@click.group()
def provision() -> None:
    """Create, enroll, revoke and check stores."""


@provision.group()
def store() -> None:
    """Stores on the hub."""


stub_command(
    store, "create", "provision store create", "Create a store and print its enrollment code"
)
stub_command(store, "revoke", "provision store revoke", "Disable a store and its credentials")
stub_command(provision, "enroll", "provision enroll", "Enroll this POS box with a one-time code")
stub_command(
    provision, "doctor", "provision doctor", "Check config, database, broker, clock, devices"
)
