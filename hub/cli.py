"""``acorn hub``: the central hub's commands."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from acorn.cliutil import fail

_LOGGER = logging.getLogger(__name__)
CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="ACORN_HUB_CONFIG",
    help="TOML file with a [hub] table (every key also settable as ACORN_HUB_<KEY>).",
)
DATABASE_OPTION = click.option(
    "--database-url",
    help="SQLAlchemy URL (sqlite:///path or postgresql://...); overrides the config.",
)


def _settings(config_file: Path | None, **overrides: Any) -> Any:
    from hub.config import ConfigError, load_settings

    try:
        return load_settings(config_file, **overrides)
    except ConfigError as err:
        fail(str(err))


def _engine(settings: Any, *, writer: bool = False) -> Any:
    from hub.db.engine import make_engine

    url = settings.effective_database_url()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return make_engine(url, writer=writer)


def _require_migrated(engine: Any, settings: Any) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from hub.db.migrate import current_revision, head_revision

    try:
        revision = current_revision(engine)
    except SQLAlchemyError as err:
        fail(f"cannot reach the database {settings.safe_database_url()}: {err.__class__.__name__}")
    if revision != head_revision():
        fail(
            f"the database {settings.safe_database_url()} is not migrated "
            f"(at {revision or 'nothing'}, need {head_revision()}): run `acorn hub migrate` first"
        )


@click.group()
def hub() -> None:
    """The central hub: API, dashboard, MQTT ingest and channel workers."""


@hub.command()
@CONFIG_OPTION
@DATABASE_OPTION
@click.option("--host", help="API listen address (default 127.0.0.1).")
@click.option("--port", type=int, help="API port (default 8600).")
@click.option("--api/--no-api", "api", default=None, help="Serve the REST API (default on).")
@click.option("--ingest/--no-ingest", "ingest", default=None, help="Run the MQTT ingest worker.")
def serve(
    config_file: Path | None,
    database_url: str | None,
    host: str | None,
    port: int | None,
    api: bool | None,
    ingest: bool | None,
) -> None:
    """Run the hub API and the MQTT ingest worker."""
    settings = _settings(
        config_file,
        database_url=database_url,
        api_host=host,
        api_port=port,
        api_enabled=api,
        ingest_enabled=ingest,
    )
    from hub.logs import setup_logging

    setup_logging(settings.log_level, json_lines=settings.log_json)
    if not settings.api_enabled and not settings.ingest_enabled:
        fail("nothing to run: both --no-api and --no-ingest were given", code=2)
    engine = _engine(settings, writer=True)
    _require_migrated(engine, settings)
    worker = None
    if settings.ingest_enabled:
        from hub.db.engine import make_sessionmaker
        from hub.ingest.worker import IngestWorker

        worker = IngestWorker(settings, make_sessionmaker(engine))
        __import__("hub.channels.worker").channels.worker.attach(worker, settings, engine)
        __import__("hub.routing_service").routing_service.attach(worker, settings, engine)
        __import__("hub.finance.settlement_schedule").finance.settlement_schedule.attach(
            worker, settings, engine
        )
    _LOGGER.info(
        "hub starting: database %s, api %s, ingest %s",
        settings.safe_database_url(),
        f"{settings.api_host}:{settings.api_port}" if settings.api_enabled else "off",
        f"{settings.mqtt_host}:{settings.mqtt_port}" if worker else "off",
    )
    if settings.api_enabled:
        import uvicorn

        from hub.app import create_app

        app = create_app(settings, engine=engine, worker=worker)
        try:
            uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)
        except Exception as err:  # noqa: BLE001 - report start-up failures as one sentence
            fail(f"the hub could not start: {err}")
        return
    assert worker is not None
    _run_worker_only(worker)


def _run_worker_only(worker: Any) -> None:
    from hub.ingest.mqtt import MqttError

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        worker.start()
    except MqttError as err:
        fail(f"{err}; check mqtt_host, mqtt_port, mqtt_username and the password")
    _LOGGER.info("ingest worker running; stop with Ctrl-C or SIGTERM")
    stop.wait()
    worker.stop()


@hub.command()
@CONFIG_OPTION
@DATABASE_OPTION
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def migrate(config_file: Path | None, database_url: str | None, revision: str) -> None:
    """Apply database migrations (Alembic), SQLite or PostgreSQL."""
    settings = _settings(config_file, database_url=database_url)
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from hub.db.migrate import current_revision, upgrade

    engine = _engine(settings)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    except (SQLAlchemyError, CommandError) as err:
        fail(f"migration failed on {settings.safe_database_url()}: {err}")
    finally:
        engine.dispose()
    click.echo(f"{settings.safe_database_url()}: {before or 'empty'} -> {after}")


@hub.group()
def token() -> None:
    """API tokens for machine clients."""


@token.command("create")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    default=("reader",),
    show_default=True,
    help="reader, operator or admin (repeatable).",
)
def token_create(
    config_file: Path | None, database_url: str | None, name: str, roles: tuple[str, ...]
) -> None:
    """Create an API token and print it (shown once; only its hash is stored)."""
    settings = _settings(config_file, database_url=database_url)
    from hub.auth import parse_roles
    from hub.db.engine import make_sessionmaker
    from hub.db.stores import HubDataError
    from hub.db.tokens import create_token

    try:
        parsed = parse_roles(",".join(roles))
    except ValueError as err:
        fail(str(err), code=2)
    engine = _engine(settings)
    _require_migrated(engine, settings)
    try:
        with make_sessionmaker(engine).begin() as session:
            _, new = create_token(session, name=name, roles=parsed, now=datetime.now(UTC))
    except HubDataError as err:
        fail(str(err))
    click.echo(new.plaintext)
    click.echo(
        f"token {name!r} ({', '.join(sorted(r.value for r in parsed))}) created; "
        "it is not shown again: send it as `Authorization: Bearer <token>`",
        err=True,
    )


@token.command("list")
@CONFIG_OPTION
@DATABASE_OPTION
def token_list(config_file: Path | None, database_url: str | None) -> None:
    """List API tokens (names, roles, prefixes; never the tokens)."""
    settings = _settings(config_file, database_url=database_url)
    from hub.db.engine import make_sessionmaker
    from hub.db.tokens import list_tokens

    engine = _engine(settings)
    _require_migrated(engine, settings)
    with make_sessionmaker(engine)() as session:
        for row in list_tokens(session):
            state = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.name}\t{row.prefix}...\t{row.roles}\t{state}")


@token.command("revoke")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("name")
def token_revoke(config_file: Path | None, database_url: str | None, name: str) -> None:
    """Revoke an API token."""
    settings = _settings(config_file, database_url=database_url)
    from hub.db.engine import make_sessionmaker
    from hub.db.stores import HubDataError
    from hub.db.tokens import revoke_token

    engine = _engine(settings)
    _require_migrated(engine, settings)
    try:
        with make_sessionmaker(engine).begin() as session:
            revoke_token(session, name=name, now=datetime.now(UTC))
    except HubDataError as err:
        fail(str(err))
    click.echo(f"token {name!r} revoked")


@hub.group()
def catalog() -> None:
    """Products, barcodes and prices."""


@catalog.command("import")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write refused rows here (CSV).",
)
def catalog_import(
    config_file: Path | None, database_url: str | None, csv_file: Path, report: Path | None
) -> None:
    """Import products from a CSV file: good rows are imported, bad rows listed with reasons.

    Columns: sku,name,price (required), currency, price_list, barcodes (; separated),
    tax_class, cost, active. Exit code 0 when every row was imported, 1 when some were refused.
    """
    settings = _settings(config_file, database_url=database_url)
    from hub.db.catalog import import_csv
    from hub.db.engine import make_sessionmaker
    from hub.domain.catalog import CatalogHeaderError

    engine = _engine(settings, writer=True)
    _require_migrated(engine, settings)
    size = csv_file.stat().st_size
    with (
        csv_file.open(encoding="utf-8-sig", newline="") as stream,
        click.progressbar(length=size, label="importing", file=sys.stderr) as bar,
    ):
        position = [0]

        def _progress(_rows: int) -> None:
            raw: Any = stream.buffer
            now_pos = int(raw.tell())
            bar.update(max(0, now_pos - position[0]))
            position[0] = now_pos

        try:
            with make_sessionmaker(engine).begin() as session:
                result = import_csv(
                    session,
                    stream,
                    now=datetime.now(UTC),
                    default_currency=settings.default_currency,
                    source=f"cli:{csv_file.name}",
                    progress=_progress,
                )
        except CatalogHeaderError as err:
            fail(f"{csv_file}: {err}", code=2)
        bar.update(size)
    for refused in result.errors[:50]:
        click.echo(
            f"line {refused.line}: {refused.sku or '?'}: {'; '.join(refused.reasons)}", err=True
        )
    if len(result.errors) > 50:
        click.echo(f"... and {len(result.errors) - 50} more refused rows", err=True)
    if report is not None:
        import csv as csv_module

        with report.open("w", encoding="utf-8", newline="") as out:
            writer = csv_module.writer(out)
            writer.writerow(["line", "sku", "reasons"])
            for refused in result.errors:
                writer.writerow([refused.line, refused.sku, "; ".join(refused.reasons)])
    click.echo(
        f"{result.rows} rows read, {result.imported} imported, {len(result.errors)} refused; "
        f"{result.changed_products} products and {result.changed_prices} prices changed"
        + (f" (catalog version {result.version})" if result.version else " (no change)")
    )
    if result.errors:
        raise SystemExit(1)


@catalog.command("export")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
def catalog_export(config_file: Path | None, database_url: str | None, csv_file: Path) -> None:
    """Export products to a CSV file in the import format ('-' for stdout)."""
    settings = _settings(config_file, database_url=database_url)
    from hub.db.catalog import export_rows, write_csv
    from hub.db.engine import make_sessionmaker

    engine = _engine(settings)
    _require_migrated(engine, settings)
    with make_sessionmaker(engine)() as session:
        if str(csv_file) == "-":
            n = write_csv(export_rows(session), sys.stdout)
        else:
            with csv_file.open("w", encoding="utf-8", newline="") as out:
                n = write_csv(export_rows(session), out)
    click.echo(f"{n} rows exported", err=True)


@hub.group()
def finance() -> None:
    """Settlements and reconciliation."""


__import__("hub.cli_finance").cli_finance.register(finance)  # import, fetch

from hub.cli_users import user as _user  # noqa: E402  (HQ accounts; needs the helpers above)

hub.add_command(_user)

from hub.cli_channels import channel as _channel  # noqa: E402  (needs the helpers above)

hub.add_command(_channel)
