"""``acorn provision``: bring stores online and check them."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from acorn.cliutil import fail
from hub.cli import CONFIG_OPTION, DATABASE_OPTION

EXIT_DOCTOR_FAILED = 1


@click.group()
def provision() -> None:
    """Create, enroll, revoke and check stores."""


# --- hub side ------------------------------------------------------------------------------


def _hub(config_file: Path | None, database_url: str | None) -> tuple[Any, Any]:
    from hub.cli import _engine, _require_migrated, _settings
    from hub.db.engine import make_sessionmaker

    settings = _settings(config_file, database_url=database_url)
    engine = _engine(settings, writer=True)
    _require_migrated(engine, settings)
    return settings, make_sessionmaker(engine)


def _secrets_key(settings: Any) -> str:
    if settings.secrets_key is None:
        fail(
            "ACORN_HUB_SECRETS_KEY is not set: enrollment codes and hub secrets need it. "
            "Make one with `acorn provision keygen` and keep it in the hub's environment",
            code=2,
        )
    key: str = settings.secrets_key.get_secret_value()
    return key


def enrollment_qr(code: str, hub_url: str | None) -> str:
    """The enrollment QR as terminal text (what a phone or the box's scanner can read)."""
    import qrcode

    data = f"acorn:enroll?code={code}" + (f"&hub={hub_url}" if hub_url else "")
    qr = qrcode.QRCode(border=1)
    qr.add_data(data)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


def _print_code(issued: Any, settings: Any) -> None:
    hours = (issued.expires_at - datetime.now(UTC)).total_seconds() / 3600
    click.echo(f"Store {issued.store_id}: enrollment code (works once)")
    click.echo("")
    click.echo(f"    {issued.code}")
    click.echo("")
    click.echo(enrollment_qr(issued.code, settings.public_url), nl=False)
    click.echo(
        f"Valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC (about {hours:.0f} h). On the box: "
        f"acorn provision enroll --hub {settings.public_url or 'https://HUB:PORT'} "
        f"--code {issued.code}"
    )


@provision.group()
def store() -> None:
    """Stores on the hub (run these on the hub)."""


@store.command("create")
@CONFIG_OPTION
@DATABASE_OPTION
@click.option("--id", "store_id", required=True, help="Store id, e.g. s-012 (a-z, 0-9, -).")
@click.option("--name", required=True, help="Store name shown on receipts and the dashboard.")
@click.option("--tz", "timezone", required=True, help="IANA time zone, e.g. Europe/London.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. GBP.")
@click.option("--address", default="", help="Postal address (comma-separated lines).")
@click.option("--lat", type=float, help="Latitude (for routing online orders).")
@click.option("--lon", type=float, help="Longitude.")
@click.option("--price-list", default="default", show_default=True, help="Price list id.")
@click.option(
    "--stock",
    "stock_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Opening stock, CSV sku,on_hand (loaded into the box at enrollment).",
)
@click.option("--valid-hours", type=float, help="Code lifetime (default enroll_code_ttl_s).")
def store_create(
    config_file: Path | None,
    database_url: str | None,
    store_id: str,
    name: str,
    timezone: str,
    currency: str,
    address: str,
    lat: float | None,
    lon: float | None,
    price_list: str,
    stock_csv: Path | None,
    valid_hours: float | None,
) -> None:
    """Create a store and print its one-time enrollment code (text and QR)."""
    from hub.db.provisioning import create_store, set_opening_stock
    from hub.db.stores import HubDataError
    from provisioning.secretbox import SecretKeyError, code_pepper

    settings, sessions = _hub(config_file, database_url)
    key = _secrets_key(settings)
    ttl = (
        timedelta(hours=valid_hours)
        if valid_hours
        else timedelta(seconds=settings.enroll_code_ttl_s)
    )
    now = datetime.now(UTC)
    try:
        with sessions.begin() as session:
            issued = create_store(
                session,
                store_id=store_id,
                name=name,
                timezone=timezone,
                currency=currency.upper(),
                address=address,
                lat=lat,
                lon=lon,
                price_list_id=price_list,
                pepper=code_pepper(key),
                code_ttl=ttl,
                now=now,
            )
            if stock_csv is not None:
                set_opening_stock(session, store_id, stock_csv.read_text(encoding="utf-8"), now=now)
    except (HubDataError, SecretKeyError) as err:
        fail(str(err))
    _print_code(issued, settings)


@store.command("code")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("store_id")
@click.option("--valid-hours", type=float, help="Code lifetime (default enroll_code_ttl_s).")
def store_code(
    config_file: Path | None, database_url: str | None, store_id: str, valid_hours: float | None
) -> None:
    """Issue a new enrollment code for a store (re-enroll or replace its box)."""
    from hub.db.provisioning import issue_code
    from hub.db.stores import HubDataError
    from provisioning.secretbox import SecretKeyError, code_pepper

    settings, sessions = _hub(config_file, database_url)
    key = _secrets_key(settings)
    ttl = (
        timedelta(hours=valid_hours)
        if valid_hours
        else timedelta(seconds=settings.enroll_code_ttl_s)
    )
    try:
        with sessions.begin() as session:
            issued = issue_code(
                session, store_id, pepper=code_pepper(key), ttl=ttl, now=datetime.now(UTC)
            )
    except (HubDataError, SecretKeyError) as err:
        fail(str(err))
    _print_code(issued, settings)
    click.echo("Older unused codes of this store no longer work.", err=True)


@store.command("revoke")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("store_id")
def store_revoke(config_file: Path | None, database_url: str | None, store_id: str) -> None:
    """Disable a store and its broker credentials at once (a connected box is cut off)."""
    from hub.broker_credentials import BrokerCredentials
    from hub.config import ConfigError
    from hub.db.provisioning import revoke_store
    from hub.db.stores import HubDataError
    from provisioning.broker import BrokerFilesError

    settings, sessions = _hub(config_file, database_url)
    credentials = BrokerCredentials(settings)
    try:
        with sessions.begin() as session:
            revoke_store(session, store_id, now=datetime.now(UTC))
            credentials.sync(session)
    except HubDataError as err:
        fail(str(err))
    except (BrokerFilesError, ConfigError) as err:
        fail(f"store {store_id} NOT revoked: {err}")
    if credentials.enabled:
        click.echo(
            f"store {store_id} revoked: its broker account is gone and the broker was reloaded, "
            "which disconnects the box if it is online; its unused codes no longer work"
        )
    else:
        click.echo(f"store {store_id} revoked on the hub (events from it are refused).")
        click.echo(
            "warning: broker_password_file/broker_acl_file are not set, so the broker account "
            "was not removed: remove it on the broker by hand",
            err=True,
        )


@provision.group()
def broker() -> None:
    """The broker's accounts, kept by the hub."""


@broker.command("sync")
@CONFIG_OPTION
@DATABASE_OPTION
def broker_sync(config_file: Path | None, database_url: str | None) -> None:
    """Rewrite Mosquitto's password file and ACL from the database and reload it."""
    from hub.broker_credentials import BrokerCredentials
    from hub.config import ConfigError
    from provisioning.broker import BrokerFilesError

    settings, sessions = _hub(config_file, database_url)
    credentials = BrokerCredentials(settings)
    if not credentials.enabled:
        fail("set broker_password_file and broker_acl_file in the hub's config first", code=2)
    try:
        with sessions.begin() as session:
            credentials.sync(session)
    except (BrokerFilesError, ConfigError) as err:
        fail(str(err))
    click.echo(f"{settings.broker_password_file} and {settings.broker_acl_file} are up to date")


@provision.command("keygen")
def keygen() -> None:
    """Print a new key for ACORN_HUB_SECRETS_KEY (keep it out of files and logs)."""
    from provisioning.secretbox import new_key

    click.echo(new_key())


@provision.group()
def secret() -> None:
    """Hub secrets (marketplace tokens, broker passwords), encrypted at rest."""


@secret.command("set")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("name")
def secret_set(config_file: Path | None, database_url: str | None, name: str) -> None:
    """Store a secret read from stdin (first line), encrypted with ACORN_HUB_SECRETS_KEY."""
    from hub.db.provisioning import put_secret
    from hub.db.stores import HubDataError

    settings, sessions = _hub(config_file, database_url)
    key = _secrets_key(settings)
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail(
            'give the secret on stdin, e.g. `printf %s "$TOKEN" | acorn provision secret set NAME`'
        )
    try:
        with sessions.begin() as session:
            put_secret(session, name, value, key=key, now=datetime.now(UTC))
    except HubDataError as err:
        fail(str(err))
    click.echo(f"secret {name!r} stored (encrypted)")


@secret.command("list")
@CONFIG_OPTION
@DATABASE_OPTION
def secret_list(config_file: Path | None, database_url: str | None) -> None:
    """List secret names and when they changed (never their values)."""
    from hub.db.provisioning import secret_names

    _, sessions = _hub(config_file, database_url)
    with sessions() as session:
        for name, updated in secret_names(session):
            click.echo(f"{name}\t{updated:%Y-%m-%d %H:%M} UTC")


# --- box side ------------------------------------------------------------------------------


@provision.command("enroll")
@click.option("--hub", "hub_url", required=True, help="The hub's URL, e.g. https://hub:8700.")
@click.option("--code", required=True, help="The one-time code, XXXX-XXXX.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where edge.toml, the secrets and the database go.",
)
@click.option(
    "--ca",
    "ca_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA certificate to pin for the hub's HTTPS (from HQ).",
)
@click.option("--systemd", is_flag=True, help="Also write a systemd unit for `acorn edge run`.")
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/etc/systemd/system"),
    show_default=True,
    help="Where --systemd writes acorn-edge.service.",
)
def enroll_command(
    hub_url: str, code: str, data_dir: Path, ca_file: Path | None, systemd: bool, unit_dir: Path
) -> None:
    """Enroll this POS box with a one-time code."""
    from edge_agent.config import ConfigError
    from edge_agent.store.errors import StoreError
    from provisioning.enroll import EnrollError, enroll

    try:
        result = enroll(
            hub_url, code, data_dir, ca_file=ca_file, unit_dir=unit_dir if systemd else None
        )
    except EnrollError as err:
        fail(str(err))
    except (ConfigError, StoreError, OSError) as err:
        fail(f"enrollment was accepted but the box could not be set up: {err}")
    click.echo(f"Enrolled as store {result.store_id} ({result.store_name}).")
    click.echo(f"  config:   {result.config_path}")
    click.echo(f"  catalog:  {result.products} products; starting stock: {result.stock_lines} SKUs")
    if result.unit_path is not None:
        click.echo(
            f"  service:  {result.unit_path} "
            "(systemctl daemon-reload && systemctl enable --now acorn-edge)"
        )
    else:
        click.echo(f"  run:      acorn edge run --config {result.config_path}")
    click.echo(f"Check it:  acorn provision doctor --config {result.config_path}")


@provision.command("doctor")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="ACORN_EDGE_CONFIG",
    default=Path("edge.toml"),
    show_default=True,
    help="The box's edge.toml.",
)
@click.option("--test-page", is_flag=True, help="Print a test page on the receipt printer.")
@click.option(
    "--print-id", is_flag=True, help="Print the store id and enrollment QR on the receipt printer."
)
@click.option("--scan", "scan_s", type=float, help="Wait this many seconds for a test scan.")
def doctor_command(
    config_path: Path, test_page: bool, print_id: bool, scan_s: float | None
) -> None:
    """Check config, database, broker, clock, printer and scanner; exit 1 on a failure."""
    from provisioning.doctor import DoctorOptions, exit_code, render_table, run_doctor

    checks = run_doctor(
        DoctorOptions(
            config_path=config_path,
            test_page=test_page,
            print_identity=print_id,
            scan_timeout_s=scan_s,
        )
    )
    click.echo(render_table(checks))
    raise SystemExit(exit_code(checks))
