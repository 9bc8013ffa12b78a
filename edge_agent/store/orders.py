"""Routed marketplace orders received from the hub: recorded once, their lines reserve stock.

The order screens (accept, pick, pack, hand over) build on these rows; this
module only keeps the reservation right when an order is routed or cancelled.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import peewee

from edge_agent.store.errors import UnknownProduct
from edge_agent.store.models import RoutedOrder
from edge_agent.store.stock import change_reserved
from protocol.messages import OrderMessage

_LOGGER = logging.getLogger(__name__)


class OrderStatus(StrEnum):
    """Where a routed order stands at this store."""

    ROUTED = "routed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PICKED = "picked"
    PACKED = "packed"
    HANDED_OVER = "handed_over"
    CANCELLED = "cancelled"


# Orders in these states hold their reservation.
RESERVING = frozenset(
    {OrderStatus.ROUTED, OrderStatus.ACCEPTED, OrderStatus.PICKED, OrderStatus.PACKED}
)


@dataclass(frozen=True, slots=True)
class OrderApplyResult:
    """What an order message changed."""

    order_id: str
    status: OrderStatus
    changed: bool


def _reserve(sku: str, delta: int, order_id: str) -> None:
    try:
        change_reserved(sku, delta)
    except UnknownProduct:
        _LOGGER.warning(
            "order %s names SKU %s that is not in the catalog; not reserved", order_id, sku
        )


class OrderRepository:
    """Routed orders and their stock reservations."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self._db = db

    def apply(self, message: OrderMessage) -> OrderApplyResult:
        """Apply a routed or cancelled order inside the caller's transaction.

        A re-routed order that is already known is left alone (the message id
        dedupe normally catches it first); a cancellation releases what the
        order still reserves.
        """
        now = datetime.now(UTC)
        existing = RoutedOrder.get_or_none(RoutedOrder.order_id == message.order_id)
        if message.kind == "routed":
            if existing is not None:
                return OrderApplyResult(message.order_id, OrderStatus(existing.status), False)
            RoutedOrder.create(
                order_id=message.order_id,
                status=str(OrderStatus.ROUTED),
                channel=message.channel,
                payload=message.model_dump_json(),
                received_at=now,
                updated_at=now,
            )
            for line in message.lines:
                _reserve(line.sku, line.qty, message.order_id)
            _LOGGER.info("order %s routed here (%d lines)", message.order_id, len(message.lines))
            return OrderApplyResult(message.order_id, OrderStatus.ROUTED, True)
        # cancelled
        if existing is None:
            RoutedOrder.create(
                order_id=message.order_id,
                status=str(OrderStatus.CANCELLED),
                channel=message.channel,
                payload=message.model_dump_json(),
                received_at=now,
                updated_at=now,
            )
            return OrderApplyResult(message.order_id, OrderStatus.CANCELLED, True)
        if OrderStatus(existing.status) not in RESERVING:
            return OrderApplyResult(message.order_id, OrderStatus(existing.status), False)
        routed = json.loads(existing.payload)
        for line in routed.get("lines", []):
            _reserve(str(line["sku"]), -int(line["qty"]), message.order_id)
        RoutedOrder.update(status=str(OrderStatus.CANCELLED), updated_at=now).where(
            RoutedOrder.order_id == message.order_id
        ).execute()
        _LOGGER.info("order %s cancelled; reservation released", message.order_id)
        return OrderApplyResult(message.order_id, OrderStatus.CANCELLED, True)

    def status(self, order_id: str) -> OrderStatus | None:
        """Return an order's status, or None if unknown."""
        row = RoutedOrder.get_or_none(RoutedOrder.order_id == order_id)
        return None if row is None else OrderStatus(row.status)
