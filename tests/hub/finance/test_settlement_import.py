"""Storing settlements: idempotency, conflicts, order links, the mismatch alarm, the CLI.

Real parts: the hub database (SQLite, then PostgreSQL), the alarms service, the
``acorn`` command line in-process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from acorn.cli import cli
from hub.channels.amazon.account import LwaCredentials, SellerAccount
from hub.channels.amazon.marketplaces import Region
from hub.db import channels as channel_repo
from hub.db.engine import make_sessionmaker
from hub.db.models_alarms import Alarm
from hub.db.models_channels import MarketplaceOrder
from hub.db.models_finance import Settlement, SettlementLine
from hub.finance.importer import (
    ALARM_MISMATCH,
    ImportOutcome,
    SettlementConflictError,
    document_sha256,
    import_document,
    link_pending_lines,
)
from hub.finance.settlement import parse_settlement
from tests.channels.amazon.conftest import CIPHER

DATA = Path(__file__).with_name("data")
US = DATA / "settlement_us.tsv"
DE = DATA / "settlement_de_cp1252.tsv"
O1, O2, O3 = "111-4567890-1234567", "112-2233445-5566778", "113-9988776-6554433"
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
USM = "ATVPDKIKX0DER"


@pytest.fixture
def sessions(hub_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(hub_engine)


def add_account(sessions: sessionmaker[Session], name: str) -> int:
    account = SellerAccount(
        name=name,
        seller_id=f"SELLER-{name.upper()}",
        region=Region.NA,
        marketplace_ids=(USM,),
        credentials=LwaCredentials("client", "secret", f"Atzr|{name}"),
        endpoint_url="http://127.0.0.1:9/na",
        lwa_token_url="http://127.0.0.1:9/auth/o2/token",
    )
    with sessions.begin() as session:
        return int(channel_repo.add_account(session, account, CIPHER, now=NOW).id)


def add_order(sessions: sessionmaker[Session], account_id: int, order_id: str) -> int:
    with sessions.begin() as session:
        row = MarketplaceOrder(
            account_id=account_id,
            marketplace_id=USM,
            marketplace_order_id=order_id,
            status="Shipped",
            fulfillment_channel="MFN",
            purchased_at=NOW - timedelta(days=10),
            last_updated_at=NOW - timedelta(days=9),
            currency="USD",
            total_minor=135358,
            routing_state_at=NOW,
            data={},
            imported_at=NOW,
            updated_at=NOW,
        )
        session.add(row)
        session.flush()
        return int(row.id)


def do_import(
    sessions: sessionmaker[Session], data: bytes, account_id: int | None = None, **kw: Any
) -> Any:
    with sessions.begin() as session:
        return import_document(
            session,
            data,
            source=kw.pop("source", "file"),
            source_name=kw.pop("source_name", "test.tsv"),
            account_id=account_id,
            now=kw.pop("now", NOW),
            **kw,
        )


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Settlement)) or 0,
            session.scalar(select(func.count()).select_from(SettlementLine)) or 0,
        )


def test_import_stores_every_row_once(sessions: sessionmaker[Session]) -> None:
    """GIVEN the US file WHEN imported twice THEN one settlement and its 29 lines, once."""
    data = US.read_bytes()
    first = do_import(sessions, data)
    assert first.outcome is ImportOutcome.IMPORTED
    assert (first.settlement_id, first.currency, first.line_count) == ("11924518731", "USD", 29)
    assert first.total_minor == first.lines_total_minor == 94382
    assert dict(first.kind_counts) == {
        "order": 14,
        "fee": 4,
        "refund": 6,
        "adjustment": 2,
        "reserve": 2,
        "transfer": 1,
    }
    assert counts(sessions) == (1, 29)

    again = do_import(sessions, data, now=NOW + timedelta(hours=1))
    assert again.outcome is ImportOutcome.ALREADY_IMPORTED
    assert again.settlement_pk == first.settlement_pk
    assert dict(again.kind_counts) == dict(first.kind_counts)
    assert counts(sessions) == (1, 29)

    # The same content as other bytes (CRLF line ends) is the same settlement too.
    crlf = data.replace(b"\n", b"\r\n")
    assert do_import(sessions, crlf).outcome is ImportOutcome.ALREADY_IMPORTED
    assert counts(sessions) == (1, 29)

    parsed = parse_settlement(data)
    with sessions() as session:
        settlement = session.scalars(select(Settlement)).one()
        assert settlement.channel == "amazon"
        assert settlement.account_id is None
        assert settlement.marketplace_id == USM
        assert settlement.marketplace_name == "Amazon.com"
        assert settlement.start_at == datetime(2026, 2, 20, 8, 52, 26, tzinfo=UTC)
        assert settlement.deposit_at == datetime(2026, 3, 8, 8, 52, 26, tzinfo=UTC)
        assert settlement.source == "file"
        assert settlement.source_name == "test.tsv"
        assert settlement.document_sha256 == document_sha256(data)
        assert settlement.imported_at == NOW
        stored = session.scalars(select(SettlementLine).order_by(SettlementLine.row_no)).all()
        assert [
            (s.row_no, s.kind, s.component, s.amount_description, s.amount_minor, s.order_id)
            for s in stored
        ] == [
            (
                p.row_no,
                p.kind.value,
                p.component.value,
                p.amount_description,
                p.amount_minor,
                p.order_id,
            )
            for p in parsed.lines
        ]
        assert sum(s.amount_minor for s in stored) == settlement.lines_total_minor
        first_line = stored[0]
        assert (first_line.sku, first_line.quantity, first_line.order_item_code) == (
            "ACORN-MUG-01",
            2,
            "62538849512345",
        )
        assert first_line.posted_at == datetime(2026, 3, 3, 17, 4, 11, tzinfo=UTC)


def test_a_changed_document_under_the_same_id_is_refused(sessions: sessionmaker[Session]) -> None:
    data = US.read_bytes()
    do_import(sessions, data)
    changed = data.replace(b"\t-39.99\t", b"\t-39.98\t")
    with pytest.raises(SettlementConflictError) as err:
        do_import(sessions, changed)
    message = str(err.value)
    assert "11924518731" in message
    assert "line 26" in message
    assert "-3998" in message
    assert counts(sessions) == (1, 29)
    with sessions() as session:
        amounts = session.scalars(
            select(SettlementLine.amount_minor).where(SettlementLine.row_no == 26)
        ).all()
    assert amounts == [-3999]


def test_lines_link_to_orders_now_and_when_they_arrive(sessions: sessionmaker[Session]) -> None:
    """GIVEN one order imported WHEN the settlement arrives THEN its lines link; later
    orders are linked by the next pass; another account's order never is."""
    mine = add_account(sessions, "amazon-us")
    other = add_account(sessions, "amazon-other")
    pk1 = add_order(sessions, mine, O1)
    add_order(sessions, other, O2)  # the same id at another account: not ours

    result = do_import(sessions, US.read_bytes(), account_id=mine)
    assert (result.linked_orders, result.unlinked_orders) == (1, 2)
    with sessions() as session:
        links = dict(
            session.execute(
                select(SettlementLine.row_no, SettlementLine.marketplace_order_pk)
            ).all()
        )
    assert {row for row, pk in links.items() if pk == pk1} == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17}
    assert set(links.values()) == {pk1, None}

    pk2 = add_order(sessions, mine, O2)
    with sessions.begin() as session:
        assert link_pending_lines(session) == 5  # four order rows and the chargeback of O2
    with sessions.begin() as session:
        assert link_pending_lines(session) == 0
        linked = session.scalars(
            select(SettlementLine.row_no).where(SettlementLine.marketplace_order_pk == pk2)
        ).all()
    assert sorted(linked) == [13, 14, 15, 16, 23]

    again = do_import(sessions, US.read_bytes(), account_id=mine)
    assert again.outcome is ImportOutcome.ALREADY_IMPORTED
    assert (again.linked_orders, again.unlinked_orders) == (2, 1)


def test_a_settlement_without_account_links_an_order_id_only_when_unique(
    sessions: sessionmaker[Session],
) -> None:
    first = add_account(sessions, "amazon-a")
    second = add_account(sessions, "amazon-b")
    pk1 = add_order(sessions, first, O1)
    add_order(sessions, first, O2)
    add_order(sessions, second, O2)
    result = do_import(sessions, US.read_bytes())
    assert (result.linked_orders, result.unlinked_orders) == (1, 2)
    with sessions() as session:
        linked = set(
            session.scalars(
                select(SettlementLine.order_id).where(
                    SettlementLine.marketplace_order_pk.is_not(None)
                )
            )
        )
        assert linked == {O1}
        assert (
            session.scalar(select(func.count()).where(SettlementLine.marketplace_order_pk == pk1))
            == 11
        )


def test_rows_that_do_not_add_up_raise_an_alarm(sessions: sessionmaker[Session]) -> None:
    """GIVEN a short settlement (total-amount above the rows) WHEN imported THEN it is
    stored as it is and a settlement_mismatch alarm names the difference."""
    short = US.read_bytes().replace(b"\t943.82\t", b"\t953.82\t")
    result = do_import(sessions, short)
    assert result.outcome is ImportOutcome.IMPORTED
    assert result.mismatch_minor == 1000
    with sessions() as session:
        settlement = session.scalars(select(Settlement)).one()
        assert (settlement.total_minor, settlement.lines_total_minor) == (95382, 94382)
        alarm = session.scalars(select(Alarm).where(Alarm.kind == ALARM_MISMATCH)).one()
    assert alarm.key == "amazon:11924518731"
    assert alarm.status == "open"
    assert "953.82" in alarm.message
    assert "943.82" in alarm.message
    assert "10.00" in alarm.message

    # importing it again does not raise the alarm again
    do_import(sessions, short, now=NOW + timedelta(hours=1))
    with sessions() as session:
        assert session.scalars(select(Alarm.raised_count)).one() == 1


def test_a_balanced_settlement_raises_no_alarm(sessions: sessionmaker[Session]) -> None:
    do_import(sessions, DE.read_bytes())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Alarm)) == 0
        settlement = session.scalars(select(Settlement)).one()
    assert (settlement.currency, settlement.total_minor) == ("EUR", 85509)


# --- the command line ---------------------------------------------------------------------------


def test_cli_import(hub_sqlite_template: Path, tmp_path: Path) -> None:
    """`acorn hub finance import`: summary, idempotency and every exit code."""
    import shutil

    db = tmp_path / "hub.db"
    shutil.copyfile(hub_sqlite_template, db)
    url = f"sqlite:///{db}"
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, ["hub", "finance", "import", "--database-url", url, *args])

    first = run(str(US))
    assert first.exit_code == 0, first.output
    assert "settlement 11924518731 imported (file settlement_us.tsv)" in first.output
    assert "currency USD" in first.output
    assert "rows         29: order 14, refund 6, fee 4, adjustment 2, reserve 2, transfer 1" in (
        first.output
    )
    assert "total        943.82 USD; the rows add up" in first.output
    assert "3 in the settlement: 0 linked to imported orders, 3 not (yet)" in first.output

    again = run(str(US))
    assert again.exit_code == 0
    assert "already imported, nothing changed" in again.output

    changed = tmp_path / "changed.tsv"
    changed.write_bytes(US.read_bytes().replace(b"\t-39.99\t", b"\t-39.98\t"))
    assert run(str(changed)).exit_code == 4

    bad = tmp_path / "bad.tsv"
    bad.write_bytes(US.read_bytes().replace(b"1,249.98", b"1,249.985"))
    result = run(str(bad))
    assert result.exit_code == 3
    assert "line 3, column 'amount'" in result.output
    assert "more decimals than USD" in result.output

    short = tmp_path / "short.tsv"
    short.write_bytes(
        US.read_bytes()
        .replace(b"11924518731", b"11924518799")
        .replace(b"\t943.82\t", b"\t953.82\t")
    )
    result = run(str(short))
    assert result.exit_code == 5
    assert "MISMATCH: the rows add up to 943.82 USD (difference 10.00 USD)" in result.output

    assert run("--account", "nobody", str(US)).exit_code == 1
    assert run(str(tmp_path / "missing.tsv")).exit_code == 2
    helped = runner.invoke(cli, ["hub", "finance", "import", "--help"])
    assert helped.exit_code == 0
    assert "V2 flat file" in helped.output
