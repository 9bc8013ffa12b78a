"""``acorn hub channel``: marketplace seller accounts, SKU mappings, a sync on demand."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from acorn.cliutil import fail
from hub import cli as _hub_cli

_F = TypeVar("_F", bound=Callable[..., Any])
# hub.cli imports this module at its end; annotated here so the import cycle stays typed.
CONFIG_OPTION: Callable[[_F], _F] = getattr(_hub_cli, "CONFIG_OPTION")  # noqa: B009
DATABASE_OPTION: Callable[[_F], _F] = getattr(_hub_cli, "DATABASE_OPTION")  # noqa: B009

CLIENT_ID_ENV = "ACORN_AMAZON_CLIENT_ID"
CLIENT_SECRET_ENV = "ACORN_AMAZON_CLIENT_SECRET"
REFRESH_TOKEN_ENV = "ACORN_AMAZON_REFRESH_TOKEN"


def _sessions(config_file: Path | None, database_url: str | None) -> tuple[Any, Any]:
    settings = _hub_cli._settings(config_file, database_url=database_url)
    engine = _hub_cli._engine(settings, writer=True)
    _hub_cli._require_migrated(engine, settings)
    from hub.db.engine import make_sessionmaker

    return settings, make_sessionmaker(engine)


def _cipher(settings: Any) -> Any:
    from hub.channels.amazon.errors import ConfigError
    from hub.channels.worker import KEY_ENV, credential_cipher

    try:
        cipher = credential_cipher(settings)
    except ConfigError as err:
        fail(f"{KEY_ENV}: {err}")
    if cipher is None:
        fail(
            f"{KEY_ENV} is not set: channel credentials are sealed with it. Create one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
            ".decode())'` and keep it outside the database"
        )
    return cipher


def _secret(env: str, prompt: str, *, hide: bool) -> str:
    value = os.environ.get(env, "").strip()
    if value:
        return value
    if not sys.stdin.isatty():
        fail(f"{prompt} missing: set {env} (it is never taken as a command-line argument)")
    entered: str = click.prompt(prompt, hide_input=hide).strip()
    return entered


channel: click.Group = click.Group(
    "channel", help="Marketplace channel accounts, SKU mappings and syncs."
)


@channel.group("add")
def add() -> None:
    """Add a marketplace seller account."""


@add.command("amazon")
@CONFIG_OPTION
@DATABASE_OPTION
@click.option("--name", required=True, help="Our name for the account, e.g. amazon-us.")
@click.option(
    "--region", required=True, type=click.Choice(["na", "eu", "fe"], case_sensitive=False)
)
@click.option("--seller-id", required=True, help="The merchant token (Seller Central).")
@click.option(
    "--marketplace",
    "marketplaces",
    multiple=True,
    required=True,
    help="Marketplace code or id (repeat: --marketplace US --marketplace CA).",
)
@click.option("--endpoint", default="", help="SP-API base URL (default: the region's host).")
@click.option("--token-url", default="", help="LWA token URL (default: Amazon's).")
@click.option(
    "--orders-api", default="v0", type=click.Choice(["v0", "2026-01-01"]), show_default=True
)
@click.option(
    "--location",
    "locations",
    multiple=True,
    help="Location that ships for this account (repeat; default: every location that ships).",
)
def add_amazon(
    config_file: Path | None,
    database_url: str | None,
    name: str,
    region: str,
    seller_id: str,
    marketplaces: tuple[str, ...],
    endpoint: str,
    token_url: str,
    orders_api: str,
    locations: tuple[str, ...],
) -> None:
    """Add an Amazon seller account; LWA credentials come from the environment or a prompt.

    Set ACORN_AMAZON_CLIENT_ID, ACORN_AMAZON_CLIENT_SECRET and ACORN_AMAZON_REFRESH_TOKEN,
    or answer the prompts; they are stored sealed with ACORN_HUB_SECRETS_KEY.
    """
    from hub.channels.amazon.account import LwaCredentials, SellerAccount
    from hub.channels.amazon.errors import ConfigError
    from hub.channels.amazon.marketplaces import LWA_TOKEN_URL, Region, marketplace
    from hub.db import channels as repo
    from hub.db.stores import HubDataError

    settings, sessions = _sessions(config_file, database_url)
    cipher = _cipher(settings)
    try:
        mids = tuple(marketplace(m).marketplace_id for m in marketplaces)
        credentials = LwaCredentials(
            _secret(CLIENT_ID_ENV, "LWA client id", hide=False),
            _secret(CLIENT_SECRET_ENV, "LWA client secret", hide=True),
            _secret(REFRESH_TOKEN_ENV, "Refresh token", hide=True),
        )
        account = SellerAccount(
            name=name,
            seller_id=seller_id,
            region=Region(region.upper()),
            marketplace_ids=mids,
            credentials=credentials,
            endpoint_url=endpoint,
            lwa_token_url=token_url or LWA_TOKEN_URL,
            orders_api=orders_api,
        )
    except ConfigError as err:
        fail(str(err), code=2)
    try:
        with sessions.begin() as session:
            repo.add_account(
                session,
                account,
                cipher,
                now=datetime.now(UTC),
                allowed_locations=list(locations) if locations else None,
            )
    except HubDataError as err:
        fail(str(err))
    click.echo(
        f"added {name}: Amazon {region.upper()} seller {seller_id}, marketplaces "
        f"{', '.join(marketplaces)}, endpoint {account.endpoint}"
    )


@channel.command("credentials")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("name")
def credentials_cmd(config_file: Path | None, database_url: str | None, name: str) -> None:
    """Replace an account's LWA credentials (after the seller authorized the app again).

    Read from ACORN_AMAZON_CLIENT_ID, ACORN_AMAZON_CLIENT_SECRET and
    ACORN_AMAZON_REFRESH_TOKEN, or prompted; the channel worker picks them up at once.
    """
    from hub.channels.amazon.account import LwaCredentials
    from hub.channels.amazon.errors import ConfigError
    from hub.db import channels as repo
    from hub.db.stores import HubDataError

    settings, sessions = _sessions(config_file, database_url)
    cipher = _cipher(settings)
    try:
        credentials = LwaCredentials(
            _secret(CLIENT_ID_ENV, "LWA client id", hide=False),
            _secret(CLIENT_SECRET_ENV, "LWA client secret", hide=True),
            _secret(REFRESH_TOKEN_ENV, "Refresh token", hide=True),
        )
        with sessions.begin() as session:
            repo.replace_credentials(session, name, credentials, cipher, now=datetime.now(UTC))
    except (ConfigError, HubDataError) as err:
        fail(str(err))
    click.echo(f"{name}: credentials replaced")


@channel.command("list")
@CONFIG_OPTION
@DATABASE_OPTION
def list_cmd(config_file: Path | None, database_url: str | None) -> None:
    """List channel accounts with their health and last import (never their secrets)."""
    from hub.db import channels as repo
    from hub.db.models_channels import ChannelHealthState, ChannelImportState

    _settings_, sessions = _sessions(config_file, database_url)
    with sessions() as session:
        rows = repo.list_accounts(session)
        if not rows:
            click.echo("no channel accounts (add one with `acorn hub channel add amazon`)")
            return
        click.echo(
            f"{'name':<20} {'kind':<7} {'region':<6} {'seller':<16} {'marketplaces':<30} "
            f"{'health':<9} last import"
        )
        for row in rows:
            health = session.get(ChannelHealthState, row.id)
            imports = [session.get(ChannelImportState, (row.id, m)) for m in row.marketplace_ids]
            done = [i.last_success_at for i in imports if i is not None and i.last_success_at]
            last = min(done).strftime("%Y-%m-%d %H:%M:%SZ") if done else "never"
            status = "disabled" if not row.enabled else (health.status if health else "unknown")
            click.echo(
                f"{row.name:<20} {row.kind:<7} {row.region:<6} {row.seller_id:<16} "
                f"{','.join(row.marketplace_ids):<30} {status:<9} {last}"
            )


@channel.command("sync")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("name")
def sync(config_file: Path | None, database_url: str | None, name: str) -> None:
    """Run one order import and one quantity push for an account now."""
    from hub.channels.amazon.importer import ImportReport
    from hub.channels.amazon.runner import AccountRunner
    from hub.db import channels as repo
    from hub.db.stores import HubDataError

    settings, sessions = _sessions(config_file, database_url)
    cipher = _cipher(settings)
    try:
        with sessions() as session:
            row = repo.get_account(session, name)
    except HubDataError as err:
        fail(str(err))
    runner = AccountRunner(sessions, row, cipher)
    failed = False
    try:

        def progress(report: ImportReport) -> None:
            click.echo(
                f"  {report.marketplace_id}: page {report.pages}, {report.orders_seen} orders"
            )

        click.echo(f"importing orders of {name}...")
        for report in runner.import_orders(progress):
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())) or "none"
            state = "done" if report.completed else f"stopped: {report.error}"
            click.echo(
                f"  {report.marketplace_id}: {report.pages} page(s), {report.orders_seen} "
                f"orders ({outcomes}), {report.rejected} rejected, {len(report.events)} "
                f"event(s); {state}"
            )
            failed = failed or not report.completed
        click.echo(f"pushing quantities of {name}...")
        cycle = runner.push_quantities(full=True)
        push = cycle.report
        assert push is not None
        click.echo(
            f"  {cycle.skus_checked} mapped SKU(s) checked, {push.recorded_pending} new "
            f"quantit(ies), {push.patched} patched, {len(push.feeds_submitted)} feed(s) sent, "
            f"{len(push.feeds_finished)} feed report(s) read, {push.deferred} deferred, "
            f"{len(push.invalid)} refused, {len(push.errors)} error(s)"
        )
        for error in push.errors[:10]:
            click.echo(f"  error: {error}", err=True)
        failed = failed or bool(push.errors)
        confirmed = runner.confirm_shipments()
        click.echo(f"  {confirmed} shipment(s) confirmed")
        health = runner.evaluate_health()
        click.echo(f"health: {health.status.value}")
        for alarm in health.alarms:
            click.echo(f"  {alarm.severity.value}: {alarm.message}")
    finally:
        runner.close()
    if failed:
        fail(f"the sync of {name} did not complete (see above); the next run resumes")


@channel.group("map")
def map_group() -> None:
    """SKU mappings: canonical SKU <-> seller SKU and ASIN per marketplace."""


@map_group.command("import")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "name", help="The channel account (default: the only one).")
def map_import(
    config_file: Path | None, database_url: str | None, csv_file: Path, name: str | None
) -> None:
    """Import a mapping CSV: canonical_sku,marketplace,seller_sku,asin[,product_type]."""
    from hub.channels.amazon.mapping import parse_mapping_csv
    from hub.db import channels as repo
    from hub.db.stores import HubDataError

    _settings_, sessions = _sessions(config_file, database_url)
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        fail(f"cannot read {csv_file}: {err}")
    mappings, errors = parse_mapping_csv(text)
    try:
        with sessions.begin() as session:
            row = _pick_account(session, name)
            foreign = [m for m in mappings if m.marketplace_id not in row.marketplace_ids]
            mappings = [m for m in mappings if m.marketplace_id in row.marketplace_ids]
            result = repo.import_mappings(session, row.id, mappings, now=datetime.now(UTC))
    except HubDataError as err:
        fail(str(err))
    for error in errors:
        click.echo(f"line {error.line}: {'; '.join(error.messages)}", err=True)
    for m in foreign:
        click.echo(
            f"{m.canonical_sku}: marketplace {m.marketplace_id} is not one of {row.name}'s",
            err=True,
        )
    click.echo(
        f"{row.name}: {result.created} mapping(s) added, {result.updated} updated, "
        f"{len(errors) + len(foreign)} row(s) refused"
    )
    if errors or foreign:
        raise SystemExit(1)


def _pick_account(session: Any, name: str | None) -> Any:
    from hub.db import channels as repo
    from hub.db.stores import NotFound

    if name:
        return repo.get_account(session, name)
    rows = repo.list_accounts(session)
    if len(rows) != 1:
        raise NotFound(
            "name the account with --account"
            + ("" if rows else " (there is none yet: `acorn hub channel add amazon`)")
        )
    return rows[0]


@channel.command("unmapped")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("name")
def unmapped(config_file: Path | None, database_url: str | None, name: str) -> None:
    """Active catalog SKUs with no listing in some of the account's marketplaces."""
    from hub.channels.amazon.marketplaces import marketplace
    from hub.db import channels as repo
    from hub.db.stores import HubDataError

    _settings_, sessions = _sessions(config_file, database_url)
    try:
        with sessions() as session:
            rows = repo.unmapped_skus(session, repo.get_account(session, name))
    except HubDataError as err:
        fail(str(err))
    for item in rows:
        codes = ", ".join(marketplace(m).code for m in item.missing_marketplace_ids)
        click.echo(f"{item.canonical_sku}\t{codes}")
    click.echo(f"{len(rows)} unmapped SKU(s)", err=True)
