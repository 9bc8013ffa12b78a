"""Stock ledger arithmetic per (location, SKU): last absolute count, deltas since, reservations.

The ledger keeps, for every location and SKU, the last absolute count together with
the sum of the deltas applied after it. Events from a store carry the store's
gap-free ``seq``; the hub may receive them in any order, so every change carries an
ordering key (the seq for store events, ``None`` for hub-side changes that apply
"now"). A delta whose key is older than the last count's key is already contained
in that count and does not move on-hand. A count that arrives after younger deltas
were applied is combined with the sum of those deltas.

Reservations cover routed orders not yet handed over. An absolute count is read net
of open reservations: it sets on-hand (the units physically in the location, the
reserved ones included) and never replaces or releases a reservation, so the
available quantity after a count is ``counted - reserved``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace


class MovementKind(enum.StrEnum):
    """Why stock moved; stored on every movement row."""

    SALE = "sale"
    RETURN = "return"
    RECEIVED = "received"
    ADJUSTED = "adjusted"
    COUNTED = "counted"
    SET = "set"
    HANDED_OVER = "handed_over"
    RESERVED = "reserved"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class StockPosition:
    """The ledger state of one (location, SKU)."""

    last_count: int | None = None
    count_key: int | None = None
    deltas_since_count: int = 0
    reserved: int = 0

    @property
    def on_hand(self) -> int:
        """Units in the location: the last count plus every delta since (0 when never counted)."""
        return (self.last_count or 0) + self.deltas_since_count

    @property
    def available(self) -> int:
        """Units free to promise: on hand minus open reservations (may be negative)."""
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of one ledger operation: the new position and the movement to record."""

    position: StockPosition
    kind: MovementKind
    delta: int
    """Change of on-hand caused by this operation (0 for an ignored stale delta)."""
    reserved_delta: int = 0
    stale: bool = False
    """True when the operation was older than the last count and only recorded."""


def apply_delta(
    position: StockPosition, delta: int, *, kind: MovementKind, key: int | None
) -> Change:
    """Apply a signed on-hand delta; a delta older than the last count is recorded as stale."""
    if key is not None and position.count_key is not None and key < position.count_key:
        return Change(position, kind, 0, stale=True)
    new = replace(position, deltas_since_count=position.deltas_since_count + delta)
    return Change(new, kind, delta)


def apply_count(
    position: StockPosition,
    counted: int,
    *,
    key: int | None,
    younger_deltas: int = 0,
    kind: MovementKind = MovementKind.COUNTED,
) -> Change:
    """Apply an absolute count taken at ``key``.

    ``younger_deltas`` is the sum of the deltas already applied whose key is newer than
    ``key`` (they happened after the count, so they stay on top of it). A count older
    than the last applied count is recorded as stale and changes nothing. Reservations
    are untouched: the count is read net of them.
    """
    if counted < 0:
        raise ValueError("a count cannot be negative")
    if key is not None and position.count_key is not None and key < position.count_key:
        return Change(position, kind, 0, stale=True)
    if key is None:
        younger_deltas = 0
    new = replace(position, last_count=counted, count_key=key, deltas_since_count=younger_deltas)
    return Change(new, kind, new.on_hand - position.on_hand)


def reserve(position: StockPosition, qty: int) -> Change:
    """Reserve ``qty`` units for a routed order."""
    if qty <= 0:
        raise ValueError("a reservation must be positive")
    new = replace(position, reserved=position.reserved + qty)
    return Change(new, MovementKind.RESERVED, 0, reserved_delta=qty)


def release(position: StockPosition, qty: int) -> Change:
    """Release up to ``qty`` reserved units (an order rejected, cancelled or moved)."""
    freed = max(0, min(qty, position.reserved))
    new = replace(position, reserved=position.reserved - freed)
    return Change(new, MovementKind.RELEASED, 0, reserved_delta=-freed)


def hand_over(position: StockPosition, qty: int, *, key: int | None) -> Change:
    """Ship ``qty`` units of a routed order: on-hand goes down and the reservation is released."""
    shipped = apply_delta(position, -qty, kind=MovementKind.HANDED_OVER, key=key)
    freed = release(shipped.position, qty)
    return Change(
        freed.position,
        MovementKind.HANDED_OVER,
        shipped.delta,
        reserved_delta=freed.reserved_delta,
        stale=shipped.stale,
    )


@dataclass(frozen=True, slots=True)
class LocationStock:
    """One location's figures for a SKU, as the sellable computation needs them."""

    location_id: str
    on_hand: int
    reserved: int
    safety_stock: int = 0


def location_sellable(stock: LocationStock) -> int:
    """max(0, on_hand - reserved - safety stock) for one location."""
    return max(0, stock.on_hand - stock.reserved - stock.safety_stock)


def sellable_quantity(
    stocks: Iterable[LocationStock],
    *,
    allowed_locations: Iterable[str] | None = None,
    share_bp: int = 10_000,
    buffer: int = 0,
) -> int:
    """Sellable quantity for a channel (ARCHITECTURE.md stock model).

    Sum over the locations allowed to ship for the channel of
    max(0, on_hand - reserved - safety stock), then the channel's share (basis points,
    rounded down) and minus its buffer, never below zero. ``allowed_locations`` None
    allows every location.
    """
    if not 0 <= share_bp <= 10_000:
        raise ValueError("share_bp must be between 0 and 10000")
    if buffer < 0:
        raise ValueError("buffer must not be negative")
    allowed = None if allowed_locations is None else frozenset(allowed_locations)
    total = sum(location_sellable(s) for s in stocks if allowed is None or s.location_id in allowed)
    return max(0, total * share_bp // 10_000 - buffer)
