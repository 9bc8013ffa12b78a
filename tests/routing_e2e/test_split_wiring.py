# ruff: noqa: F811  (the ``world`` fixture is imported from test_routing_wiring)
"""Split orders wired to the hub database: parts at several stores, each on its own.

The real ingest with the routing hook on SQLite and PostgreSQL, the clock passed in
(the ``world`` of test_routing_wiring: s-001 Berlin, s-002 Potsdam, s-003 Munich).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.channels.amazon.states import ShipmentState
from hub.db.models import OrderReservation
from hub.db.models_channels import MarketplaceOrderLine
from hub.db.models_routing import RoutingAssignment
from hub.routing_service import (
    RoutingService,
    RoutingSettings,
    find_order,
    record_package,
    reroute,
)
from tests.routing_e2e.helpers import assignment, decisions
from tests.routing_e2e.test_routing_wiring import World, world  # noqa: F401  (fixture)


def _stock(w: World, counts: dict[tuple[str, str], int]) -> None:
    for (store, sku), qty in counts.items():
        w.send(store, "stock.counted", {"sku": sku, "counted": qty})


def _reserved(w: World, order_id: str) -> dict[str, dict[str, int]]:
    with w.sessions() as session:
        out: dict[str, dict[str, int]] = {}
        for row in session.scalars(
            select(OrderReservation).where(
                OrderReservation.order_id == order_id, OrderReservation.status == "open"
            )
        ):
            out.setdefault(row.location_id, {})[row.sku] = row.qty
        return out


def _hand_over(w: World, store: str, order_id: str, lines: dict[str, int], tracking: str) -> None:
    body: dict[str, object] = {
        "order_id": order_id,
        "lines": [{"sku": s, "qty": q} for s, q in lines.items()],
    }
    w.send(store, "order.accepted", {"order_id": order_id})
    w.send(store, "order.picked", body)
    w.send(store, "order.packed", {"order_id": order_id})
    w.send(store, "order.handed_over", {**body, "carrier": "DHL", "tracking_number": tracking})


def test_order_no_store_can_fill_alone_is_split_and_each_part_reserved(world: World) -> None:
    _stock(world, {("s-001", "SKU-B"): 2, ("s-002", "SKU-C"): 3})
    world.order("S-1", [("SKU-B", 1), ("SKU-C", 2)])
    world.run()
    order = world.state("S-1")
    assert order.routing_state == "routed"
    assert _reserved(world, "S-1") == {"s-001": {"SKU-B": 1}, "s-002": {"SKU-C": 2}}
    assert world.down("s-001") == [("order.routed", "S-1")]
    assert world.down("s-002") == [("order.routed", "S-1")]
    [decision] = decisions(world.sessions, "S-1")
    assert decision.outcome == "split"
    assert "split over 2 locations" in decision.summary
    shipped = {a["location_id"]: a["lines"] for a in decision.explanation["assignments"]}
    assert shipped == {
        "s-001": [{"sku": "SKU-B", "qty": 1}],
        "s-002": [{"sku": "SKU-C", "qty": 2}],
    }
    assert assignment(world.sessions, "S-1", "s-002").lines == [{"sku": "SKU-C", "qty": 2}]
    assert world.level("s-001", "SKU-B") == (2, 1)
    assert world.level("s-002", "SKU-C") == (3, 2)


def test_each_part_is_handed_over_and_confirmed_as_its_own_package(world: World) -> None:
    _stock(world, {("s-001", "SKU-B"): 2, ("s-002", "SKU-C"): 3})
    world.order("S-2", [("SKU-B", 1), ("SKU-C", 2)])
    world.run()
    _hand_over(world, "s-002", "S-2", {"SKU-C": 2}, "TRK-C")
    order = world.state("S-2")
    assert order.routing_state == "routed"  # one package of two has left
    assert "1 of 2 part(s) handed over" in order.routing_note
    assert order.shipment_state == "none"  # the channel's order-level path leaves it alone
    part = assignment(world.sessions, "S-2", "s-002")
    assert (part.package_ref, part.carrier, part.tracking_number) == ("1", "DHL", "TRK-C")
    assert part.package_items == [{"order_item_id": "S-2-2", "quantity": 2}]
    assert part.shipment_state == "pending"
    assert world.level("s-002", "SKU-C") == (1, 0)
    assert world.level("s-001", "SKU-B") == (2, 1)
    _hand_over(world, "s-001", "S-2", {"SKU-B": 1}, "TRK-B")
    order = world.state("S-2")
    assert (order.routing_state, order.shipment_state) == ("handed_over", "by_package")
    first = assignment(world.sessions, "S-2", "s-001")
    assert (first.package_ref, first.package_items) == (
        "2",
        [{"order_item_id": "S-2-1", "quantity": 1}],
    )
    # The marketplace accepts the packages one by one; the order follows the last.
    with world.sessions.begin() as session:
        record_package(session, "S-2", "s-002", ShipmentState.ACCEPTED, now=world.now)
    assert world.state("S-2").routing_state == "handed_over"
    with world.sessions.begin() as session:
        record_package(session, "S-2", "s-001", ShipmentState.ACCEPTED, now=world.now)
    order = world.state("S-2")
    assert (order.routing_state, order.shipment_state) == ("confirmed", "accepted")


def test_a_rejected_part_is_rerouted_alone(world: World) -> None:
    _stock(world, {("s-001", "SKU-B"): 2, ("s-002", "SKU-C"): 3, ("s-003", "SKU-C"): 4})
    world.order("S-3", [("SKU-B", 1), ("SKU-C", 2)])
    world.run()
    assert _reserved(world, "S-3") == {"s-001": {"SKU-B": 1}, "s-002": {"SKU-C": 2}}
    world.send("s-001", "order.accepted", {"order_id": "S-3"})
    world.send("s-002", "order.rejected", {"order_id": "S-3", "reason": "damaged"})
    assert world.state("S-3").routing_state == "to_route"
    world.run()
    order = world.state("S-3")
    assert order.routing_state == "routed"
    # Only SKU-C moved, to Munich; Berlin keeps its accepted part.
    assert _reserved(world, "S-3") == {"s-001": {"SKU-B": 1}, "s-003": {"SKU-C": 2}}
    assert assignment(world.sessions, "S-3", "s-001").state == "accepted"
    last = decisions(world.sessions, "S-3")[-1]
    assert (last.trigger, last.outcome, last.location_id) == ("rejected", "routed", "s-003")
    assert last.excluded == ["s-001", "s-002"]
    assert last.explanation["assignments"][0]["lines"] == [{"sku": "SKU-C", "qty": 2}]
    assert world.down("s-003") == [("order.routed", "S-3")]
    assert world.level("s-002", "SKU-C") == (3, 0)
    _hand_over(world, "s-003", "S-3", {"SKU-C": 2}, "TRK-3")
    _hand_over(world, "s-001", "S-3", {"SKU-B": 1}, "TRK-1")
    assert world.state("S-3").routing_state == "handed_over"


def test_a_part_that_times_out_moves_and_the_other_stays(world: World) -> None:
    _stock(world, {("s-001", "SKU-B"): 2, ("s-002", "SKU-C"): 3, ("s-003", "SKU-C"): 4})
    world.order("S-4", [("SKU-B", 1), ("SKU-C", 1)])
    world.run()
    world.send("s-001", "order.accepted", {"order_id": "S-4"})
    world.run(after_s=601)
    assert _reserved(world, "S-4") == {"s-001": {"SKU-B": 1}, "s-003": {"SKU-C": 1}}
    assert ("order.cancelled", "S-4") in world.down("s-002")
    assert ("order.cancelled", "S-4") not in world.down("s-001")


def test_manual_reroute_moves_only_the_parts_nobody_accepted(world: World) -> None:
    _stock(world, {("s-001", "SKU-B"): 2, ("s-002", "SKU-C"): 3, ("s-003", "SKU-C"): 4})
    world.order("S-5", [("SKU-B", 1), ("SKU-C", 1)])
    world.run()
    world.send("s-001", "order.accepted", {"order_id": "S-5"})
    with world.sessions.begin() as session:
        reroute(
            session, "S-5", world.service.settings, who="hq", now=world.now, release_current=True
        )
    assert _reserved(world, "S-5") == {"s-001": {"SKU-B": 1}, "s-003": {"SKU-C": 1}}
    assert assignment(world.sessions, "S-5", "s-002").release_reason == "manual_reroute"


def test_cancelling_a_split_order_releases_every_part(world: World) -> None:
    _stock(world, {("s-001", "SKU-B"): 2, ("s-002", "SKU-C"): 3})
    world.order("S-6", [("SKU-B", 1), ("SKU-C", 1)])
    world.run()
    world.send("s-002", "order.accepted", {"order_id": "S-6"})
    with world.sessions.begin() as session:
        order = find_order(session, "S-6")
        assert order is not None
        order.routing_state = "cancelled"
    world.run(after_s=1)
    assert _reserved(world, "S-6") == {}
    assert world.level("s-001", "SKU-B") == (2, 0)
    assert world.level("s-002", "SKU-C") == (3, 0)
    assert ("order.cancelled", "S-6") in world.down("s-001")
    assert ("order.cancelled", "S-6") in world.down("s-002")


def test_without_allow_split_the_order_is_unroutable(world: World) -> None:
    _stock(world, {("s-001", "SKU-B"): 2, ("s-002", "SKU-C"): 3})
    world.order("S-7", [("SKU-B", 1), ("SKU-C", 1)])
    service = RoutingService(world.sessions, RoutingSettings.from_mapping({"allow_split": False}))
    service.run_once(world.now + timedelta(seconds=1))
    assert world.state("S-7").routing_state == "unroutable"
    assert _reserved(world, "S-7") == {}


def test_a_whole_order_still_confirms_at_order_level(world: World) -> None:
    world.order("S-8", [("SKU-A", 1)])
    world.run()
    _hand_over(world, "s-001", "S-8", {"SKU-A": 1}, "TRK-8")
    order = world.state("S-8")
    assert (order.routing_state, order.shipment_state, order.tracking_number) == (
        "handed_over",
        "pending",
        "TRK-8",
    )
    part = assignment(world.sessions, "S-8", "s-001")
    assert (part.package_ref, part.shipment_state) == (None, "none")
    with world.sessions() as session:
        lines = session.scalars(select(MarketplaceOrderLine)).all()
        assert all(ln.qty_handed_over is None for ln in lines)
        assert session.get(RoutingAssignment, ("S-8", "s-001")) is not None
