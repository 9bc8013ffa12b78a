"""Orders routed to stores: reservations plus the down message, in one transaction.

Routing decisions come from the order-routing part of the hub; this module is the
write side they call, and what the ingest worker's birth replay reads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hub.db import downlink
from hub.db.ledger import LedgerWriter, MovementContext
from hub.db.models import OrderReservation
from hub.db.stores import Conflict, get_store
from hub.domain.downlink import DownKind
from protocol.codec import encode
from protocol.messages import OrderMessage


def route_order(session: Session, message: OrderMessage, *, now: datetime) -> None:
    """Reserve the order's lines at the store and queue the routed-order message."""
    store = get_store(session, message.store)
    if message.kind != "routed":
        raise ValueError("route_order takes a routed order; use cancel_order to cancel")
    if session.get(OrderReservation, (message.order_id, store.id, message.lines[0].sku)):
        raise Conflict(f"order {message.order_id!r} is already routed to {store.id!r}")
    wanted: dict[str, int] = {}
    for line in message.lines:  # an order may list a SKU on two lines
        wanted[line.sku] = wanted.get(line.sku, 0) + line.qty
    ledger = LedgerWriter(session, now=now)
    ledger.load((store.id, sku) for sku in wanted)
    ctx = MovementContext(at=now, reference=message.order_id)
    for sku, qty in sorted(wanted.items()):
        ledger.reserve(store.id, sku, qty, ctx)
        session.add(
            OrderReservation(
                order_id=message.order_id,
                location_id=store.id,
                sku=sku,
                qty=qty,
                status="open",
                created_at=now,
                updated_at=now,
            )
        )
    ledger.flush()
    downlink.enqueue(
        session,
        message_id=message.id,
        store_id=store.id,
        kind=DownKind.ORDER_ROUTED,
        ref=message.order_id,
        channel="orders",
        payload=encode(message).decode("utf-8"),
        now=now,
    )
