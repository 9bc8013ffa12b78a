"""Stock changes made at the till (receipts, adjustments, counts), each with its outbox event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import peewee

from edge_agent.store.db import database_proxy, execute, write_transaction
from edge_agent.store.errors import StoreError, UnknownProduct
from edge_agent.store.models import Product, Stock, to_utc_text
from edge_agent.store.outbox import Outbox
from protocol.envelope import Envelope
from protocol.messages import StockAdjusted, StockCounted, StockReceived


@dataclass(frozen=True, slots=True)
class StockLevel:
    """On-hand and reserved quantity of one SKU."""

    sku: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        """What can be sold over the counter without touching routed orders."""
        return self.on_hand - self.reserved


def change_on_hand(sku: str, delta: int) -> int:
    """Add ``delta`` to a SKU's on-hand inside the caller's transaction; return the new on-hand."""
    # Plain SQL: this runs for every line of every sale, and peewee's SQL builder
    # costs more than SQLite itself here.
    now = to_utc_text(datetime.now(UTC))
    row = execute(
        database_proxy,
        "UPDATE stock SET on_hand = on_hand + ?, updated_at = ? WHERE sku = ? RETURNING on_hand",
        (delta, now, sku),
    ).fetchone()
    if row is not None:
        return int(row[0])
    if execute(database_proxy, "SELECT 1 FROM product WHERE sku = ?", (sku,)).fetchone() is None:
        raise UnknownProduct(sku)
    execute(
        database_proxy,
        "INSERT INTO stock (sku, on_hand, reserved, updated_at) VALUES (?, ?, 0, ?)",
        (sku, delta, now),
    )
    return delta


def change_reserved(sku: str, delta: int) -> int:
    """Add ``delta`` to a SKU's reserved quantity (never below zero); return the new value."""
    now = datetime.now(UTC)
    if Product.get_or_none(Product.sku == sku) is None:
        raise UnknownProduct(sku)
    Stock.insert(sku=sku, on_hand=0, reserved=0, updated_at=now).on_conflict_ignore().execute()
    Stock.update(reserved=peewee.fn.MAX(0, Stock.reserved + delta), updated_at=now).where(
        Stock.sku == sku
    ).execute()
    return int(Stock.get(Stock.sku == sku).reserved)


class StockRepository:
    """Goods in, adjustments and counts: each writes the stock row and its event together."""

    def __init__(self, db: peewee.SqliteDatabase, outbox: Outbox) -> None:
        self._db = db
        self._outbox = outbox

    def level(self, sku: str) -> StockLevel:
        """Return the stock level of a SKU (zeros for a product never stocked)."""
        if Product.get_or_none(Product.sku == sku) is None:
            raise UnknownProduct(sku)
        stock = Stock.get_or_none(Stock.sku == sku)
        if stock is None:
            return StockLevel(sku, 0, 0)
        return StockLevel(sku, stock.on_hand, stock.reserved)

    def receive(self, sku: str, qty: int, *, reference: str | None = None) -> Envelope:
        """Book goods in; emits stock.received."""
        if qty <= 0:
            raise StoreError("a receipt needs a positive quantity", code="invalid_quantity")
        with write_transaction(self._db):
            change_on_hand(sku, qty)
            return self._outbox.append(
                "stock.received", StockReceived(sku=sku, qty=qty, reference=reference)
            )

    def adjust(self, sku: str, delta: int, *, reason: str) -> Envelope:
        """Correct on-hand by a delta (damage, theft, found); emits stock.adjusted."""
        if delta == 0:
            raise StoreError("an adjustment needs a non-zero delta", code="invalid_quantity")
        with write_transaction(self._db):
            change_on_hand(sku, delta)
            return self._outbox.append(
                "stock.adjusted", StockAdjusted(sku=sku, delta=delta, reason=reason)
            )

    def count(self, sku: str, counted: int) -> Envelope:
        """Record an absolute shelf count as the new on-hand; emits stock.counted."""
        if counted < 0:
            raise StoreError("a count cannot be negative", code="invalid_quantity")
        with write_transaction(self._db):
            current = change_on_hand(sku, 0)
            change_on_hand(sku, counted - current)
            return self._outbox.append("stock.counted", StockCounted(sku=sku, counted=counted))
