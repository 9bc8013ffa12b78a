"""Stock ledger persistence: load positions under lock, apply domain changes, write movements.

A ``LedgerWriter`` works inside the caller's transaction. It loads every
(location, SKU) a batch touches in one locked, ordered query, lets the pure domain
(``hub.domain.ledger``) compute each change in memory, and writes the new levels
and the movement rows in bulk at ``flush()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from hub.db.models import StockLevel, StockMovement
from hub.db.util import bulk_insert, bulk_update, bulk_upsert, chunks, for_update, table_of
from hub.domain.ledger import (
    Change,
    MovementKind,
    StockPosition,
    apply_count,
    apply_delta,
    hand_over,
    release,
    reserve,
)

Key = tuple[str, str]
DELTA_KINDS = (
    MovementKind.SALE,
    MovementKind.RETURN,
    MovementKind.RECEIVED,
    MovementKind.ADJUSTED,
    MovementKind.HANDED_OVER,
)


@dataclass(frozen=True, slots=True)
class MovementContext:
    """Where a change came from: the event, its seq and cashier, and when it happened."""

    at: datetime
    store_id: str | None = None
    seq: int | None = None
    event_id: uuid.UUID | None = None
    event_type: str | None = None
    cashier_id: str | None = None
    reference: str | None = None


class LedgerWriter:
    """Applies ledger changes for one transaction and writes them at ``flush()``."""

    def __init__(self, session: Session, *, now: datetime) -> None:
        self._session = session
        self._now = now
        self._positions: dict[Key, StockPosition] = {}
        self._count_at: dict[Key, datetime | None] = {}
        self._dirty: set[Key] = set()
        self._movements: list[dict[str, object]] = []

    def load(self, keys: Iterable[Key]) -> None:
        """Lock every (location, SKU) in ``keys`` in key order, creating the missing rows."""
        wanted = sorted(set(keys) - self._positions.keys())
        if not wanted:
            return
        self._select(wanted)
        missing = [k for k in wanted if k not in self._positions]
        if not missing:
            return
        bulk_upsert(
            self._session,
            table_of(StockLevel),
            [
                {
                    "location_id": loc,
                    "sku": sku,
                    "deltas_since_count": 0,
                    "on_hand": 0,
                    "reserved": 0,
                    "safety_stock": 0,
                    "updated_at": self._now,
                }
                for loc, sku in missing
            ],
            key=["location_id", "sku"],
        )
        self._select(missing)

    def _select(self, keys: list[Key]) -> None:
        table = table_of(StockLevel)
        for part in chunks(keys, 500):
            stmt = (
                select(
                    table.c.location_id,
                    table.c.sku,
                    table.c.last_count,
                    table.c.count_key,
                    table.c.deltas_since_count,
                    table.c.reserved,
                    table.c.count_at,
                )
                .where(tuple_(table.c.location_id, table.c.sku).in_(list(part)))
                .order_by(table.c.location_id, table.c.sku)
            )
            for (
                loc,
                sku,
                last_count,
                count_key,
                deltas,
                reserved,
                count_at,
            ) in self._session.execute(for_update(self._session, stmt)):
                key = (loc, sku)
                self._positions[key] = StockPosition(
                    last_count=last_count,
                    count_key=count_key,
                    deltas_since_count=deltas,
                    reserved=reserved,
                )
                self._count_at[key] = count_at

    def position(self, location_id: str, sku: str) -> StockPosition:
        """The current (in-transaction) position (loaded on first use)."""
        key = (location_id, sku)
        if key not in self._positions:
            self.load([key])
        return self._positions[key]

    def delta(
        self, location_id: str, sku: str, qty: int, kind: MovementKind, ctx: MovementContext
    ) -> Change:
        """Apply a signed on-hand delta."""
        key = (location_id, sku)
        change = apply_delta(self.position(*key), qty, kind=kind, key=ctx.seq)
        return self._record(key, change, ctx, requested=qty)

    def count(
        self,
        location_id: str,
        sku: str,
        counted: int,
        ctx: MovementContext,
        *,
        kind: MovementKind = MovementKind.COUNTED,
    ) -> Change:
        """Apply an absolute count (from a store at ``ctx.seq``, or set by HQ when seq is None)."""
        key = (location_id, sku)
        younger = 0 if ctx.seq is None else self._younger_deltas(key, ctx.seq)
        change = apply_count(
            self.position(*key), counted, key=ctx.seq, younger_deltas=younger, kind=kind
        )
        if not change.stale:
            self._count_at[key] = ctx.at
        return self._record(key, change, ctx, requested=change.delta)

    def reserve(self, location_id: str, sku: str, qty: int, ctx: MovementContext) -> Change:
        """Reserve units for a routed order."""
        key = (location_id, sku)
        return self._record(key, reserve(self.position(*key), qty), ctx, requested=0)

    def release(self, location_id: str, sku: str, qty: int, ctx: MovementContext) -> Change:
        """Release reserved units."""
        key = (location_id, sku)
        return self._record(key, release(self.position(*key), qty), ctx, requested=0)

    def hand_over(self, location_id: str, sku: str, qty: int, ctx: MovementContext) -> Change:
        """Ship reserved units: on-hand and reserved both go down."""
        key = (location_id, sku)
        change = hand_over(self.position(*key), qty, key=ctx.seq)
        return self._record(key, change, ctx, requested=-qty)

    def _younger_deltas(self, key: Key, seq: int) -> int:
        """Sum of the non-stale deltas already applied at this location with a newer seq."""
        pending = sum(
            int(m["delta"])  # type: ignore[call-overload]
            for m in self._movements
            if (m["location_id"], m["sku"]) == key
            and m["seq"] is not None
            and int(m["seq"]) > seq  # type: ignore[call-overload]
            and m["kind"] in DELTA_KINDS
            and not m["stale"]
        )
        stored = self._session.scalar(
            select(func.coalesce(func.sum(StockMovement.delta), 0)).where(
                and_(
                    StockMovement.location_id == key[0],
                    StockMovement.sku == key[1],
                    StockMovement.seq > seq,
                    StockMovement.kind.in_([k.value for k in DELTA_KINDS]),
                    StockMovement.stale.is_(False),
                )
            )
        )
        return int(stored or 0) + pending

    def _record(self, key: Key, change: Change, ctx: MovementContext, *, requested: int) -> Change:
        self._positions[key] = change.position
        self._dirty.add(key)
        self._movements.append(
            {
                "location_id": key[0],
                "sku": key[1],
                "kind": change.kind.value,
                # A stale movement keeps the requested delta for the audit trail.
                "delta": requested if change.stale else change.delta,
                "reserved_delta": change.reserved_delta,
                "on_hand_after": change.position.on_hand,
                "stale": change.stale,
                "at": ctx.at,
                "recorded_at": self._now,
                "store_id": ctx.store_id,
                "seq": ctx.seq,
                "event_id": ctx.event_id,
                "event_type": ctx.event_type,
                "cashier_id": ctx.cashier_id,
                "reference": ctx.reference,
            }
        )
        return change

    def flush(self) -> int:
        """Write changed levels and the movements; return the number of movements written."""
        if self._dirty:
            rows = []
            for loc, sku in sorted(self._dirty):
                pos = self._positions[(loc, sku)]
                rows.append(
                    {
                        "location_id": loc,
                        "sku": sku,
                        "last_count": pos.last_count,
                        "count_key": pos.count_key,
                        "count_at": self._count_at.get((loc, sku)),
                        "deltas_since_count": pos.deltas_since_count,
                        "on_hand": pos.on_hand,
                        "reserved": pos.reserved,
                        "updated_at": self._now,
                    }
                )
            bulk_update(self._session, table_of(StockLevel), rows, key=["location_id", "sku"])
            self._dirty.clear()
        written = len(self._movements)
        if self._movements:
            bulk_insert(self._session, table_of(StockMovement), self._movements)
            self._movements = []
        return written
