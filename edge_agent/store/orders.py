"""Routed marketplace orders at the store: local reservations and the fulfilment steps.

The hub routes an order here on ``down/orders``; its lines reserve stock at once
(``stock.reserved``), so the till sees what is promised online. Staff then accept
or reject it, print the pick list, scan every unit to confirm the pick, pack,
enter carrier and tracking, and hand it over. Every step writes its outbox event
in the same transaction as the change (``order.accepted``, ``order.rejected``,
``order.picked``, ``order.packed``, ``order.handed_over``), so steps taken offline
reach the hub later, in order.

A cancellation from the hub (the marketplace cancelled, or the order moved to
another store) stops the order wherever it is, releases what it still reserves
and is answered with ``order.rejected`` (reason ``other``): that event is how the
hub learns the store has seen the cancellation (docs/routing.md).

Statuses::

    routed -> accepted -> picked -> packed -> handed_over
       |         |          |         |
       +---------+----------+---------+--> cancelled (from the hub)
       +--> rejected (by staff: out_of_stock, damaged, no_capacity, other)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import peewee

from edge_agent.store.db import execute, write_transaction
from edge_agent.store.errors import NotFound, StoreError, UnknownProduct
from edge_agent.store.models import RoutedOrder, to_utc_text
from edge_agent.store.outbox import Outbox
from edge_agent.store.stock import change_on_hand, change_reserved
from protocol.errors import GtinError
from protocol.gtin import normalize_gtin
from protocol.messages import (
    OrderAccepted,
    OrderHandedOver,
    OrderLineQty,
    OrderMessage,
    OrderPacked,
    OrderPicked,
    OrderRejected,
    StockCounted,
)

_LOGGER = logging.getLogger(__name__)

REJECT_REASONS = ("out_of_stock", "damaged", "no_capacity", "other")
MAX_NOTE_CHARS = 500


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
ACTIVE = RESERVING


class OrderStepError(StoreError):
    """A fulfilment step the order's status does not allow, or a refused scan."""


class WrongItem(OrderStepError):
    """A scanned item that is not on the order, or more units than the order needs."""


@dataclass(frozen=True, slots=True)
class OrderApplyResult:
    """What an order message changed."""

    order_id: str
    status: OrderStatus
    changed: bool


@dataclass(frozen=True, slots=True)
class OrderLineView:
    """One line of a routed order with how many units are picked."""

    sku: str
    name: str
    qty: int
    picked: int
    location: str | None


@dataclass(frozen=True, slots=True)
class OrderView:
    """A routed order as the Online orders screen shows it."""

    order_id: str
    status: OrderStatus
    channel: str
    marketplace_order_id: str | None
    ship_by_utc: datetime | None
    received_at: datetime
    updated_at: datetime
    lines: tuple[OrderLineView, ...]
    ship_to: dict[str, Any]
    note: str | None
    reject_reason: str | None
    carrier: str | None
    tracking_number: str | None
    printed: bool

    @property
    def fully_picked(self) -> bool:
        """Every unit of every line scanned."""
        return all(line.picked >= line.qty for line in self.lines)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """A pick scan that was accepted."""

    order_id: str
    sku: str
    name: str
    picked: int
    qty: int
    order_complete: bool


def _now_text() -> str:
    return to_utc_text(datetime.now(UTC))


def _reserve(sku: str, delta: int, order_id: str) -> None:
    try:
        change_reserved(sku, delta)
    except UnknownProduct:
        _LOGGER.warning(
            "order %s names SKU %s that is not in the catalog; not reserved", order_id, sku
        )


def _lines_of(payload: str) -> list[dict[str, Any]]:
    return list(json.loads(payload).get("lines", []))


def _demand(payload: str) -> dict[str, int]:
    demand: dict[str, int] = {}
    for line in _lines_of(payload):
        demand[str(line["sku"])] = demand.get(str(line["sku"]), 0) + int(line["qty"])
    return demand


class OrderRepository:
    """Routed orders, their stock reservations and the fulfilment steps."""

    def __init__(self, db: peewee.SqliteDatabase, outbox: Outbox | None = None) -> None:
        self._db = db
        self._outbox = outbox

    # -- messages from the hub ---------------------------------------------------------

    def apply(self, message: OrderMessage) -> OrderApplyResult:
        """Apply a routed or cancelled order inside the caller's transaction.

        A re-routed order that is already known is left alone (the message id
        dedupe normally catches it first); a cancellation releases what the
        order still reserves and is answered with ``order.rejected``.
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
        self._acknowledge_cancel(message)
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
        for sku, qty in _demand(existing.payload).items():
            _reserve(sku, -qty, message.order_id)
        RoutedOrder.update(status=str(OrderStatus.CANCELLED), updated_at=now).where(
            RoutedOrder.order_id == message.order_id
        ).execute()
        self._fulfilment_row(message.order_id)
        execute(
            self._db,
            "UPDATE order_fulfilment SET note = ?, updated_at = ? WHERE order_id = ?",
            ((message.note or "cancelled")[:MAX_NOTE_CHARS], _now_text(), message.order_id),
        )
        _LOGGER.info("order %s cancelled; reservation released", message.order_id)
        return OrderApplyResult(message.order_id, OrderStatus.CANCELLED, True)

    def _acknowledge_cancel(self, message: OrderMessage) -> None:
        if self._outbox is None:
            return
        self._outbox.append(
            "order.rejected",
            OrderRejected(
                order_id=message.order_id,
                reason="other",
                note=f"cancellation received: {message.note or 'cancelled'}"[:MAX_NOTE_CHARS],
            ),
        )

    def status(self, order_id: str) -> OrderStatus | None:
        """Return an order's status, or None if unknown."""
        row = RoutedOrder.get_or_none(RoutedOrder.order_id == order_id)
        return None if row is None else OrderStatus(row.status)

    # -- reading -----------------------------------------------------------------------

    def _fulfilment_row(self, order_id: str) -> dict[str, Any]:
        execute(
            self._db,
            "INSERT OR IGNORE INTO order_fulfilment (order_id, picked, updated_at) "
            "VALUES (?, '{}', ?)",
            (order_id, _now_text()),
        )
        return self._fulfilment(order_id) or {}

    def _fulfilment(self, order_id: str) -> dict[str, Any] | None:
        cursor = execute(
            self._db,
            "SELECT picked, reject_reason, note, carrier, tracking_number, printed_at "
            "FROM order_fulfilment WHERE order_id = ?",
            (order_id,),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        picked, reject_reason, note, carrier, tracking, printed_at = row
        return {
            "picked": json.loads(picked or "{}"),
            "reject_reason": reject_reason,
            "note": note,
            "carrier": carrier,
            "tracking_number": tracking,
            "printed_at": printed_at,
        }

    def _view(self, row: RoutedOrder) -> OrderView:
        payload = json.loads(row.payload)
        extra = self._fulfilment(row.order_id) or {}
        picked: dict[str, int] = dict(extra.get("picked", {}))
        lines: list[OrderLineView] = []
        for line in payload.get("lines", []):
            sku = str(line["sku"])
            qty = int(line["qty"])
            take = min(qty, picked.get(sku, 0))
            picked[sku] = picked.get(sku, 0) - take
            lines.append(
                OrderLineView(sku, str(line.get("name", sku)), qty, take, line.get("location"))
            )
        ship_by = payload.get("ship_by")
        return OrderView(
            order_id=row.order_id,
            status=OrderStatus(row.status),
            channel=row.channel,
            marketplace_order_id=payload.get("marketplace_order_id"),
            ship_by_utc=None if not ship_by else _parse_utc(str(ship_by)),
            received_at=row.received_at,
            updated_at=row.updated_at,
            lines=tuple(lines),
            ship_to=dict(payload.get("ship_to") or {}),
            note=extra.get("note") or payload.get("note"),
            reject_reason=extra.get("reject_reason"),
            carrier=extra.get("carrier"),
            tracking_number=extra.get("tracking_number"),
            printed=bool(extra.get("printed_at")),
        )

    def get(self, order_id: str) -> OrderView:
        """One routed order; NotFound if the hub never sent it."""
        row = RoutedOrder.get_or_none(RoutedOrder.order_id == order_id)
        if row is None:
            raise NotFound(f"no online order {order_id}")
        return self._view(row)

    def list_orders(self, *, active_only: bool = False, limit: int = 200) -> list[OrderView]:
        """Routed orders, the open ones first, then the newest."""
        query = RoutedOrder.select().order_by(RoutedOrder.received_at.desc()).limit(limit)
        if active_only:
            query = query.where(RoutedOrder.status.in_([str(s) for s in ACTIVE]))
        views = [self._view(r) for r in query]
        return sorted(views, key=lambda v: (v.status not in ACTIVE, -v.received_at.timestamp()))

    def reserved_for(self, sku: str) -> list[str]:
        """Open orders holding units of ``sku``, oldest first (for the till's warning)."""
        rows = (
            RoutedOrder.select()
            .where(RoutedOrder.status.in_([str(s) for s in RESERVING]))
            .order_by(RoutedOrder.received_at)
        )
        return [r.order_id for r in rows if sku in _demand(r.payload)]

    # -- steps -------------------------------------------------------------------------

    def _require_outbox(self) -> Outbox:
        if self._outbox is None:
            raise StoreError("order steps need the store's outbox", code="no_outbox")
        return self._outbox

    def _load(self, order_id: str, allowed: frozenset[OrderStatus], step: str) -> RoutedOrder:
        row = RoutedOrder.get_or_none(RoutedOrder.order_id == order_id)
        if row is None:
            raise NotFound(f"no online order {order_id}")
        status = OrderStatus(row.status)
        if status is OrderStatus.CANCELLED:
            raise OrderStepError(
                f"order {order_id} was cancelled: stop, and put the items back on the shelf",
                code="order_cancelled",
            )
        if status not in allowed:
            raise OrderStepError(
                f"cannot {step} order {order_id}: it is {status.value.replace('_', ' ')}",
                code="wrong_status",
            )
        return row

    def _set_status(self, order_id: str, status: OrderStatus, **columns: Any) -> None:
        now = datetime.now(UTC)
        RoutedOrder.update(status=str(status), updated_at=now).where(
            RoutedOrder.order_id == order_id
        ).execute()
        self._fulfilment_row(order_id)
        columns["updated_at"] = to_utc_text(now)
        names = sorted(columns)
        execute(
            self._db,
            f"UPDATE order_fulfilment SET {', '.join(f'{n} = ?' for n in names)} "  # noqa: S608 - fixed column names
            "WHERE order_id = ?",
            (*[columns[n] for n in names], order_id),
        )

    def accept(self, order_id: str) -> OrderView:
        """Take the order; emits order.accepted."""
        outbox = self._require_outbox()
        with write_transaction(self._db):
            self._load(order_id, frozenset({OrderStatus.ROUTED}), "accept")
            self._set_status(order_id, OrderStatus.ACCEPTED, accepted_at=_now_text())
            outbox.append("order.accepted", OrderAccepted(order_id=order_id))
        _LOGGER.info("order %s accepted", order_id)
        return self.get(order_id)

    def reject(
        self,
        order_id: str,
        reason: str,
        *,
        note: str | None = None,
        shelf_counts: dict[str, int] | None = None,
    ) -> OrderView:
        """Decline the order; releases its reservation and emits order.rejected.

        For ``out_of_stock`` the counts staff found on the shelf (SKU -> units) are
        booked as ``stock.counted`` first, so the hub does not offer the same units
        again; a SKU without a count is taken as 0.
        """
        if reason not in REJECT_REASONS:
            raise OrderStepError(
                f"unknown reason {reason!r} (one of: {', '.join(REJECT_REASONS)})",
                code="invalid_reason",
            )
        outbox = self._require_outbox()
        with write_transaction(self._db):
            row = self._load(
                order_id, frozenset({OrderStatus.ROUTED, OrderStatus.ACCEPTED}), "reject"
            )
            demand = _demand(row.payload)
            short: list[str] = []
            if reason == "out_of_stock":
                counts = dict(shelf_counts or {})
                unknown = sorted(set(counts) - set(demand))
                if unknown:
                    raise OrderStepError(
                        f"{', '.join(unknown)} is not on order {order_id}", code="invalid_count"
                    )
                for sku in sorted(demand):
                    counted = counts.get(sku)
                    if counted is None and counts:
                        continue  # staff counted some SKUs only: the others are not short
                    counted = 0 if counted is None else int(counted)
                    if counted < 0:
                        raise OrderStepError(
                            "a shelf count cannot be negative", code="invalid_count"
                        )
                    if counted < demand[sku]:
                        short.append(sku)
                    try:
                        current = change_on_hand(sku, 0)
                    except UnknownProduct:
                        continue
                    change_on_hand(sku, counted - current)
                    outbox.append("stock.counted", StockCounted(sku=sku, counted=counted))
            for sku, qty in demand.items():
                _reserve(sku, -qty, order_id)
            clean_note = (note or "").strip()[:MAX_NOTE_CHARS] or None
            self._set_status(order_id, OrderStatus.REJECTED, reject_reason=reason, note=clean_note)
            outbox.append(
                "order.rejected",
                OrderRejected(order_id=order_id, reason=reason, note=clean_note, skus_short=short),  # type: ignore[arg-type]
            )
        _LOGGER.info("order %s rejected: %s", order_id, reason)
        return self.get(order_id)

    def mark_printed(self, order_id: str) -> None:
        """Remember that the pick list was printed (the screen shows it)."""
        with write_transaction(self._db):
            self._load(order_id, ACTIVE, "print the pick list of")
            self._fulfilment_row(order_id)
            execute(
                self._db,
                "UPDATE order_fulfilment SET printed_at = ?, updated_at = ? WHERE order_id = ?",
                (_now_text(), _now_text(), order_id),
            )

    def _resolve(self, code: str) -> str | None:
        """A scanned barcode (any GTIN form) or a typed SKU -> SKU; None if unknown."""
        text = code.strip()
        try:
            gtin = normalize_gtin(text)
        except GtinError:
            gtin = None
        if gtin is not None:
            row = execute(self._db, "SELECT sku FROM barcode WHERE gtin14 = ?", (gtin,)).fetchone()
            if row is not None:
                return str(row[0])
        row = execute(self._db, "SELECT sku FROM product WHERE sku = ?", (text,)).fetchone()
        return None if row is None else str(row[0])

    def scan(self, order_id: str, code: str) -> ScanResult:
        """Confirm one picked unit by its barcode; a wrong item is refused with WrongItem.

        The scan that completes the order emits order.picked with every line.
        """
        outbox = self._require_outbox()
        with write_transaction(self._db):
            row = self._load(order_id, frozenset({OrderStatus.ACCEPTED}), "pick")
            demand = _demand(row.payload)
            sku = self._resolve(code)
            if sku is None:
                raise WrongItem(
                    f"{code.strip()!r} is not a product this store knows: not on order {order_id}",
                    code="wrong_item",
                )
            names = {
                str(ln["sku"]): str(ln.get("name", ln["sku"])) for ln in _lines_of(row.payload)
            }
            if sku not in demand:
                raise WrongItem(
                    f"wrong item: {sku} is not on order {order_id}; put it back "
                    f"(the order needs {', '.join(names[s] for s in sorted(demand))})",
                    code="wrong_item",
                )
            picked: dict[str, int] = dict(self._fulfilment_row(order_id).get("picked", {}))
            if picked.get(sku, 0) >= demand[sku]:
                raise WrongItem(
                    f"all {demand[sku]} of {names.get(sku, sku)} are already picked for order "
                    f"{order_id}; put this one back",
                    code="already_picked",
                )
            picked[sku] = picked.get(sku, 0) + 1
            execute(
                self._db,
                "UPDATE order_fulfilment SET picked = ?, updated_at = ? WHERE order_id = ?",
                (json.dumps(picked, sort_keys=True), _now_text(), order_id),
            )
            complete = all(picked.get(s, 0) >= q for s, q in demand.items())
            if complete:
                self._set_status(order_id, OrderStatus.PICKED, picked_at=_now_text())
                outbox.append(
                    "order.picked",
                    OrderPicked(
                        order_id=order_id,
                        lines=[OrderLineQty(sku=s, qty=q) for s, q in sorted(demand.items())],
                    ),
                )
        return ScanResult(order_id, sku, names.get(sku, sku), picked[sku], demand[sku], complete)

    def pack(self, order_id: str, *, parcels: int = 1) -> OrderView:
        """The order is boxed; emits order.packed."""
        if parcels < 1:
            raise OrderStepError("an order needs at least one parcel", code="invalid_parcels")
        outbox = self._require_outbox()
        with write_transaction(self._db):
            self._load(order_id, frozenset({OrderStatus.PICKED}), "pack")
            self._set_status(order_id, OrderStatus.PACKED, parcels=parcels, packed_at=_now_text())
            outbox.append("order.packed", OrderPacked(order_id=order_id, parcels=parcels))
        return self.get(order_id)

    def hand_over(self, order_id: str, *, carrier: str, tracking_number: str) -> OrderView:
        """Handed to the carrier: units leave on-hand and reserved; emits order.handed_over."""
        carrier = carrier.strip()
        tracking_number = tracking_number.strip()
        if not carrier or not tracking_number:
            raise OrderStepError(
                "enter the carrier and the tracking number", code="missing_tracking"
            )
        outbox = self._require_outbox()
        with write_transaction(self._db):
            row = self._load(order_id, frozenset({OrderStatus.PACKED}), "hand over")
            demand = _demand(row.payload)
            for sku, qty in sorted(demand.items()):
                try:
                    change_on_hand(sku, -qty)
                except UnknownProduct:
                    _LOGGER.warning(
                        "order %s: SKU %s unknown here; on-hand unchanged", order_id, sku
                    )
                _reserve(sku, -qty, order_id)
            self._set_status(
                order_id,
                OrderStatus.HANDED_OVER,
                carrier=carrier[:64],
                tracking_number=tracking_number[:64],
                handed_over_at=_now_text(),
            )
            outbox.append(
                "order.handed_over",
                OrderHandedOver(
                    order_id=order_id,
                    carrier=carrier[:64],
                    tracking_number=tracking_number[:64],
                    lines=[OrderLineQty(sku=s, qty=q) for s, q in sorted(demand.items())],
                ),
            )
        _LOGGER.info("order %s handed over to %s", order_id, carrier)
        return self.get(order_id)


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class WalkInWarning:
    """What the till tells the cashier when a sale takes units reserved for online orders."""

    sku: str
    reserved: int
    on_hand_after: int
    order_ids: tuple[str, ...]
    message: str


def walk_in_warning(
    sku: str, qty: int, *, on_hand: int, reserved: int, order_ids: list[str]
) -> WalkInWarning | None:
    """The walk-in rule at the till: the sale goes through, warned when it takes reserved units.

    Mirrors ``hub.domain.reservations.check_walk_in_sale`` (the edge cannot import
    the hub): when on_hand - qty < reserved, the online orders holding the SKU will
    be sent to another location by the hub (the newest not yet picked first).
    """
    after = on_hand - qty
    if reserved <= 0 or after >= reserved:
        return None
    orders = ", ".join(order_ids) or "online orders"
    message = (
        f"{reserved} unit(s) of {sku} are reserved for online order(s) {orders}; "
        f"this sale leaves {max(0, after)} on hand: the online order(s) will be sent to "
        "another store. Tell the online-orders team if the item is already picked."
    )
    return WalkInWarning(sku, reserved, after, tuple(order_ids), message)
