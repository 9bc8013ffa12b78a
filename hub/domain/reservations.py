"""The reservation of one routed order at one location: its states and the stock they move.

Pure: each function takes a :class:`Reservation` and returns a :class:`Transition`
(the new reservation, the stock deltas to apply to the ledger, and what the hub
must do next). The adapter applies the deltas with ``hub.domain.ledger``
(``reserve``/``release``/``hand_over``) in the same transaction as the new state.

Lifecycle::

    reserved ──> accepted ──> picked ──> packed ──> handed_over   (consumed)
        │            │           │          │
        └────────────┴───────────┴──────────┴────> released (rejected | cancelled |
                                                             timed_out | store_offline)

* ``reserve``: reserved +q per line.
* ``release``: reserved -q per line. Re-route unless the customer cancelled.
  ``timed_out`` and ``store_offline`` apply only before the store accepted: an
  acceptance that got in first wins, and the release is a no-op.
* ``hand_over``: on_hand -q (what was handed over) and reserved -q (what was reserved).

Store events reach the hub at least once and in any order, so the forward states
are monotonic: a later state may arrive first (``picked`` before ``accepted``) and
an older one arriving after it changes nothing. Events for a reservation already
released are late: ``accept``/``pick``/``pack`` answer ``cancel_at_store`` (tell the
store the order moved on), and a late ``hand_over`` is still applied to on-hand,
because the parcel has left, and flags that the re-routed copy must be cancelled.

**Walk-in rule.** A cashier may sell a unit that is reserved for an online order:
the customer is holding it, and the till never refuses a sale. The sale is flagged
(:func:`check_walk_in_sale`): when it leaves on_hand - reserved below zero, the till
shows a warning and the hub re-routes the newest reservations that are not yet
picked (picked units are set aside and cannot be on the counter) until the
shortfall is covered.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from hub.domain.routing import OrderLine


class ReservationError(ValueError):
    """A reservation request that cannot be valid (no lines, a non-positive quantity)."""


class ReservationState(enum.StrEnum):
    """Where a reservation is in its life."""

    RESERVED = "reserved"
    ACCEPTED = "accepted"
    PICKED = "picked"
    PACKED = "packed"
    HANDED_OVER = "handed_over"
    RELEASED = "released"


class ReleaseReason(enum.StrEnum):
    """Why a reservation was released."""

    REJECTED = "rejected"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    STORE_OFFLINE = "store_offline"


_FORWARD: Final = (
    ReservationState.RESERVED,
    ReservationState.ACCEPTED,
    ReservationState.PICKED,
    ReservationState.PACKED,
    ReservationState.HANDED_OVER,
)
OPEN_STATES: Final = frozenset(_FORWARD[:-1])
"""States that hold units: reserved until handed over or released."""

BEFORE_ACCEPT_ONLY: Final = frozenset({ReleaseReason.TIMED_OUT, ReleaseReason.STORE_OFFLINE})


@dataclass(frozen=True, slots=True)
class StockDelta:
    """A change to apply to one (location, SKU) in the ledger."""

    location_id: str
    sku: str
    on_hand: int = 0
    reserved: int = 0


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units of one order held at one location."""

    order_id: str
    location_id: str
    lines: tuple[OrderLine, ...]
    state: ReservationState = ReservationState.RESERVED
    release_reason: ReleaseReason | None = None

    @property
    def is_open(self) -> bool:
        """True while the units are held (not yet handed over or released)."""
        return self.state in OPEN_STATES

    def qty(self, sku: str) -> int:
        """Units of a SKU held by this reservation."""
        return sum(q for s, q in self.lines if s == sku)


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of one reservation operation."""

    reservation: Reservation
    deltas: tuple[StockDelta, ...] = ()
    changed: bool = True
    """False when the operation was a duplicate or stale and nothing moved."""
    reroute: bool = False
    """The order needs another location (released for anything but a cancellation)."""
    cancel_at_store: bool = False
    """The store is working on an order that has moved on: send it a cancellation."""
    cancel_reroute: bool = False
    """This location shipped after its reservation was released: cancel the re-routed copy."""
    warning: str | None = None


def _checked_lines(lines: Iterable[OrderLine | tuple[str, int]]) -> tuple[OrderLine, ...]:
    merged: dict[str, int] = {}
    for sku, qty in lines:
        if not sku:
            raise ReservationError("a reserved line needs a SKU")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise ReservationError(f"SKU {sku}: quantity must be a positive integer, got {qty!r}")
        merged[sku] = merged.get(sku, 0) + qty
    if not merged:
        raise ReservationError("a reservation needs at least one line")
    return tuple(OrderLine(s, q) for s, q in merged.items())


def _unchanged(r: Reservation, warning: str | None = None, *, cancel: bool = False) -> Transition:
    return Transition(r, changed=False, cancel_at_store=cancel, warning=warning)


def reserve(
    order_id: str, location_id: str, lines: Iterable[OrderLine | tuple[str, int]]
) -> Transition:
    """Hold an order's units at the location routing chose: reserved +q per line."""
    checked = _checked_lines(lines)
    r = Reservation(order_id, location_id, checked)
    return Transition(r, tuple(StockDelta(location_id, s, reserved=q) for s, q in checked))


def _advance(r: Reservation, to: ReservationState) -> Transition:
    if r.state is ReservationState.RELEASED:
        return _unchanged(
            r,
            f"order {r.order_id} is already released at {r.location_id} "
            f"({r.release_reason}); the store was told it moved on",
            cancel=True,
        )
    if _FORWARD.index(r.state) >= _FORWARD.index(to):
        return _unchanged(r)  # duplicate or older event
    return Transition(replace(r, state=to))


def accept(r: Reservation) -> Transition:
    """The store accepted the order (no stock moves)."""
    return _advance(r, ReservationState.ACCEPTED)


def pick(r: Reservation) -> Transition:
    """The store took the units off the shelf (no stock moves: they stay reserved)."""
    return _advance(r, ReservationState.PICKED)


def pack(r: Reservation) -> Transition:
    """The store boxed the order (no stock moves)."""
    return _advance(r, ReservationState.PACKED)


def release(r: Reservation, reason: ReleaseReason) -> Transition:
    """Give the units back: reserved -q per line; re-route unless the customer cancelled.

    A timeout or a Last Will that arrives after the store accepted changes nothing:
    the store has the order in hand.
    """
    if r.state is ReservationState.RELEASED:
        return _unchanged(r)
    if r.state is ReservationState.HANDED_OVER:
        return _unchanged(r, f"order {r.order_id} was already handed over at {r.location_id}")
    if reason in BEFORE_ACCEPT_ONLY and r.state is not ReservationState.RESERVED:
        return _unchanged(r)
    new = replace(r, state=ReservationState.RELEASED, release_reason=reason)
    deltas = tuple(StockDelta(r.location_id, s, reserved=-q) for s, q in r.lines)
    return Transition(new, deltas, reroute=reason is not ReleaseReason.CANCELLED)


def hand_over(
    r: Reservation, handed: Iterable[OrderLine | tuple[str, int]] | None = None
) -> Transition:
    """The carrier has the parcel: on_hand -q handed over, reserved -q reserved (consumed).

    ``handed`` defaults to the reserved lines. A short hand-over still releases the
    whole reservation (the rest is not coming) and says so.
    """
    if r.state is ReservationState.HANDED_OVER:
        return _unchanged(r)
    shipped = r.lines if handed is None else _checked_lines(handed)
    late = r.state is ReservationState.RELEASED
    skus = list(dict.fromkeys([s for s, _ in r.lines] + [s for s, _ in shipped]))
    shipped_qty: Mapping[str, int] = dict(shipped)
    deltas = []
    for sku in skus:
        on_hand = -shipped_qty.get(sku, 0)
        reserved = 0 if late else -r.qty(sku)
        if on_hand or reserved:
            deltas.append(StockDelta(r.location_id, sku, on_hand=on_hand, reserved=reserved))
    warning = None
    if late:
        warning = (
            f"order {r.order_id} was handed over at {r.location_id} after its reservation "
            f"was released ({r.release_reason}): cancel the re-routed copy or it ships twice"
        )
    elif dict(shipped) != dict(r.lines):
        warning = f"order {r.order_id} handed over with different lines than reserved"
    new = replace(r, state=ReservationState.HANDED_OVER)
    return Transition(new, tuple(deltas), cancel_reroute=late, warning=warning)


# --------------------------------------------------------------------------- walk-in sales


@dataclass(frozen=True, slots=True)
class WalkInCheck:
    """What the till and the hub do about a walk-in sale of a SKU with online reservations."""

    sku: str
    allowed: bool
    """Always True: the customer holds the item, the till sells it."""
    on_hand_after: int
    reserved: int
    shortfall: int
    """Reserved units no longer backed by stock after the sale (0 when all are covered)."""
    reroute_order_ids: tuple[str, ...]
    warning: str | None


def check_walk_in_sale(
    sku: str, qty: int, *, on_hand: int, reservations: Iterable[Reservation]
) -> WalkInCheck:
    """Apply the walk-in rule to the sale of ``qty`` units of ``sku``.

    ``reservations`` are the location's reservations, oldest first; only open ones
    count. When on_hand - qty - reserved < 0, the newest reservations that are not
    yet picked are named for re-routing (older orders keep their units) until the
    shortfall is covered.
    """
    if qty <= 0:
        raise ReservationError("a sale quantity must be positive")
    holding = [(r, r.qty(sku)) for r in reservations if r.is_open and r.qty(sku) > 0]
    reserved = sum(q for _, q in holding)
    after = on_hand - qty
    shortfall = max(0, reserved - max(0, after))
    if shortfall == 0:
        return WalkInCheck(sku, True, after, reserved, 0, (), None)
    reroute: list[str] = []
    covered = 0
    for r, q in reversed(holding):
        if covered >= shortfall:
            break
        if r.state in (ReservationState.RESERVED, ReservationState.ACCEPTED):
            reroute.append(r.order_id)
            covered += q
    orders = ", ".join(r.order_id for r, _ in holding)
    warning = (
        f"{reserved} unit(s) of {sku} are reserved for online order(s) {orders}; "
        f"this sale leaves {max(0, after)} on hand"
    )
    if reroute:
        warning += f": order(s) {', '.join(reroute)} will be sent to another location"
    if covered < shortfall:
        warning += "; the picked orders are short too: count the shelf"
    return WalkInCheck(sku, True, after, reserved, shortfall, tuple(reroute), warning)
