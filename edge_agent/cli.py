"""``acorn edge``: the store agent's commands (run it, set up its database, cashiers, products)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from acorn.cliutil import fail

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIG = 2
EXIT_STORE = 3

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ACORN_EDGE_CONFIG",
    help="The agent's TOML file (also ACORN_EDGE_CONFIG); ACORN_EDGE_* variables override keys.",
)


def _settings(config_path: Path | None, **overrides: Any) -> Any:
    from edge_agent.config import ConfigError, load_settings

    try:
        return load_settings(config_path, **overrides)
    except ConfigError as err:
        fail(str(err), code=EXIT_CONFIG)


def _store_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from edge_agent.config import ConfigError
        from edge_agent.store.errors import StoreError

        try:
            return func(*args, **kwargs)
        except ConfigError as err:
            fail(str(err), code=EXIT_CONFIG)
        except StoreError as err:
            fail(str(err), code=EXIT_STORE)

    return wrapper  # type: ignore[return-value]


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group()
def edge() -> None:
    """The store agent on the POS box."""


@edge.command("run")
@config_option
@click.option("--port", type=int, help="Serve the cashier UI on this port (overrides ui.port).")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@_store_errors
def run_command(config_path: Path | None, port: int | None, log_level: str) -> None:
    """Run the store agent: cashier UI, hardware and sync, until SIGTERM or Ctrl-C."""
    from edge_agent.app import run

    _setup_logging(log_level)
    settings = _settings(config_path)
    if port is not None:
        settings = settings.model_copy(update={"ui": settings.ui.model_copy(update={"port": port})})

    def started(agent: Any) -> None:
        click.echo(f"acorn edge: store {settings.store_id} cashier UI on {agent.ui_url}", err=True)

    run(settings, on_started=started)


@edge.command("init-db")
@config_option
@click.option(
    "--start-seq",
    type=click.IntRange(min=1),
    default=None,
    help="First outbox seq for a replacement box taking over an existing store "
    "(HQ gives the number); a new store starts at 1.",
)
@_store_errors
def init_db(config_path: Path | None, start_seq: int | None) -> None:
    """Create or upgrade the edge database named in the config (safe to run again)."""
    from edge_agent.app import open_store_for
    from edge_agent.store.migrations import current_version

    settings = _settings(config_path)
    store = open_store_for(settings)
    if start_seq is not None:
        if store.last_seq() >= start_seq:
            fail(
                f"this database already wrote seq {store.last_seq()}; --start-seq must be higher",
                code=EXIT_STORE,
            )
        store.start_seq_at(start_seq)
    click.echo(
        f"edge database {settings.database} ready for store {settings.store_id} "
        f"(schema v{current_version(store.db)}, next seq {store.last_seq() + 1})"
    )
    store.close()


@edge.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_store_errors
def status(config_path: Path | None, as_json: bool) -> None:
    """Show the outbox (queued events, oldest age, last and acked seq), shift and dead letters."""
    from edge_agent.app import open_store_for
    from edge_agent.store.migrations import current_version

    settings = _settings(config_path)
    store = open_store_for(settings)
    stats = store.outbox.stats()
    shift = store.shifts.current()
    data = {
        "store_id": settings.store_id,
        "database": str(settings.database),
        "schema_version": current_version(store.db),
        "catalog_version": store.catalog.version(),
        "outbox_depth": stats.depth,
        "oldest_unsynced_age_s": stats.oldest_unsynced_age_s,
        "last_seq": stats.last_seq,
        "acked_seq": stats.acked_seq,
        "dead_letters": store.inbound.dead_letter_count(),
        "open_shift": shift.shift_id if shift else None,
    }
    store.close()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        click.echo(f"{key:24} {value}")


@edge.group()
def cashier() -> None:
    """People who log in at the till (PINs are stored hashed)."""


@cashier.command("add")
@config_option
@click.option("--id", "cashier_id", required=True, help="Login id, e.g. 'ann' or '1042'.")
@click.option("--name", required=True, help="Name shown on screen and receipts.")
@click.option(
    "--role", type=click.Choice(["cashier", "manager"]), default="cashier", show_default=True
)
@click.option(
    "--pin-stdin",
    is_flag=True,
    help="Read the PIN from standard input (for scripts) instead of prompting.",
)
@_store_errors
def cashier_add(
    config_path: Path | None, cashier_id: str, name: str, role: str, pin_stdin: bool
) -> None:
    """Add a cashier or manager; the PIN (4-8 digits) is asked twice and never echoed."""
    from edge_agent.app import open_store_for
    from edge_agent.store.cashiers import Role

    settings = _settings(config_path)
    if pin_stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = click.prompt("PIN", hide_input=True, confirmation_prompt=True)
    store = open_store_for(settings)
    view = store.cashiers.add(cashier_id, name, pin, role=Role(role))
    store.close()
    click.echo(f"{view.role} {view.id} ({view.name}) added")


@cashier.command("list")
@config_option
@_store_errors
def cashier_list(config_path: Path | None) -> None:
    """List cashiers and managers."""
    from edge_agent.app import open_store_for

    store = open_store_for(_settings(config_path))
    for c in store.cashiers.list():
        click.echo(f"{c.id:16} {c.role:8} {'active' if c.active else 'disabled':9} {c.name}")
    store.close()


@cashier.command("disable")
@config_option
@click.argument("cashier_id")
@_store_errors
def cashier_disable(config_path: Path | None, cashier_id: str) -> None:
    """Stop a cashier from logging in (their past sales stay)."""
    from edge_agent.app import open_store_for

    store = open_store_for(_settings(config_path))
    store.cashiers.set_active(cashier_id, active=False)
    store.close()
    click.echo(f"cashier {cashier_id} disabled")


@edge.group()
def product() -> None:
    """Products on this till (normally the hub's catalog sends them)."""


@product.command("add")
@config_option
@click.option("--sku", required=True)
@click.option("--name", required=True)
@click.option(
    "--price-minor",
    type=click.IntRange(min=0),
    required=True,
    help="Price in minor units (pence, cents; yen for JPY).",
)
@click.option("--tax-class", default="standard", show_default=True)
@click.option(
    "--barcode",
    "barcodes",
    multiple=True,
    help="EAN-8, UPC-A, EAN-13 or GTIN-14; repeat for several.",
)
@_store_errors
def product_add(
    config_path: Path | None,
    sku: str,
    name: str,
    price_minor: int,
    tax_class: str,
    barcodes: tuple[str, ...],
) -> None:
    """Add or replace a product locally (to test a till before the first catalog arrives)."""
    from edge_agent.app import open_store_for
    from protocol.errors import GtinError

    settings = _settings(config_path)
    if tax_class not in settings.tax.rates:
        fail(
            f"tax class {tax_class!r} is not in [tax.rates] ({', '.join(settings.tax.rates)})",
            code=EXIT_CONFIG,
        )
    store = open_store_for(settings)
    try:
        store.catalog.upsert(sku, name, price_minor, tax_class, barcodes=list(barcodes))
    except GtinError as err:
        fail(f"invalid barcode: {err}", code=EXIT_STORE)
    finally:
        store.close()
    click.echo(f"product {sku} saved")


@edge.command("dead-letters")
@config_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@_store_errors
def dead_letters(config_path: Path | None, limit: int) -> None:
    """List inbound messages that could not be applied, with the reason."""
    from edge_agent.app import open_store_for

    store = open_store_for(_settings(config_path))
    for d in store.inbound.dead_letters(limit=limit):
        click.echo(f"#{d.id} {d.received_at:%Y-%m-%d %H:%M:%S} {d.topic} {d.reason}: {d.detail}")
    store.close()
