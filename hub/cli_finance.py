"""``acorn hub finance import`` and ``fetch``: Amazon settlements from a file or the Reports API.

Exit codes of ``import``: 0 imported (or already imported, nothing changed); 1 the hub
cannot be used (database, unknown account); 2 usage (missing file); 3 the file is not a
readable settlement (the message names the line and column); 4 another document was
imported under the same settlement id (nothing changed); 5 imported, but the rows do
not add up to total-amount (stored as is; a ``settlement_mismatch`` alarm is open).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from acorn.cliutil import fail
from hub import cli as _hub_cli

_F = TypeVar("_F", bound=Callable[..., Any])
# hub.cli imports this module after defining these; annotated so the cycle stays typed.
CONFIG_OPTION: Callable[[_F], _F] = getattr(_hub_cli, "CONFIG_OPTION")  # noqa: B009
DATABASE_OPTION: Callable[[_F], _F] = getattr(_hub_cli, "DATABASE_OPTION")  # noqa: B009

EXIT_INVALID_FILE = 3
EXIT_CONFLICT = 4
EXIT_MISMATCH = 5
MAX_FILE_BYTES = 512 * 1024 * 1024


def _sessions(config_file: Path | None, database_url: str | None) -> tuple[Any, Any]:
    settings = _hub_cli._settings(config_file, database_url=database_url)
    engine = _hub_cli._engine(settings, writer=True)
    _hub_cli._require_migrated(engine, settings)
    from hub.db.engine import make_sessionmaker

    return settings, make_sessionmaker(engine)


def _account_id(sessions: Any, name: str | None) -> int | None:
    if not name:
        return None
    from hub.db import channels as repo
    from hub.db.stores import HubDataError

    try:
        with sessions() as session:
            row = repo.get_account(session, name)
            return int(row.id)
    except HubDataError as err:
        fail(str(err))


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at is not None else "-"


def import_summary(result: Any, settlement: Any, *, source: str) -> list[str]:
    """The lines ``acorn hub finance import`` prints about one settlement."""
    from protocol.money import Money

    def money(minor: int) -> str:
        return f"{Money(minor, result.currency).format()} {result.currency}"

    verb = "imported" if result.outcome.value == "imported" else "already imported, nothing changed"
    kinds = ", ".join(
        f"{kind} {count}"
        for kind, count in sorted(result.kind_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    market = settlement.marketplace_name or "-"
    if settlement.marketplace_id:
        market += f" ({settlement.marketplace_id})"
    if result.mismatch_minor:
        check = (
            f"MISMATCH: the rows add up to {money(result.lines_total_minor)} "
            f"(difference {money(result.mismatch_minor)})"
        )
    else:
        check = "the rows add up"
    orders = result.linked_orders + result.unlinked_orders
    lines = [
        f"settlement {result.settlement_id} {verb} ({source})",
        f"  marketplace  {market}, currency {result.currency}",
        f"  period       {_when(settlement.start_at)} .. {_when(settlement.end_at)}, "
        f"deposit {_when(settlement.deposit_at)}",
        f"  rows         {result.line_count}: {kinds or 'none'}",
        f"  total        {money(result.total_minor)}; {check}",
        f"  orders       {orders} in the settlement: {result.linked_orders} linked to imported "
        f"orders, {result.unlinked_orders} not (yet)",
    ]
    if result.relinked_lines:
        lines.append(f"  also linked  {result.relinked_lines} line(s) of earlier settlements")
    return lines


def register(group: click.Group) -> None:
    """Attach the finance commands to ``acorn hub finance``."""
    group.add_command(import_command)
    group.add_command(fetch_command)


@click.command("import")
@CONFIG_OPTION
@DATABASE_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--account",
    "account",
    help="The channel account the settlement belongs to (see `acorn hub channel list`); "
    "links its lines to that account's orders only.",
)
@click.option(
    "--charset",
    help="The file's text encoding when known (default: UTF-8, else Windows-1252).",
)
def import_command(
    config_file: Path | None,
    database_url: str | None,
    file: Path,
    account: str | None,
    charset: str | None,
) -> None:
    """Import an Amazon settlement report file (V2 flat file, tab-separated).

    Importing the same settlement again changes nothing. Exit codes: 0 imported or
    already there, 3 unreadable file, 4 a different file under the same settlement id,
    5 imported but its rows do not add up to total-amount.
    """
    from hub.db.models_finance import Settlement
    from hub.finance.importer import (
        SOURCE_FILE,
        SettlementConflictError,
        import_document,
    )
    from hub.finance.settlement import SettlementParseError

    _settings, sessions = _sessions(config_file, database_url)
    account_id = _account_id(sessions, account)
    if file.stat().st_size > MAX_FILE_BYTES:
        fail(f"{file} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; is it a settlement?")
    data = file.read_bytes()
    now = datetime.now(UTC)
    try:
        with sessions.begin() as session:
            result = import_document(
                session,
                data,
                source=SOURCE_FILE,
                source_name=file.name,
                account_id=account_id,
                now=now,
                charset=charset,
            )
            settlement = session.get(Settlement, result.settlement_pk)
            assert settlement is not None
            lines = import_summary(result, settlement, source=f"file {file.name}")
    except SettlementParseError as err:
        fail(f"{file}: {err}", code=EXIT_INVALID_FILE)
    except SettlementConflictError as err:
        fail(str(err), code=EXIT_CONFLICT)
    for line in lines:
        click.echo(line)
    if result.mismatch_minor and result.outcome.value == "imported":
        click.echo(
            "warning: the rows do not add up to total-amount; stored as they are and a "
            "settlement_mismatch alarm is open",
            err=True,
        )
        raise SystemExit(EXIT_MISMATCH)


@click.command("fetch")
@CONFIG_OPTION
@DATABASE_OPTION
@click.option("--account", "account", help="Only this channel account (default: every one).")
def fetch_command(config_file: Path | None, database_url: str | None, account: str | None) -> None:
    """Fetch new settlement reports from Amazon now and import them (what the hub schedules)."""
    from hub.channels.amazon.client import SpApiClient
    from hub.channels.amazon.errors import ConfigError
    from hub.channels.worker import KEY_ENV, credential_cipher
    from hub.db import channels as repo
    from hub.finance.settlement_schedule import fetch_settlements

    settings, sessions = _sessions(config_file, database_url)
    try:
        cipher = credential_cipher(settings)
    except ConfigError as err:
        fail(f"{KEY_ENV}: {err}")
    if cipher is None:
        fail(f"{KEY_ENV} is not set: the channel credentials cannot be opened")
    with sessions() as session:
        rows = [r for r in repo.list_accounts(session, enabled_only=True) if r.kind == "amazon"]
    if account:
        rows = [r for r in rows if r.name == account]
        if not rows:
            fail(f"no enabled Amazon account named {account!r} (see `acorn hub channel list`)")
    if not rows:
        click.echo("no enabled Amazon accounts: nothing to fetch")
        return
    failed = False
    for row in rows:
        try:
            client = SpApiClient(repo.seller_account(row, cipher))
        except ConfigError as err:
            click.echo(f"{row.name}: cannot be used: {err}", err=True)
            failed = True
            continue
        try:
            run = fetch_settlements(
                sessions, client, account_id=row.id, account_name=row.name, now=datetime.now(UTC)
            )
        finally:
            client.close()
        click.echo(
            f"{row.name}: {run.reports_seen} settlement report(s) listed, "
            f"{len(run.imported)} imported, {len(run.already) + run.skipped} already there, "
            f"{run.elsewhere} of other marketplaces, {len(run.failed)} failed"
        )
        for settlement_id in run.imported:
            click.echo(f"  imported {settlement_id}")
        for settlement_id in run.mismatched:
            click.echo(f"  warning: settlement {settlement_id} does not add up", err=True)
        if run.error:
            click.echo(f"  error: {run.error}", err=True)
        for _report_id, reason in run.failed:
            click.echo(f"  error: {reason}", err=True)
        failed = failed or not run.ok
    if failed:
        fail("some settlements could not be fetched or imported (see above)")
