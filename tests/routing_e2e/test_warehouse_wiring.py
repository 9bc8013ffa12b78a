# ruff: noqa: F811  (the ``world`` fixture is imported from test_routing_wiring)
"""Warehouses as routing candidates: reserved in the ledger, fulfilled by the hub's staff.

The ``world`` of test_routing_wiring (s-001 Berlin, s-002 Potsdam, s-003 Munich) plus
a warehouse w-001 in Hamburg that holds SKU-W, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db import stock as stock_repo
from hub.db import stores
from hub.db.models import DownMessage, OrderReservation
from hub.routing_service import HubStep, RoutingActionError, fulfil_at_hub, hub_queue, set_location
from tests.routing_e2e.helpers import assignment, decisions
from tests.routing_e2e.test_routing_wiring import World, world  # noqa: F401  (fixture)


def _warehouse(w: World, stock: dict[str, int], *, capacity: int | None = None) -> None:
    with w.sessions.begin() as session:
        stores.create_warehouse(session, location_id="w-001", name="Hamburg DC", now=w.now)
        stock_repo.set_stock(session, "w-001", list(stock.items()), now=w.now, reference="test")
        set_location(session, "w-001", lat=53.5511, lon=9.9937, daily_capacity=capacity, now=w.now)


def _step(w: World, order_id: str, step: HubStep, **kw: str) -> None:
    with w.sessions.begin() as session:
        fulfil_at_hub(session, order_id, "w-001", step, now=w.now, who="hq", **kw)


def _messages(w: World) -> int:
    with w.sessions() as session:
        return len(
            session.scalars(select(DownMessage).where(DownMessage.store_id == "w-001")).all()
        )


def test_order_only_the_warehouse_can_fill_is_routed_there_and_shipped_by_the_hub(
    world: World,
) -> None:
    _warehouse(world, {"SKU-W": 3})
    world.order("W-1", [("SKU-W", 2)])
    world.run()
    order = world.state("W-1")
    assert (order.routing_state, order.routed_location) == ("routed", "w-001")
    assert world.level("w-001", "SKU-W") == (3, 2)
    [decision] = decisions(world.sessions, "W-1")
    assert decision.explanation["rules"][0]["candidates"][0]["kind"] == "warehouse"
    assert _messages(world) == 0  # nothing to publish: no agent there
    with world.sessions() as session:
        assert [a.order_id for a in hub_queue(session, "w-001")] == ["W-1"]
    _step(world, "W-1", HubStep.ACCEPT)
    _step(world, "W-1", HubStep.PICK)
    _step(world, "W-1", HubStep.PACK)
    assert assignment(world.sessions, "W-1", "w-001").state == "packed"
    with pytest.raises(RoutingActionError, match="carrier and the tracking number"):
        _step(world, "W-1", HubStep.HAND_OVER, carrier="DHL")
    _step(world, "W-1", HubStep.HAND_OVER, carrier="DHL", tracking_number="W-TRK")
    order = world.state("W-1")
    assert (order.routing_state, order.shipment_state, order.tracking_number) == (
        "handed_over",
        "pending",
        "W-TRK",
    )
    assert world.level("w-001", "SKU-W") == (1, 0)
    with world.sessions() as session:
        rows = session.scalars(select(OrderReservation).where(OrderReservation.order_id == "W-1"))
        assert [(r.location_id, r.status) for r in rows] == [("w-001", "handed_over")]
        assert hub_queue(session, "w-001") == []
    with pytest.raises(RoutingActionError, match="handed_over at w-001"):
        _step(world, "W-1", HubStep.ACCEPT)


def test_a_warehouse_reject_reroutes_to_a_store(world: World) -> None:
    _warehouse(world, {"SKU-A": 10})
    world.send("s-001", "stock.counted", {"sku": "SKU-A", "counted": 0})
    world.send("s-002", "stock.counted", {"sku": "SKU-A", "counted": 0})
    world.order("W-2", [("SKU-A", 2)])
    world.run()
    # Hamburg (about 255 km) is nearer to Berlin than Munich (about 500 km).
    assert world.state("W-2").routed_location == "w-001"
    _step(world, "W-2", HubStep.REJECT, reason="damaged")
    assert world.level("w-001", "SKU-A") == (10, 0)
    released = assignment(world.sessions, "W-2", "w-001")
    assert (released.state, released.reject_reason) == ("released", "damaged")
    world.run()
    assert world.state("W-2").routed_location == "s-003"
    assert decisions(world.sessions, "W-2")[-1].excluded == ["w-001"]


def test_a_warehouse_that_does_not_accept_in_time_loses_the_order_quietly(world: World) -> None:
    _warehouse(world, {"SKU-A": 10})
    world.send("s-001", "stock.counted", {"sku": "SKU-A", "counted": 0})
    world.send("s-002", "stock.counted", {"sku": "SKU-A", "counted": 0})
    world.order("W-3", [("SKU-A", 1)])
    world.run()
    assert world.state("W-3").routed_location == "w-001"
    world.run(after_s=601)
    assert world.state("W-3").routed_location == "s-003"
    assert assignment(world.sessions, "W-3", "w-001").release_reason == "timed_out"
    assert world.level("w-001", "SKU-A") == (10, 0)
    assert _messages(world) == 0  # no cancellation queued for a place without an agent


def test_warehouse_capacity_is_respected(world: World) -> None:
    _warehouse(world, {"SKU-W": 10}, capacity=1)
    world.order("W-4", [("SKU-W", 1)])
    world.order("W-5", [("SKU-W", 1)])
    world.run()
    assert world.state("W-4").routed_location == "w-001"
    assert world.state("W-5").routing_state == "unroutable"
    [decision] = decisions(world.sessions, "W-5")
    reasons = [
        r["code"]
        for rule in decision.explanation["rules"]
        for c in rule["candidates"]
        for r in c["reasons"]
    ]
    assert "capacity" in reasons


def test_split_between_a_store_and_the_warehouse(world: World) -> None:
    _warehouse(world, {"SKU-W": 3})
    world.order("W-6", [("SKU-A", 1), ("SKU-W", 1)])
    world.run()
    assert assignment(world.sessions, "W-6", "s-001").lines == [{"sku": "SKU-A", "qty": 1}]
    assert assignment(world.sessions, "W-6", "w-001").lines == [{"sku": "SKU-W", "qty": 1}]
    assert world.down("s-001") == [("order.routed", "W-6")]
    _step(world, "W-6", HubStep.ACCEPT)
    _step(world, "W-6", HubStep.HAND_OVER, carrier="DHL", tracking_number="W-6-1")
    part = assignment(world.sessions, "W-6", "w-001")
    assert (part.package_ref, part.shipment_state) == ("1", "pending")
    assert world.state("W-6").routing_state == "routed"
    body = {"order_id": "W-6", "lines": [{"sku": "SKU-A", "qty": 1}]}
    world.send("s-001", "order.accepted", {"order_id": "W-6"})
    world.send("s-001", "order.handed_over", {**body, "carrier": "UPS", "tracking_number": "S-6"})
    order = world.state("W-6")
    assert (order.routing_state, order.shipment_state) == ("handed_over", "by_package")
    # A store's part cannot be stepped from the hub.
    with world.sessions.begin() as session, pytest.raises(RoutingActionError, match="is a store"):
        fulfil_at_hub(session, "W-6", "s-001", HubStep.ACCEPT, now=world.now)
