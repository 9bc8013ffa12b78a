"""Routing wired to the hub database: route, reserve, react to store events, re-route.

Store events go through the real ingest (``BatchApplier``) with the routing hook
attached, on SQLite and PostgreSQL; the clock is passed in, so timeouts need no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.db.models import DownMessage, StockLevel
from hub.db.models_alarms import Alarm
from hub.db.models_channels import MarketplaceOrder
from hub.db.models_routing import RoutingReview
from hub.ingest.apply import BatchApplier
from hub.routing_service import (
    RoutingService,
    RoutingSettings,
    StoreEvent,
    approve_review,
    find_order,
    on_events,
    reroute,
    set_location,
)
from tests.routing_e2e.helpers import (
    POSITIONS,
    StorePlayer,
    assignment,
    decisions,
    make_account,
    make_order,
    sale_body,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@dataclass
class World:
    """The hub database with three stores online, a channel account and the routing service."""

    sessions: sessionmaker[Session]
    service: RoutingService
    stores: StorePlayer
    account_id: int
    now: datetime = T0

    def order(self, order_id: str, lines: list[tuple[str, int]], **kw: object) -> None:
        with self.sessions.begin() as session:
            make_order(session, self.account_id, order_id, lines, now=self.now, **kw)  # type: ignore[arg-type]

    def run(self, *, after_s: float = 0.0) -> None:
        self.now = self.now + timedelta(seconds=after_s)
        self.service.run_once(self.now)

    def state(self, order_id: str) -> MarketplaceOrder:
        with self.sessions() as session:
            order = find_order(session, order_id)
            assert order is not None
            return order

    def level(self, store: str, sku: str) -> tuple[int, int]:
        with self.sessions() as session:
            row = session.get(StockLevel, (store, sku))
            return (0, 0) if row is None else (row.on_hand, row.reserved)

    def down(self, store: str) -> list[tuple[str, str]]:
        with self.sessions() as session:
            rows = session.scalars(
                select(DownMessage)
                .where(DownMessage.store_id == store, DownMessage.channel == "orders")
                .order_by(DownMessage.created_at)
            ).all()
            return sorted((r.kind, r.ref) for r in rows)

    def send(self, store: str, type_: str, body: dict[str, object]) -> None:
        result = self.stores.send(store, type_, body, at=self.now)
        assert result.dead_letters == 0, result.dead_reasons


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    """s-001 (Berlin) has 1 unit of SKU-A, s-002 (Potsdam) and s-003 (Munich) 5; all online."""
    clock = {"now": T0}
    applier = BatchApplier(sessions, clock=lambda: clock["now"])
    applier.event_hooks.append(
        lambda session, events, now: on_events(session, [StoreEvent(*e) for e in events], now=now)
    )
    with sessions.begin() as session:
        account = make_account(session, now=T0)
        for store, (lat, lon) in POSITIONS.items():
            set_location(session, store, lat=lat, lon=lon, daily_capacity=None, now=T0)
    service = RoutingService(
        sessions,
        RoutingSettings.from_mapping(
            {"accept_timeout_s": 600, "manual_review_over": {"EUR": "900.00"}}
        ),
    )
    w = World(sessions, service, StorePlayer(applier), account.id)
    for store, qty in (("s-001", 1), ("s-002", 5), ("s-003", 5)):
        w.stores.status(store, online=True, at=T0)
        w.send(store, "stock.counted", {"sku": "SKU-A", "counted": qty})

    original = w.run

    def run(*, after_s: float = 0.0) -> None:
        clock["now"] = w.now + timedelta(seconds=after_s)
        original(after_s=after_s)

    w.run = run  # type: ignore[method-assign]
    return w


def test_routes_to_the_nearest_store_with_stock_and_reserves(world: World) -> None:
    world.order("A-1", [("SKU-A", 1)])
    world.run()
    order = world.state("A-1")
    assert (order.routing_state, order.routed_location) == ("routed", "s-001")
    assert world.level("s-001", "SKU-A") == (1, 1)
    assert world.down("s-001") == [("order.routed", "A-1")]
    [decision] = decisions(world.sessions, "A-1")
    assert (decision.trigger, decision.outcome, decision.location_id) == (
        "initial",
        "routed",
        "s-001",
    )
    assert decision.explanation["assignments"][0]["location_id"] == "s-001"
    assert assignment(world.sessions, "A-1", "s-001").state == "routed"


def test_reject_out_of_stock_reroutes_and_corrects_stock(world: World) -> None:
    world.order("A-2", [("SKU-A", 1)])
    world.run()
    # The store counts the shelf (0) and rejects: what the edge sends for "out of stock".
    world.send("s-001", "stock.counted", {"sku": "SKU-A", "counted": 0})
    world.send(
        "s-001",
        "order.rejected",
        {"order_id": "A-2", "reason": "out_of_stock", "skus_short": ["SKU-A"]},
    )
    assert world.state("A-2").routing_state == "to_route"
    assert world.level("s-001", "SKU-A") == (0, 0)
    world.run()
    order = world.state("A-2")
    assert (order.routing_state, order.routed_location) == ("routed", "s-002")
    first, second = decisions(world.sessions, "A-2")
    assert (second.trigger, second.excluded, second.location_id) == (
        "rejected",
        ["s-001"],
        "s-002",
    )
    released = assignment(world.sessions, "A-2", "s-001")
    assert (released.state, released.reject_reason) == ("released", "out_of_stock")
    assert world.level("s-002", "SKU-A") == (5, 1)


def test_no_accept_in_time_reroutes_and_cancels_at_the_first_store(world: World) -> None:
    world.order("A-3", [("SKU-A", 1)])
    world.run()
    world.run(after_s=599)
    assert world.state("A-3").routed_location == "s-001"
    world.run(after_s=2)
    order = world.state("A-3")
    assert (order.routing_state, order.routed_location) == ("routed", "s-002")
    assert world.level("s-001", "SKU-A") == (1, 0)
    assert world.down("s-001") == [("order.cancelled", "A-3"), ("order.routed", "A-3")]
    assert decisions(world.sessions, "A-3")[-1].trigger == "timed_out"
    # A late acceptance at s-001 changes nothing: the order has moved on.
    world.send("s-001", "order.accepted", {"order_id": "A-3"})
    assert assignment(world.sessions, "A-3", "s-001").state == "released"


def test_accepted_in_time_is_not_timed_out(world: World) -> None:
    world.order("A-4", [("SKU-A", 1)])
    world.run()
    world.send("s-001", "order.accepted", {"order_id": "A-4"})
    world.run(after_s=3600)
    assert world.state("A-4").routed_location == "s-001"
    assert assignment(world.sessions, "A-4", "s-001").state == "accepted"


def test_last_will_before_accepting_reroutes(world: World) -> None:
    world.order("A-5", [("SKU-A", 1)])
    world.run()
    world.stores.status("s-001", online=False, at=world.now)
    world.run(after_s=1)
    order = world.state("A-5")
    assert (order.routing_state, order.routed_location) == ("routed", "s-002")
    assert decisions(world.sessions, "A-5")[-1].trigger == "store_offline"
    assert world.level("s-001", "SKU-A") == (1, 0)


def test_cancellation_in_the_middle_of_a_pick(world: World) -> None:
    world.order("A-6", [("SKU-A", 1)])
    world.run()
    world.send("s-001", "order.accepted", {"order_id": "A-6"})
    with world.sessions.begin() as session:
        order = find_order(session, "A-6")
        assert order is not None
        order.routing_state = "cancelled"  # what the channel importer does
    world.run(after_s=1)
    released = assignment(world.sessions, "A-6", "s-001")
    assert (released.state, released.release_reason) == ("released", "cancelled")
    assert world.level("s-001", "SKU-A") == (1, 0)
    assert ("order.cancelled", "A-6") in world.down("s-001")
    # The store's answer (order.rejected for the cancellation) changes nothing more.
    world.send("s-001", "order.rejected", {"order_id": "A-6", "reason": "other"})
    assert world.state("A-6").routing_state == "cancelled"


def test_hand_over_consumes_and_hands_the_order_to_the_channel(world: World) -> None:
    world.order("A-7", [("SKU-A", 2)])
    world.run()
    assert world.state("A-7").routed_location == "s-002"  # s-001 has only 1
    world.send("s-002", "order.accepted", {"order_id": "A-7"})
    world.send("s-002", "order.picked", {"order_id": "A-7", "lines": [{"sku": "SKU-A", "qty": 2}]})
    world.send("s-002", "order.packed", {"order_id": "A-7"})
    world.send(
        "s-002",
        "order.handed_over",
        {
            "order_id": "A-7",
            "carrier": "DHL",
            "tracking_number": "JD0001",
            "lines": [{"sku": "SKU-A", "qty": 2}],
        },
    )
    order = world.state("A-7")
    assert (order.routing_state, order.carrier_code, order.tracking_number) == (
        "handed_over",
        "DHL",
        "JD0001",
    )
    assert order.shipment_state == "pending"
    assert world.level("s-002", "SKU-A") == (3, 0)
    assert assignment(world.sessions, "A-7", "s-002").state == "handed_over"


def test_unroutable_order_raises_the_alarm(world: World) -> None:
    world.order("A-8", [("SKU-A", 50)])
    world.run()
    assert world.state("A-8").routing_state == "unroutable"
    with world.sessions() as session:
        alarm = session.scalars(
            select(Alarm).where(Alarm.kind == "unroutable_order", Alarm.key == "A-8")
        ).one()
        assert alarm.status == "open"
    # Stock arrives; a person routes it again and the alarm clears.
    world.send("s-003", "stock.received", {"sku": "SKU-A", "qty": 50})
    with world.sessions.begin() as session:
        row = reroute(session, "A-8", world.service.settings, who="hq", now=world.now)
        assert row.location_id == "s-003"
    with world.sessions() as session:
        alarm = session.scalars(
            select(Alarm).where(Alarm.kind == "unroutable_order", Alarm.key == "A-8")
        ).one()
        assert alarm.status == "cleared"


def test_an_oversell_alarm_clears_once_its_order_is_routed_and_not_before(
    world: World,
) -> None:
    """GIVEN the channel import raised ``oversell`` for two orders (key account:order)
    THEN the routing round closes the one whose order found stock and keeps the other."""
    with world.sessions.begin() as session:
        for order_id in ("O-1", "O-2"):
            alarms.raise_alarm(
                session,
                kind="oversell",
                key=f"amazon-eu:{order_id}",
                message="needs more than sellable",
                severity="critical",
                now=world.now,
            )
    world.order("O-1", [("SKU-A", 2)])
    world.order("O-2", [("SKU-A", 50)])
    world.run()
    assert (world.state("O-1").routing_state, world.state("O-2").routing_state) == (
        "routed",
        "unroutable",
    )
    world.run(after_s=1)  # the next round looks at the alarms
    with world.sessions() as session:
        status = dict(
            session.execute(select(Alarm.key, Alarm.status).where(Alarm.kind == "oversell")).all()
        )
    assert status == {"amazon-eu:O-1": "cleared", "amazon-eu:O-2": "open"}


def test_manual_review_hold_and_approval(world: World) -> None:
    world.order("A-9", [("SKU-A", 1)], total_minor=120_000)
    world.run()
    assert world.state("A-9").routing_state == "manual_review"
    assert world.level("s-001", "SKU-A") == (1, 0)
    with world.sessions() as session:
        review = session.get(RoutingReview, "A-9")
        assert review is not None
        assert review.state == "pending"
    with world.sessions.begin() as session:
        approve_review(session, "A-9", world.service.settings, who="hq-lead", now=world.now)
    assert world.state("A-9").routed_location == "s-001"
    with world.sessions() as session:
        review = session.get(RoutingReview, "A-9")
        assert review is not None
        assert (review.state, review.decided_by) == ("approved", "hq-lead")


def test_walk_in_sale_of_the_reserved_last_unit_reroutes_the_order(world: World) -> None:
    world.order("A-10", [("SKU-A", 1)])
    world.run()
    assert world.level("s-001", "SKU-A") == (1, 1)
    # The till sells the last unit over the counter (the till warns; the sale goes through).
    sale = {
        "sale_id": "8c1d1c0e-33a1-4b0c-9a62-7f2d3f3b6a11",
        "receipt_no": "R-1",
        "cashier_id": "c-1",
        "business_day": "2026-11-27",
        "currency": "EUR",
        "prices_include_tax": True,
        "lines": [
            {
                "line_no": 1,
                "sku": "SKU-A",
                "name": "A",
                "qty": 1,
                "unit_price_minor": 100,
                "tax_class": "standard",
                "tax_rate_bp": 1900,
                "tax_minor": 16,
                "total_minor": 100,
            }
        ],
        "subtotal_minor": 100,
        "tax_minor": 16,
        "total_minor": 100,
        "tenders": [{"kind": "cash", "amount_minor": 100}],
        "completed_at": world.now.isoformat(),
    }
    world.send("s-001", "sale.completed", sale)
    released = assignment(world.sessions, "A-10", "s-001")
    assert (released.state, released.release_reason) == ("released", "walk_in")
    assert world.level("s-001", "SKU-A") == (0, 0)
    world.run()
    order = world.state("A-10")
    assert (order.routing_state, order.routed_location) == ("routed", "s-002")
    assert world.down("s-001") == [("order.cancelled", "A-10"), ("order.routed", "A-10")]
    # No oversell: every reserved unit is on a shelf.
    with world.sessions() as session:
        for row in session.scalars(select(StockLevel)):
            assert row.reserved <= max(0, row.on_hand), (row.location_id, row.sku)


def test_walk_in_check_looks_only_at_the_store_and_sku_an_order_holds(world: World) -> None:
    world.order("A-11", [("SKU-A", 1)])
    world.run()
    assert world.level("s-001", "SKU-A") == (1, 1)
    world.send("s-002", "stock.counted", {"sku": "SKU-B", "counted": 5})
    world.send("s-001", "stock.counted", {"sku": "SKU-B", "counted": 5})
    # One batch: the same SKU sold at another store, another SKU sold at the holding store.
    result = world.stores.send_batch(
        [
            ("s-002", "sale.completed", sale_body("SKU-A", 2, at=world.now)),
            ("s-001", "sale.completed", sale_body("SKU-B", 1, at=world.now, receipt="R-2")),
            ("s-002", "sale.completed", sale_body("SKU-B", 5, at=world.now, receipt="R-3")),
        ],
        at=world.now,
    )
    assert result.applied == 3
    assert assignment(world.sessions, "A-11", "s-001").state == "routed"
    assert world.level("s-001", "SKU-A") == (1, 1)
    # Then a batch in which one sale of several takes the reserved unit.
    world.stores.send_batch(
        [
            ("s-001", "sale.completed", sale_body("SKU-B", 1, at=world.now, receipt="R-4")),
            ("s-001", "sale.completed", sale_body("SKU-A", 1, at=world.now, receipt="R-5")),
            ("s-003", "sale.completed", sale_body("SKU-A", 1, at=world.now, receipt="R-6")),
        ],
        at=world.now,
    )
    released = assignment(world.sessions, "A-11", "s-001")
    assert (released.state, released.release_reason) == ("released", "walk_in")
    assert world.level("s-001", "SKU-A") == (0, 0)
    assert world.state("A-11").routing_state == "to_route"


def test_settings_refuse_unknown_keys_and_bad_timeouts() -> None:
    with pytest.raises(ValueError, match="accept_timout_s"):
        RoutingSettings.from_mapping({"accept_timout_s": 5})
    with pytest.raises(ValueError, match="accept_timeout_s"):
        RoutingSettings.from_mapping({"accept_timeout_s": 0})
    assert RoutingSettings.from_mapping({"accept_timeout_s": 5}).accept_timeout == timedelta(
        seconds=5
    )
