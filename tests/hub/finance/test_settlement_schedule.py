"""The scheduled settlement import against the Amazon sandbox over HTTP on 127.0.0.1.

Real parts: the sandbox server (fast mode) with its scenario API, the SP-API client
(python-amazon-sp-api behind our wrapper), the channel's order import, the hub
database (SQLite, then PostgreSQL), leases and alarms.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.channels.amazon.runner import AccountRunner
from hub.channels.amazon.sandbox import SandboxServer, SandboxState, Settings
from hub.config import HubSettings
from hub.db import channels as channel_repo
from hub.db.engine import make_sessionmaker
from hub.db.models_alarms import Alarm
from hub.db.models_channels import ChannelAccount, MarketplaceOrder
from hub.db.models_finance import Settlement, SettlementImportState, SettlementLine
from hub.finance.importer import ALARM_MISMATCH
from hub.finance.settlement_schedule import (
    ALARM_IMPORT,
    SettlementSchedulePolicy,
    SettlementWorker,
)
from tests.channels.amazon.conftest import CIPHER, Scenario, account_for, ago, fast_client

US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"
POLICY = SettlementSchedulePolicy(interval_s=3600.0)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """A fast-mode sandbox on a loopback port for this module (sellers keep tests apart)."""
    with SandboxServer(SandboxState(settings=Settings.fast_mode())) as server:
        yield server


@pytest.fixture(scope="module")
def scenario(sandbox: SandboxServer) -> Scenario:
    return Scenario(sandbox.url)


@pytest.fixture
def sessions(hub_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(hub_engine)


@pytest.fixture
def workers(sessions: sessionmaker[Session]) -> Iterator[list[SettlementWorker]]:
    """Two hub workers' settlement jobs on one database; closed after the test."""
    made = [
        SettlementWorker(
            sessions, CIPHER, worker_id=f"hub-{n}", policy=POLICY, client_factory=fast_client
        )
        for n in (1, 2)
    ]
    yield made
    for worker in made:
        worker.stop()


def add_account(
    sessions: sessionmaker[Session], sandbox: SandboxServer, seller: dict[str, Any]
) -> ChannelAccount:
    with sessions.begin() as session:
        row = channel_repo.add_account(
            session, account_for(sandbox, seller), CIPHER, now=datetime.now(UTC)
        )
        session.expunge(row)
        return row


def shipped_afn(scenario: Scenario, seller_id: str, marketplace: str, **item: Any) -> str:
    """An FBA order shipped 30 minutes ago (the sandbox settles it at once)."""
    line = {"seller_sku": "ACORN-MUG", "quantity": 2, "unit_price": "19.99", **item}
    order = scenario.add_orders(
        seller_id,
        marketplace=marketplace,
        fulfillment_channel="AFN",
        status="Shipped",
        purchase_date=ago(minutes=30),
        items=[line],
    )[0]
    return str(order["AmazonOrderId"])


def close_settlement(scenario: Scenario, seller_id: str, **spec: Any) -> dict[str, Any]:
    report: dict[str, Any] = scenario.call("POST", f"/sellers/{seller_id}/settlements", spec)
    return report


def lines_of(sessions: sessionmaker[Session], settlement_id: str) -> list[SettlementLine]:
    with sessions() as session:
        return list(
            session.scalars(
                select(SettlementLine)
                .join(Settlement, Settlement.id == SettlementLine.settlement_pk)
                .where(Settlement.settlement_id == settlement_id)
                .order_by(SettlementLine.row_no)
            )
        )


def order_pk(sessions: sessionmaker[Session], order_id: str) -> int:
    with sessions() as session:
        pk = session.scalar(
            select(MarketplaceOrder.id).where(MarketplaceOrder.marketplace_order_id == order_id)
        )
    assert pk is not None, f"order {order_id} was not imported"
    return int(pk)


def test_scheduled_import_once_per_hub_links_orders(
    sandbox: SandboxServer,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    workers: list[SettlementWorker],
) -> None:
    """GIVEN settlements of two marketplaces WHEN two hub workers tick THEN the lease holder
    imports both once; orders imported later are linked on the next run; a settlement
    closed afterwards links at import."""
    seller = scenario.add_seller(["US", "CA"])
    sid = seller["seller_id"]
    a = shipped_afn(scenario, sid, "US", item_tax="1.60", shipping_price="4.99")
    b = shipped_afn(scenario, sid, "US")
    c = shipped_afn(scenario, sid, "CA", unit_price="24.50")
    us_report = close_settlement(scenario, sid, marketplace="US")
    ca_report = close_settlement(scenario, sid, marketplace="CA")
    row = add_account(sessions, sandbox, seller)
    first, second = workers

    runs = first.tick()
    assert first.is_leader
    assert second.tick() == []
    assert not second.is_leader
    assert len(runs) == 1
    run = runs[0]
    assert run.ok, run
    assert run.reports_seen == 2  # both marketplaces: the filter is ignored by Amazon
    assert len(run.imported) == 2
    with sessions() as session:
        settlements = {
            s.currency: s for s in session.scalars(select(Settlement).order_by(Settlement.id))
        }
    assert set(settlements) == {"USD", "CAD"}
    usd, cad = settlements["USD"], settlements["CAD"]
    assert usd.marketplace_id == US
    assert cad.marketplace_id == CA
    assert usd.account_id == row.id
    assert usd.source == "reports_api"
    assert usd.source_name == us_report["reportDocumentId"]
    assert cad.source_name == ca_report["reportDocumentId"]
    assert usd.total_minor == usd.lines_total_minor
    assert cad.total_minor == cad.lines_total_minor
    us_lines = lines_of(sessions, usd.settlement_id)
    principal = [ln for ln in us_lines if ln.order_id == a and ln.component == "principal"]
    assert [ln.amount_minor for ln in principal] == [3998]
    assert {ln.order_id for ln in us_lines if ln.order_id} == {a, b}
    assert all(ln.marketplace_order_pk is None for ln in us_lines)  # no orders in the hub yet

    # the hub imports the orders; the next settlement run links the waiting lines
    runner = AccountRunner(sessions, row, CIPHER, client_factory=fast_client)
    try:
        runner.import_orders()
    finally:
        runner.close()
    again = first.run_once()[0]
    assert again.ok
    assert (again.imported, again.skipped) == ([], 2)  # stored documents are not downloaded
    assert again.relinked_lines == sum(1 for ln in us_lines if ln.order_id) + sum(
        1 for ln in lines_of(sessions, cad.settlement_id) if ln.order_id
    )
    pk_a, pk_c = order_pk(sessions, a), order_pk(sessions, c)
    usd_a = [ln for ln in lines_of(sessions, usd.settlement_id) if ln.order_id == a]
    cad_all = [ln for ln in lines_of(sessions, cad.settlement_id) if ln.order_id]
    assert {ln.marketplace_order_pk for ln in usd_a} == {pk_a}
    assert {ln.marketplace_order_pk for ln in cad_all} == {pk_c}

    # the next period refunds order A: its lines link at import
    refund_report = close_settlement(scenario, sid, marketplace="US", refund=[a])
    third = first.run_once()[0]
    assert len(third.imported) == 1
    refund_lines = lines_of(sessions, third.imported[0])
    refunds = [ln for ln in refund_lines if ln.kind == "refund"]
    assert {ln.marketplace_order_pk for ln in refunds} == {pk_a}
    assert sum(ln.amount_minor for ln in refunds if ln.component == "principal") == -3998
    released = [ln for ln in refund_lines if ln.amount_description.startswith("Previous Reserve")]
    assert [ln.kind for ln in released] == ["reserve"]
    with sessions() as session:
        state = session.get(SettlementImportState, row.id)
        assert state is not None
        assert state.settlements_imported == 3
        assert state.last_error == ""
        assert state.checkpoint is not None
        assert state.checkpoint < datetime.fromisoformat(refund_report["createdTime"])
        assert session.scalar(select(func.count()).select_from(Alarm)) == 0


def test_sandbox_settlements_hold_every_row_type(
    sandbox: SandboxServer,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    workers: list[SettlementWorker],
) -> None:
    """GIVEN FBA and merchant-fulfilled orders WHEN settlements close with refunds,
    reimbursements and a short-paid order THEN every row type arrives in the hub."""
    seller = scenario.add_seller(["US"])
    sid = seller["seller_id"]
    a = shipped_afn(
        scenario,
        sid,
        "US",
        item_tax="3.20",
        shipping_price="4.99",
        shipping_tax="0.40",
        promotion_discount="2.00",
    )
    b = shipped_afn(scenario, sid, "US", quantity=1)
    row = add_account(sessions, sandbox, seller)
    mfn = scenario.add_orders(
        sid, marketplace="US", purchase_date=ago(minutes=30), items=[{"seller_sku": "ACORN-CAP"}]
    )[0]
    d = str(mfn["AmazonOrderId"])
    client = fast_client(channel_repo.seller_account(row, CIPHER))
    try:
        item_id = client.get_order_items(d)[0]["OrderItemId"]
        client.confirm_shipment(
            d,
            {
                "marketplaceId": US,
                "packageDetail": {
                    "packageReferenceId": "1",
                    "carrierCode": "UPS",
                    "trackingNumber": "1Z999",
                    "shipDate": ago(minutes=1),
                    "orderItems": [{"orderItemId": item_id, "quantity": 1}],
                },
            },
        )
    finally:
        client.close()
    empty = close_settlement(scenario, sid, marketplace="US", start=ago(days=30), end=ago(days=20))
    assert empty["processingStatus"] == "DONE"
    close_settlement(
        scenario, sid, marketplace="US", refund_every=2, adjust_every=1, short_pay={a: "5.00"}
    )
    run = workers[0].tick()[0]
    assert run.ok, run
    assert len(run.imported) == 2
    with sessions() as session:
        lines = list(session.scalars(select(SettlementLine)))
        totals = session.execute(select(Settlement.total_minor, Settlement.lines_total_minor)).all()
    assert all(total == rows for total, rows in totals)
    kinds = {ln.kind for ln in lines}
    assert kinds == {"order", "refund", "fee", "adjustment", "reserve", "transfer"}
    components = {ln.component for ln in lines}
    assert {"principal", "tax", "shipping", "shipping_tax", "promotion", "fee"} <= components
    descriptions = {ln.amount_description for ln in lines}
    assert {
        "Commission",
        "FBAPerUnitFulfillmentFee",
        "Shipping label purchase",
        "RefundCommission",
        "Subscription Fee",
        "Current Reserve Amount Balance",
        "Successful charge",
        "WAREHOUSE_DAMAGE",
    } <= descriptions
    # refund_every=2: the second settled order (by id) is refunded in full
    refunded = {ln.order_id for ln in lines if ln.kind == "refund"}
    assert len(refunded) == 1
    assert refunded <= {a, b, d}
    # the short-paid order's principal is 5.00 below its price; the file still adds up
    short = [ln for ln in lines if ln.order_id == a and ln.kind == "order"]
    assert [ln.amount_minor for ln in short if ln.component == "principal"] == [3998 - 500]

    # a broken document (total-amount off by 1.00) is stored and raises settlement_mismatch
    close_settlement(scenario, sid, marketplace="US", total_offset="1.00")
    broken = workers[0].run_once()[0]
    assert len(broken.mismatched) == 1
    with sessions() as session:
        alarm = session.scalars(select(Alarm).where(Alarm.kind == ALARM_MISMATCH)).one()
    assert alarm.key == f"amazon:{broken.mismatched[0]}"
    assert "difference 1.00" in alarm.message


def test_a_failed_download_is_retried_and_alarmed(
    sandbox: SandboxServer,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    workers: list[SettlementWorker],
) -> None:
    """GIVEN getReportDocument failing WHEN the schedule runs THEN a settlement_import
    alarm opens and the checkpoint stays before the report; the next run imports it."""
    seller = scenario.add_seller(["US"])
    sid = seller["seller_id"]
    shipped_afn(scenario, sid, "US")
    close_settlement(scenario, sid, marketplace="US")
    row = add_account(sessions, sandbox, seller)
    scenario.fault(
        kind="error", status=404, operation="reports/getReportDocument", seller_id=sid, count=1
    )
    failed = workers[0].tick()[0]
    assert not failed.ok
    assert failed.imported == []
    assert len(failed.failed) == 1
    with sessions() as session:
        alarm = session.scalars(select(Alarm).where(Alarm.kind == ALARM_IMPORT)).one()
        assert alarm.key == row.name
        assert alarm.status == "open"
        state = session.get(SettlementImportState, row.id)
        assert state is not None
        assert "getReportDocument" in state.last_error or "404" in state.last_error

    retried = workers[0].run_once()[0]
    assert retried.ok
    assert len(retried.imported) == 1
    with sessions() as session:
        alarm = session.scalars(select(Alarm).where(Alarm.kind == ALARM_IMPORT)).one()
        assert alarm.status == "cleared"
        assert session.scalar(select(func.count()).select_from(Settlement)) == 1


def test_each_account_takes_its_own_marketplaces(
    sandbox: SandboxServer,
    scenario: Scenario,
    sessions: sessionmaker[Session],
    workers: list[SettlementWorker],
) -> None:
    """GIVEN one seller with an NA and an EU account WHEN both list every settlement of the
    seller THEN each imports its own marketplaces' (the German one in cp1252, decimal comma)."""
    seller = scenario.add_seller(["US", "DE"])
    sid = seller["seller_id"]
    shipped_afn(scenario, sid, "US")
    de_order = shipped_afn(scenario, sid, "DE", unit_price="1234.50")
    close_settlement(scenario, sid, marketplace="US")
    close_settlement(scenario, sid, marketplace="DE")
    na = add_account(sessions, sandbox, seller)
    eu_seller = {**seller, "marketplace_ids": ["A1PA6795UKMFR9"]}
    with sessions.begin() as session:
        eu_account = account_for(sandbox, eu_seller, name=f"{na.name}-eu")
        eu_id = channel_repo.add_account(session, eu_account, CIPHER, now=datetime.now(UTC)).id
    runs = {run.account: run for run in workers[0].tick()}
    assert set(runs) == {na.name, f"{na.name}-eu"}
    for run in runs.values():
        assert run.ok, run
        assert (len(run.imported), run.elsewhere) == (1, 1)
    with sessions() as session:
        owners = dict(session.execute(select(Settlement.currency, Settlement.account_id)).all())
    assert owners == {"USD": na.id, "EUR": eu_id}
    principal = [
        ln.amount_minor
        for ln in lines_of(sessions, runs[f"{na.name}-eu"].imported[0])
        if ln.order_id == de_order and ln.component == "principal"
    ]
    assert principal == [246900]  # "2469,00" in the Windows-1252 file


def test_poll_interval_is_a_hub_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACORN_HUB_SETTLEMENT_POLL_S", raising=False)
    assert HubSettings().settlement_poll_s == 600.0
    monkeypatch.setenv("ACORN_HUB_SETTLEMENT_POLL_S", "20")
    assert HubSettings().settlement_poll_s == 20.0
    for bad in ("soon", "0", "-5"):
        monkeypatch.setenv("ACORN_HUB_SETTLEMENT_POLL_S", bad)
        with pytest.raises(ValidationError, match="settlement_poll_s"):
            HubSettings()
