"""Incremental order import over real HTTP: crash and resume, status changes, skew, tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.channels.amazon.errors import NotFoundError
from hub.channels.amazon.health import HealthInput, TokenState, evaluate_health, health_input
from hub.channels.amazon.importer import (
    ImportPolicy,
    ImportReport,
    OrderEvent,
    OrderEventKind,
    OrderImporter,
    advance_checkpoint,
    plan_window,
)
from hub.channels.amazon.model import ImportOutcome, OrderStatus
from hub.channels.amazon.orders import OrderWindow, order_source
from hub.channels.amazon.state import PageState
from hub.db.channels import DbChannelStore
from hub.db.engine import make_engine, make_sessionmaker
from protocol.money import Money
from tests.channels.amazon.conftest import ClientFactory, Scenario, ago, register
from tests.fixtures.util import wait_until

US = "ATVPDKIKX0DER"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Crash(Exception):
    """Stands for the process dying."""


def importer_for(
    client: Any, store: DbChannelStore, *, events: list[OrderEvent] | None = None, **kwargs: Any
) -> OrderImporter:
    register(store, client.account)
    return OrderImporter(
        order_source(client),
        store,
        store,
        account=client.account.name,
        on_event=None if events is None else events.append,
        **kwargs,
    )


# --- the pure window logic -----------------------------------------------------------------------


def test_first_window_looks_back_and_stays_clear_of_the_two_minute_rule() -> None:
    policy = ImportPolicy()
    assert plan_window(None, T0, policy) == OrderWindow(
        T0 - timedelta(days=3), T0 - timedelta(minutes=3)
    )
    assert plan_window(T0 - timedelta(hours=1), T0, policy) == OrderWindow(
        T0 - timedelta(hours=1, minutes=10), T0 - timedelta(minutes=3)
    )


def test_no_window_when_the_checkpoint_is_ahead_of_our_clock() -> None:
    # our clock went backwards (NTP step): nothing can be asked safely yet
    assert plan_window(T0 + timedelta(minutes=30), T0, ImportPolicy()) is None


@pytest.mark.parametrize(
    ("current", "window_end", "newest", "expected"),
    [
        (None, T0, None, T0),
        (T0, T0 - timedelta(minutes=5), None, T0),  # never backwards
        (None, None, T0 - timedelta(minutes=1), T0 - timedelta(minutes=9)),  # window.before wins
    ],
)
def test_checkpoint_advances_to_the_window_end(
    current: datetime | None,
    window_end: datetime | None,
    newest: datetime | None,
    expected: datetime,
) -> None:
    window = OrderWindow(T0 - timedelta(hours=1), T0 - timedelta(minutes=9))
    assert advance_checkpoint(current, window, window_end, newest) == expected


def test_open_window_checkpoint_uses_the_newest_order() -> None:
    window = OrderWindow(T0 - timedelta(hours=1), None)
    assert advance_checkpoint(None, window, None, T0 - timedelta(minutes=7)) == T0 - timedelta(
        minutes=7
    )
    assert advance_checkpoint(None, window, None, None) == T0 - timedelta(hours=1)


# --- against the sandbox ------------------------------------------------------------------------


@pytest.mark.parametrize("orders_api", ["v0", "2026-01-01"])
def test_crash_after_the_second_page_resumes_with_no_order_lost_or_doubled(
    scenario: Scenario, make_client: ClientFactory, hub_db_url: str, orders_api: str
) -> None:
    seller = scenario.add_seller(["US"])
    made = scenario.add_orders(
        seller["seller_id"],
        count=60,
        purchase_date=ago(minutes=8),
        items=[{"seller_sku": "SKU-1", "quantity": 1, "unit_price": "5.00"}],
    )
    expected = {o["AmazonOrderId"] for o in made}
    policy = ImportPolicy(page_size=12)  # five pages
    events: list[OrderEvent] = []

    def crash_after_second_page(report: ImportReport) -> None:
        if report.pages == 2:
            raise Crash

    first_engine = make_engine(hub_db_url, writer=True)
    first_store = DbChannelStore(make_sessionmaker(first_engine))
    first = importer_for(
        make_client(seller, orders_api=orders_api),
        first_store,
        events=events,
        policy=policy,
        progress=crash_after_second_page,
    )
    with pytest.raises(Crash):
        first.run(US)
    state = first_store.get_page_state(first.account, US)
    assert state is not None
    assert state.pages_done == 2
    assert first_store.get_checkpoint(first.account, US) is None
    first_engine.dispose()

    # a new process: new client, new connections to the same hub database
    engine = make_engine(hub_db_url, writer=True)
    store = DbChannelStore(make_sessionmaker(engine))
    second = importer_for(
        make_client(seller, orders_api=orders_api), store, events=events, policy=policy
    )
    report = second.run(US)
    assert report.resumed
    assert report.completed
    assert report.pages == 3
    assert store.get_page_state(second.account, US) is None
    assert report.checkpoint is not None
    stored = store.orders(second.account)
    assert len(stored) == 60
    assert {o.order_id for o in stored} == expected
    routed = Counter(e.order.order_id for e in events if e.kind is OrderEventKind.ROUTE)
    assert set(routed) == expected
    assert max(routed.values()) == 1
    assert all(o.lines and o.lines[0].line_price == Money(500, "USD") for o in stored)

    # the next run re-reads the overlap: everything unchanged, nothing routed again
    again = second.run(US)
    assert again.completed
    assert again.count(ImportOutcome.UNCHANGED) == 60
    assert not again.events
    engine.dispose()


def test_status_changes_are_applied_and_each_causes_one_event(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    sid = seller["seller_id"]
    pending = scenario.add_orders(
        sid,
        status="Pending",
        purchase_date=ago(minutes=40),
        items=[{"seller_sku": "MUG", "quantity": 2, "unit_price": "7.50"}],
    )[0]
    fba = scenario.add_orders(
        sid, fulfillment_channel="AFN", status="Shipped", purchase_date=ago(minutes=40)
    )[0]
    events: list[OrderEvent] = []
    importer = importer_for(make_client(seller), channel_store, events=events)
    oid = pending["AmazonOrderId"]

    first = importer.run(US)
    assert first.count(ImportOutcome.CREATED) == 2
    assert [(e.kind, e.order.order_id) for e in events] == [
        (OrderEventKind.FBA_RECORDED, fba["AmazonOrderId"])
    ]
    stored = channel_store.stored_order(importer.account, oid)
    assert stored is not None
    assert stored.status is OrderStatus.PENDING
    assert stored.order_total is None  # Amazon hides prices while Pending

    scenario.call("POST", f"/orders/{oid}/status", {"status": "Unshipped", "at": ago(minutes=6)})
    events.clear()
    second = importer.run(US)
    assert second.count(ImportOutcome.UPDATED) == 1
    assert [(e.kind, e.previous_status) for e in events] == [
        (OrderEventKind.ROUTE, OrderStatus.PENDING)
    ]
    paid = channel_store.stored_order(importer.account, oid)
    assert paid is not None
    assert paid.order_total == Money(1500, "USD")
    assert paid.lines is not None
    assert paid.lines[0].line_price == Money(1500, "USD")  # items re-read once prices exist

    scenario.call("POST", f"/orders/{oid}/cancel", {"at": ago(minutes=5)})
    events.clear()
    importer.run(US)
    assert [(e.kind, e.previous_status) for e in events] == [
        (OrderEventKind.CANCEL, OrderStatus.UNSHIPPED)
    ]
    events.clear()
    assert importer.run(US).count(ImportOutcome.UPDATED) == 0
    assert events == []


def test_an_update_that_becomes_visible_late_is_caught_by_the_overlap(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    sqlite_hub: Callable[[str], DbChannelStore],
) -> None:
    sid = seller["seller_id"]
    with_overlap = sqlite_hub("overlap")
    without = sqlite_hub("no-overlap")
    client = make_client(seller)
    good = importer_for(client, with_overlap)
    naive = importer_for(client, without, policy=ImportPolicy(overlap=timedelta(0)))
    scenario.add_orders(sid, purchase_date=ago(minutes=30))
    assert good.run(US).completed
    assert naive.run(US).completed
    # stamped four minutes ago (inside the last window), but visible to queries only now
    late = scenario.add_orders(sid, purchase_date=ago(minutes=4), visible_after_s=0.3)[0]
    checkpoint = with_overlap.get_checkpoint(good.account, US)
    assert checkpoint is not None
    assert datetime.fromisoformat(late["LastUpdateDate"].replace("Z", "+00:00")) < checkpoint

    def visible() -> bool:
        try:
            client.get_order(late["AmazonOrderId"])
        except NotFoundError:
            return False
        return True

    wait_until(visible, timeout=5, message="the late order becomes visible")
    good.run(US)
    naive.run(US)
    assert with_overlap.stored_order(good.account, late["AmazonOrderId"]) is not None
    assert without.stored_order(naive.account, late["AmazonOrderId"]) is None


def test_token_expiry_in_the_middle_of_a_run(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    scenario.add_orders(seller["seller_id"], count=30, purchase_date=ago(minutes=30))
    client = make_client(seller)

    def expire_after_first_page(report: ImportReport) -> None:
        if report.pages == 1:
            scenario.call("POST", "/tokens/expire", {"seller_id": seller["seller_id"]})

    report = importer_for(
        client, channel_store, policy=ImportPolicy(page_size=10), progress=expire_after_first_page
    ).run(US)
    assert report.completed
    assert report.pages == 3
    assert len(channel_store.orders(client.account.name)) == 30
    assert client.stats.token_refreshes == 2


def test_a_page_token_amazon_refuses_restarts_the_window(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    scenario.add_orders(seller["seller_id"], count=5, purchase_date=ago(minutes=30))
    client = make_client(seller)
    register(channel_store, client.account)
    channel_store.set_page_state(
        client.account.name,
        US,
        PageState(
            datetime.now(UTC) - timedelta(hours=2),
            datetime.now(UTC) - timedelta(minutes=5),
            "bm90IGEgdG9rZW4=",
            3,
        ),
    )
    report = importer_for(client, channel_store).run(US)
    assert report.completed
    assert len(channel_store.orders(client.account.name)) == 5


def test_our_clock_ahead_of_amazons_falls_back_to_amazons_window_end(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    scenario.add_orders(seller["seller_id"], count=2, purchase_date=ago(minutes=30))
    client = make_client(seller)
    skewed = importer_for(
        client, channel_store, clock=lambda: datetime.now(UTC) + timedelta(minutes=5)
    )
    report = skewed.run(US)
    assert report.completed, report.error
    assert len(channel_store.orders(client.account.name)) == 2
    assert report.checkpoint is not None
    assert report.checkpoint <= datetime.now(UTC) - timedelta(minutes=2)
    assert client.stats.of("ordersV0/getOrders").client_errors == 1  # the refused window


def test_a_revoked_token_raises_the_alarm_and_nothing_crashes(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    scenario.add_orders(seller["seller_id"], purchase_date=ago(minutes=30))
    client = make_client(seller)
    importer = importer_for(client, channel_store)
    ok = importer.run(US)
    assert ok.completed
    healthy = evaluate_health(
        health_input(
            client.account.name,
            client.stats,
            now=datetime.now(UTC),
            last_import_at=ok.finished_at,
            feed_errors=0,
        )
    )
    assert healthy.alarms == ()
    scenario.call("POST", f"/sellers/{seller['seller_id']}/revoke")
    report = importer.run(US)
    assert report.auth_revoked
    assert not report.completed
    assert client.stats.token_state is TokenState.REVOKED
    health = evaluate_health(
        health_input(
            client.account.name,
            client.stats,
            now=datetime.now(UTC),
            last_import_at=ok.finished_at,
            feed_errors=0,
        )
    )
    assert [(a.code, a.severity.value) for a in health.alarms] == [
        ("refresh_token_revoked", "critical")
    ]
    assert health.status.value == "failing"


@pytest.mark.parametrize(
    ("overrides", "codes"),
    [
        ({}, []),
        ({"last_import_at": T0 - timedelta(minutes=45)}, ["import_lag"]),
        ({"last_import_at": None}, ["import_lag"]),
        ({"calls": 100, "errors": 20}, ["error_rate"]),
        ({"calls": 100, "throttled": 40}, ["throttling"]),
        ({"calls": 10, "errors": 9}, []),  # too few calls to judge a rate
        ({"feed_errors": 3}, ["feed_errors"]),
        ({"token_state": TokenState.FAILING}, ["token_failing"]),
    ],
)
def test_health_alarms(overrides: dict[str, Any], codes: list[str]) -> None:
    base: dict[str, Any] = {
        "account": "a",
        "now": T0,
        "token_state": TokenState.VALID,
        "last_import_at": T0 - timedelta(minutes=5),
        "calls": 50,
        "throttled": 0,
        "errors": 0,
        "feed_errors": 0,
    }
    health = evaluate_health(HealthInput(**{**base, **overrides}))
    assert [a.code for a in health.alarms] == codes
    assert (health.status.value == "ok") == (not codes)
