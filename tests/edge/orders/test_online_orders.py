"""Routed orders at the store: reservation on arrival, every step an outbox event, wrong items
refused, cancellation mid-pick, the walk-in warning, and the Online orders screen over HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from edge_agent.store.facade import EdgeStore
from edge_agent.store.models import OutboxEvent
from edge_agent.store.orders import OrderStatus, OrderStepError, WrongItem
from edge_agent.sync.inbound import HandlerHooks, InboundHandler, Outcome
from protocol import topics
from protocol.codec import encode
from protocol.messages import OrderLine, OrderMessage
from tests.edge.store.helpers import BREAD_UPC, MILK_EAN
from tests.edge.ui.conftest import Till

SHIP_BY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def routed(store_id: str, order_id: str, lines: list[tuple[str, int]]) -> OrderMessage:
    """A routed order as the hub sends it."""
    return OrderMessage(
        id=uuid.uuid4(),
        store=store_id,
        kind="routed",
        order_id=order_id,
        channel="amazon:A1F83G8C2ARO7P",
        marketplace_order_id=order_id,
        ship_by=SHIP_BY,
        lines=[OrderLine(sku=s, name=s.title(), qty=q) for s, q in lines],
        ship_to={"country": "GB", "postal_code": "SW1A 1AA"},
        at=datetime.now(UTC),
    )


def cancelled(store_id: str, order_id: str) -> OrderMessage:
    """The hub's cancellation of an order."""
    return OrderMessage(
        id=uuid.uuid4(),
        store=store_id,
        kind="cancelled",
        order_id=order_id,
        channel="amazon:A1F83G8C2ARO7P",
        lines=[],
        note="cancelled by the buyer",
        at=datetime.now(UTC),
    )


def deliver(store: EdgeStore, message: OrderMessage) -> Outcome:
    """Through the sync layer's real inbound dispatch, as the MQTT client does."""
    hooks = HandlerHooks(
        on_ack=lambda _seq: None,
        on_resend_from=lambda _seq: None,
        on_ping=lambda: None,
        on_status=lambda _status: None,
    )
    handler = InboundHandler(store, store.currency, hooks)
    return handler.handle(topics.down_orders(store.store_id), encode(message))


def events(store: EdgeStore) -> list[tuple[str, dict[str, object]]]:
    """The outbox in seq order: (type, body)."""
    rows = OutboxEvent.select().order_by(OutboxEvent.seq)
    return [(r.type, json.loads(r.envelope)["body"]) for r in rows]


def order_events(store: EdgeStore) -> list[str]:
    """Types of the outbox's order and stock events, in seq order."""
    return [t for t, _ in events(store) if t.startswith(("order.", "stock."))]


def test_full_fulfilment_writes_every_step_to_the_outbox_in_order(till: Till) -> None:
    store = till.store
    start = store.stock.level("MILK-1L")
    assert deliver(store, routed(store.store_id, "A-1", [("MILK-1L", 2), ("BREAD", 1)])) is (
        Outcome.APPLIED
    )
    assert store.stock.level("MILK-1L").reserved == start.reserved + 2
    orders = store.orders
    orders.accept("A-1")
    with pytest.raises(WrongItem, match="wrong item: APPLES is not on order A-1"):
        orders.scan("A-1", "APPLES")
    assert orders.scan("A-1", MILK_EAN).picked == 1
    assert orders.scan("A-1", BREAD_UPC).sku == "BREAD"  # any barcode of the product
    with pytest.raises(WrongItem, match="already picked"):
        orders.scan("A-1", BREAD_UPC)
    with pytest.raises(OrderStepError, match="it is accepted"):
        orders.pack("A-1")
    assert orders.scan("A-1", MILK_EAN).order_complete
    orders.pack("A-1")
    view = orders.hand_over("A-1", carrier="Royal Mail", tracking_number="RM123GB")
    assert view.status is OrderStatus.HANDED_OVER
    after = store.stock.level("MILK-1L")
    assert (after.on_hand, after.reserved) == (start.on_hand - 2, start.reserved)
    assert order_events(store) == [
        "order.accepted",
        "order.picked",
        "order.packed",
        "order.handed_over",
    ]
    handed = dict(events(store))["order.handed_over"]
    assert handed["tracking_number"] == "RM123GB"
    assert handed["lines"] == [{"sku": "BREAD", "qty": 1}, {"sku": "MILK-1L", "qty": 2}]


def test_reject_out_of_stock_books_the_shelf_count_then_the_rejection(till: Till) -> None:
    store = till.store
    deliver(store, routed(store.store_id, "A-2", [("SOAP", 3)]))
    assert store.stock.level("SOAP").reserved == 3
    store.orders.reject("A-2", "out_of_stock", shelf_counts={"SOAP": 1})
    level = store.stock.level("SOAP")
    assert (level.on_hand, level.reserved) == (1, 0)
    assert [(t, b.get("counted", b.get("skus_short"))) for t, b in events(store)] == [
        ("stock.counted", 1),
        ("order.rejected", ["SOAP"]),
    ]
    with pytest.raises(OrderStepError, match="unknown reason"):
        store.orders.reject("A-2", "bored")


def test_cancellation_in_the_middle_of_a_pick_stops_it(till: Till) -> None:
    store = till.store
    deliver(store, routed(store.store_id, "A-3", [("APPLES", 2)]))
    store.orders.accept("A-3")
    store.orders.scan("A-3", "APPLES")
    message = cancelled(store.store_id, "A-3")
    assert deliver(store, message) is Outcome.APPLIED
    assert deliver(store, message) is Outcome.DUPLICATE
    assert store.orders.status("A-3") is OrderStatus.CANCELLED
    assert store.stock.level("APPLES").reserved == 0
    with pytest.raises(OrderStepError, match="was cancelled"):
        store.orders.scan("A-3", "APPLES")
    # The answer that acknowledges the cancellation to the hub, once.
    rejected = [b for t, b in events(store) if t == "order.rejected"]
    assert len(rejected) == 1
    assert rejected[0]["reason"] == "other"


def test_the_screen_over_http(till: Till, cashier: httpx.Client) -> None:
    store = till.store
    deliver(store, routed(store.store_id, "A-4", [("WINE-RED", 1)]))
    page = cashier.get("/orders")
    assert page.status_code == 200
    assert "online_orders.js" in page.text
    assert cashier.get("/static/online_orders.js").status_code == 200
    listing = cashier.get("/api/orders").json()
    [order] = listing["orders"]
    assert order["status"] == "routed"
    assert listing["open"] == 1
    # 15:00 UTC is 15:00 in London in November; the store's zone is Europe/London.
    assert order["ship_by_local"] == "Sat 28 Nov 15:00"
    assert order["timezone"] == "Europe/London"
    assert cashier.post("/api/orders/A-4/scan", json={"code": "x"}).status_code == 409
    assert cashier.post("/api/orders/A-4/accept").json()["status"] == "accepted"
    refused = cashier.post("/api/orders/A-4/scan", json={"code": MILK_EAN})
    assert refused.status_code == 422
    assert "wrong item: MILK-1L is not on order A-4" in refused.json()["message"]
    done = cashier.post("/api/orders/A-4/scan", json={"code": "WINE-RED"}).json()
    assert done["order_complete"] is True
    assert cashier.post("/api/orders/A-4/print").json()["error"] == "no_printer"
    assert cashier.post("/api/orders/A-4/pack", json={"parcels": 1}).status_code == 200
    missing = cashier.post("/api/orders/A-4/hand-over", json={"carrier": "DPD"})
    assert missing.status_code == 400
    handed = cashier.post(
        "/api/orders/A-4/hand-over", json={"carrier": "DPD", "tracking_number": "15501234"}
    )
    assert handed.json()["status"] == "handed_over"
    assert cashier.get("/orders/A-4").status_code == 200
    assert httpx.get(f"{till.url}/api/orders").status_code == 401


def test_walk_in_sale_of_a_reserved_unit_is_allowed_with_a_warning(
    till: Till, cashier: httpx.Client
) -> None:
    store = till.store
    on_hand = store.stock.level("BREAD").on_hand
    deliver(store, routed(store.store_id, "A-5", [("BREAD", on_hand)]))
    assert cashier.get("/api/orders/walk-in-check").json()["warnings"] == []
    cart = cashier.post("/api/cart/items", json={"sku": "BREAD", "qty": 1})
    assert cart.status_code == 200
    [warning] = cashier.get("/api/orders/walk-in-check").json()["warnings"]
    assert f"{on_hand} unit(s) of BREAD are reserved for online order(s) A-5" in warning
    done = cashier.post(
        "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 10_000}]}
    )
    assert done.status_code in (200, 201), done.text
    assert store.stock.level("BREAD").on_hand == on_hand - 1


def test_ship_by_is_shown_in_the_store_zone_across_summer_time(
    till: Till, cashier: httpx.Client
) -> None:
    store = till.store
    summer = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)
    deliver(
        store, routed(store.store_id, "A-6", [("SOAP", 1)]).model_copy(update={"ship_by": summer})
    )
    order = cashier.get("/api/orders/A-6").json()
    assert order["ship_by_local"] == "Wed 01 Jul 16:00"  # BST, UTC+1
    assert order["overdue"] is True
