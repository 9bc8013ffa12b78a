"""The Amazon channel on the hub database: import, push from the ledger, confirmations, alarms.

Real parts: the sandbox over HTTP on 127.0.0.1, the hub database (SQLite, then
PostgreSQL), the ledger writer the ingest uses, the alarms service.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.channels.amazon.mapping import SkuMapping
from hub.channels.amazon.runner import AccountRunner, RunnerPolicy
from hub.channels.amazon.states import RoutingState, ShipmentState
from hub.channels.worker import ChannelWorker, ChannelWorkerPolicy
from hub.db import channels as repo
from hub.db import stores
from hub.db.ledger import LedgerWriter, MovementContext
from hub.db.models_alarms import Alarm
from hub.db.models_channels import (
    ChannelAccount,
    ChannelPushIssue,
    MarketplaceOrder,
    MarketplaceOrderLine,
)
from hub.domain.ledger import MovementKind
from tests.channels.amazon.conftest import (
    CIPHER,
    Scenario,
    account_for,
    ago,
    fast_client,
)
from tests.fixtures.util import wait_until

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
STORE = "s-001"


@pytest.fixture
def hub(hub_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The hub database with one store (and its location) that ships online."""
    with hub_sessions.begin() as session:
        stores.create_store(
            session,
            store_id=STORE,
            name="Store 1",
            timezone="America/New_York",
            currency="USD",
            now=datetime.now(UTC),
        )
    return hub_sessions


def add_account(
    sessions: sessionmaker[Session], sandbox: Any, seller: dict[str, Any], **kwargs: Any
) -> ChannelAccount:
    with sessions.begin() as session:
        return repo.add_account(
            session, account_for(sandbox, seller, **kwargs), CIPHER, now=datetime.now(UTC)
        )


def map_skus(sessions: sessionmaker[Session], account_id: int, *skus: str, mid: str = US) -> None:
    with sessions.begin() as session:
        repo.import_mappings(
            session,
            account_id,
            [SkuMapping(sku, mid, f"AZ-{sku}", f"B0{i:08d}") for i, sku in enumerate(skus)],
            now=datetime.now(UTC),
        )


def stock_change(
    sessions: sessionmaker[Session], sku: str, *, count: int | None = None, delta: int = 0
) -> None:
    """A stock change as the ingest writes it: a count or a sale delta at the store."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        ledger = LedgerWriter(session, now=now)
        ledger.load([(STORE, sku)])
        ctx = MovementContext(at=now, store_id=STORE, reference="test")
        if count is not None:
            ledger.count(STORE, sku, count, ctx)
        if delta:
            ledger.delta(STORE, sku, delta, MovementKind.SALE, ctx)
        ledger.flush()


def runner_for(sessions: sessionmaker[Session], account_id: int) -> AccountRunner:
    with sessions() as session:
        row = session.get(ChannelAccount, account_id)
        assert row is not None
    return AccountRunner(sessions, row, CIPHER, client_factory=fast_client, policy=RunnerPolicy())


def open_alarms(sessions: sessionmaker[Session], kind: str) -> dict[str, Alarm]:
    with sessions() as session:
        return {a.key: a for a in alarms.open_alarms(session) if a.kind == kind}


def listed(scenario: Scenario, seller: dict[str, Any], sku: str) -> int:
    offer = scenario.listings(seller["seller_id"])[sku]["offers"][US]
    return int(offer["listed_quantity"])


# --- import -----------------------------------------------------------------------------------


def test_orders_land_in_marketplace_orders_with_their_routing_state(
    scenario: Scenario, sandbox: Any, seller: dict[str, Any], hub: sessionmaker[Session]
) -> None:
    """GIVEN MFN orders (Pending, Unshipped) and an FBA order WHEN imported and updated
    THEN marketplace_orders holds one row each with the routing state the status means."""
    sid = seller["seller_id"]
    account = add_account(hub, sandbox, seller)
    map_skus(hub, account.id, "MUG")
    stock_change(hub, "MUG", count=10)
    ship_to = {"city": "Seattle", "state": "WA", "postal_code": "98101", "country": "US"}
    paid = scenario.add_orders(
        sid,
        purchase_date=ago(minutes=30),
        ship_to=ship_to,
        items=[{"seller_sku": "AZ-MUG", "quantity": 2, "unit_price": "7.50", "item_tax": "1.20"}],
    )[0]
    pending = scenario.add_orders(
        sid, status="Pending", purchase_date=ago(minutes=30), items=[{"seller_sku": "AZ-MUG"}]
    )[0]
    fba = scenario.add_orders(
        sid, fulfillment_channel="AFN", status="Shipped", purchase_date=ago(minutes=30)
    )[0]
    runner = runner_for(hub, account.id)
    try:
        reports = runner.import_orders()
        assert [r.completed for r in reports] == [True, True]
        with hub() as session:
            rows = {
                o.marketplace_order_id: o
                for o in session.scalars(
                    select(MarketplaceOrder).where(MarketplaceOrder.account_id == account.id)
                )
            }
            assert {k: v.routing_state for k, v in rows.items()} == {
                paid["AmazonOrderId"]: "to_route",
                pending["AmazonOrderId"]: "new",
                fba["AmazonOrderId"]: "fba_recorded",
            }
            row = rows[paid["AmazonOrderId"]]
            assert (row.fulfillment_channel, row.currency, row.total_minor) == ("MFN", "USD", 1620)
            assert (row.ship_to_postal_code, row.ship_to_country, row.ship_to_city) == (
                "98101",
                "US",
                "Seattle",
            )
            line = session.scalars(
                select(MarketplaceOrderLine).where(MarketplaceOrderLine.order_id == row.id)
            ).one()
            assert (line.seller_sku, line.canonical_sku, line.qty) == ("AZ-MUG", "MUG", 2)
            assert (line.item_price_minor, line.item_tax_minor) == (1500, 120)

        # Pending -> Unshipped: routing's turn; then the buyer cancels the other one
        scenario.call(
            "POST",
            f"/orders/{pending['AmazonOrderId']}/status",
            {"status": "Unshipped", "at": ago(minutes=6)},
        )
        scenario.call("POST", f"/orders/{paid['AmazonOrderId']}/cancel", {"at": ago(minutes=5)})
        runner.import_orders()
        with hub() as session:
            states = dict(
                session.execute(
                    select(MarketplaceOrder.marketplace_order_id, MarketplaceOrder.routing_state)
                ).all()
            )
        assert states[pending["AmazonOrderId"]] == "to_route"
        assert states[paid["AmazonOrderId"]] == "cancelled"
        assert open_alarms(hub, "oversell") == {}  # 10 in stock covers every order
    finally:
        runner.close()


def test_an_mfn_order_beyond_the_sellable_stock_raises_oversell(
    scenario: Scenario, sandbox: Any, seller: dict[str, Any], hub: sessionmaker[Session]
) -> None:
    account = add_account(hub, sandbox, seller)
    map_skus(hub, account.id, "LAMP")
    stock_change(hub, "LAMP", count=1)
    order = scenario.add_orders(
        seller["seller_id"],
        purchase_date=ago(minutes=30),
        items=[{"seller_sku": "AZ-LAMP", "quantity": 3, "unit_price": "20.00"}],
    )[0]
    runner = runner_for(hub, account.id)
    try:
        runner.import_orders()
    finally:
        runner.close()
    raised = open_alarms(hub, "oversell")
    key = f"{account.name}:{order['AmazonOrderId']}"
    assert list(raised) == [key]
    assert "LAMP needs 3, sellable 1" in raised[key].message
    assert raised[key].severity == "critical"


# --- push -------------------------------------------------------------------------------------


def test_a_ledger_change_reaches_the_listing_zero_first(
    scenario: Scenario, sandbox: Any, seller: dict[str, Any], hub: sessionmaker[Session]
) -> None:
    """GIVEN mapped SKUs with stock WHEN the ledger records counts and sales THEN the
    next push sends exactly the changed channel quantities and Amazon lists them."""
    sid = seller["seller_id"]
    for sku in ("AZ-A", "AZ-B", "AZ-C"):
        scenario.add_listing(sid, sku, 0)
    account = add_account(hub, sandbox, seller)
    map_skus(hub, account.id, "A", "B", "C")
    with hub.begin() as session:
        row = session.get(ChannelAccount, account.id)
        assert row is not None
        row.buffer = 1  # one unit held back against overselling
    stock_change(hub, "A", count=5)
    stock_change(hub, "B", count=1)
    runner = runner_for(hub, account.id)
    try:
        first = runner.push_quantities()
        assert first.report is not None
        assert first.skus_checked == 3  # the first push looks at every mapped SKU
        # nothing was ever pushed: every mapped SKU is sent (B: 1 - 1 buffer = 0, C: 0)
        assert first.report.accepted == 3
        wait_until(lambda: listed(scenario, seller, "AZ-A") == 4, timeout=5, message="A listed")

        stock_change(hub, "A", delta=-4)  # the store sells four: 1 left, 0 after the buffer
        stock_change(hub, "C", count=3)
        assert runner.push_due()
        second = runner.push_quantities()
        assert second.report is not None
        # only what changed is sent: A (sold out) and C
        assert (second.report.recorded_pending, second.report.accepted) == (2, 2)
        assert not runner.push_due()
        wait_until(
            lambda: (listed(scenario, seller, "AZ-A"), listed(scenario, seller, "AZ-C")) == (0, 2),
            timeout=5,
            message="A sold out and C listed",
        )
        pushes = scenario.call("GET", f"/sellers/{sid}/pushes")["records"]
        assert [(p["sku"], p["quantity"]) for p in pushes[-2:]][0] == ("AZ-A", 0)  # zero first
    finally:
        runner.close()


def test_refused_quantities_are_kept_as_issues_and_raise_feed_errors(
    scenario: Scenario, sandbox: Any, seller: dict[str, Any], hub: sessionmaker[Session]
) -> None:
    sid = seller["seller_id"]
    scenario.add_listing(sid, "AZ-X", 0, reject_reason="Listing suppressed: missing image.")
    account = add_account(hub, sandbox, seller)
    map_skus(hub, account.id, "X")
    stock_change(hub, "X", count=2)
    runner = runner_for(hub, account.id)
    try:
        runner.import_orders()
        runner.push_quantities()
        health = runner.evaluate_health()
    finally:
        runner.close()
    assert [a.code for a in health.alarms] == ["feed_errors"]
    with hub() as session:
        issues = session.scalars(select(ChannelPushIssue)).all()
        assert [(i.seller_sku, i.quantity) for i in issues] == [("AZ-X", 2)]
        assert "missing image" in issues[0].message
    assert list(open_alarms(hub, "feed_errors")) == [account.name]
    assert open_alarms(hub, "import_lag") == {}


# --- shipments ----------------------------------------------------------------------------------


def test_a_handed_over_order_is_confirmed_after_retries(
    scenario: Scenario, sandbox: Any, seller: dict[str, Any], hub: sessionmaker[Session]
) -> None:
    """GIVEN an order routing marked handed_over WHEN Amazon fails, then accepts THEN the
    confirmation is retried later and the order ends confirmed with the package at Amazon."""
    sid = seller["seller_id"]
    account = add_account(hub, sandbox, seller)
    order = scenario.add_orders(
        sid,
        purchase_date=ago(minutes=30),
        items=[{"seller_sku": "AZ-M", "quantity": 2, "unit_price": "3.00"}],
    )[0]
    oid = order["AmazonOrderId"]
    now = datetime.now(UTC)
    clock = [now]
    with hub() as session:
        row = session.get(ChannelAccount, account.id)
        assert row is not None
    runner = AccountRunner(hub, row, CIPHER, client_factory=fast_client, clock=lambda: clock[0])
    try:
        runner.import_orders()
        with hub.begin() as session:  # what routing does when the store hands the parcel over
            mo = session.scalars(
                select(MarketplaceOrder).where(MarketplaceOrder.marketplace_order_id == oid)
            ).one()
            mo.routing_state = RoutingState.HANDED_OVER.value
            mo.routed_location = STORE
            mo.carrier_code, mo.tracking_number = "UPS", "1Z999"
            mo.handed_over_at = now
            mo.shipment_state = ShipmentState.PENDING.value
        scenario.fault(
            kind="error", operation="ordersV0/confirmShipment", seller_id=sid, count=6, status=503
        )
        assert runner.confirm_shipments() == 0
        with hub() as session:
            mo = session.scalars(
                select(MarketplaceOrder).where(MarketplaceOrder.marketplace_order_id == oid)
            ).one()
            assert (mo.routing_state, mo.shipment_state, mo.shipment_attempts) == (
                "handed_over",
                "retry",
                1,
            )
            assert mo.shipment_next_at == now + timedelta(minutes=1)
        assert runner.confirm_shipments() == 0  # not due yet: nothing sent
        clock[0] = now + timedelta(minutes=2)
        scenario.call("DELETE", "/faults")
        assert runner.confirm_shipments() == 1
    finally:
        runner.close()
    with hub() as session:
        mo = session.scalars(
            select(MarketplaceOrder).where(MarketplaceOrder.marketplace_order_id == oid)
        ).one()
        assert (mo.routing_state, mo.shipment_state) == ("confirmed", "accepted")
    packages = scenario.call("GET", f"/sellers/{sid}/shipments")["shipments"]
    assert [(p["order_id"], p["carrier_code"], p["tracking_number"]) for p in packages] == [
        (oid, "UPS", "1Z999")
    ]
    assert packages[0]["items"][0]["quantity"] == 2


# --- the worker: lease, revoked token -----------------------------------------------------------


def test_a_revoked_token_raises_channel_auth_and_nothing_crashes(
    scenario: Scenario, sandbox: Any, seller: dict[str, Any], hub: sessionmaker[Session]
) -> None:
    sid = seller["seller_id"]
    scenario.add_listing(sid, "AZ-R", 0)
    account = add_account(hub, sandbox, seller)
    map_skus(hub, account.id, "R")
    stock_change(hub, "R", count=3)
    policy = ChannelWorkerPolicy(tick_s=0.05, health_interval_s=0.0)
    worker = ChannelWorker(hub, CIPHER, worker_id="w1", policy=policy, client_factory=fast_client)
    other = ChannelWorker(hub, CIPHER, worker_id="w2", policy=policy, client_factory=fast_client)
    try:
        worker.tick()
        other.tick()
        assert (worker.is_leader, other.is_leader) == (True, False)
        assert open_alarms(hub, "channel_auth") == {}
        wait_until(lambda: listed(scenario, seller, "AZ-R") == 3, timeout=5, message="listed")

        scenario.call("POST", f"/sellers/{sid}/revoke")
        scenario.call("POST", "/tokens/expire", {"seller_id": sid})
        stock_change(hub, "R", delta=-1)
        worker._due[account.id].next_import = 0.0  # import now rather than in two minutes
        worker.tick()
        raised = open_alarms(hub, "channel_auth")
        assert list(raised) == [account.name]
        assert raised[account.name].severity == "critical"
        worker.tick()  # paused, still alive
        assert worker.runners[account.id].paused
    finally:
        worker.stop()
        other.stop()
