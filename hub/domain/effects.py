"""What an event does to the hub's books: stock operations, sales facts, acknowledgements.

Input is the event type and its body as canonical JSON (the validated protocol
model dumped in JSON mode), so this module depends on nothing but the wire
shapes documented in ARCHITECTURE.md.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.domain.downlink import AckKey, acks_for_event
from hub.domain.ledger import MovementKind


class OpKind(enum.StrEnum):
    """Ledger operations an event can ask for."""

    DELTA = "delta"
    COUNT = "count"
    HAND_OVER = "hand_over"
    RELEASE_ORDER = "release_order"


@dataclass(frozen=True, slots=True)
class StockOp:
    """One ledger operation at the store's location."""

    op: OpKind
    sku: str
    qty: int = 0
    kind: MovementKind = MovementKind.ADJUSTED
    order_id: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """One sales or returns line for reporting."""

    kind: str
    business_day: date
    document_id: str
    receipt_no: str
    line_no: int
    sku: str
    qty: int
    amount_minor: int
    tax_minor: int
    currency: str
    cashier_id: str | None


@dataclass(frozen=True, slots=True)
class DeviceUpdate:
    """A device's new state, for the store status."""

    device: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventPlan:
    """Everything one event asks the hub to do."""

    stock: list[StockOp] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    acks: list[AckKey] = field(default_factory=list)
    devices: list[DeviceUpdate] = field(default_factory=list)
    cashier_id: str | None = None
    order_id: str | None = None


def plan_event(event_type: str, body: Mapping[str, Any]) -> EventPlan:
    """Translate one validated event into ledger operations, facts and acknowledgements."""
    acks = acks_for_event(event_type, body)
    cashier = body.get("cashier_id")
    cashier_id = cashier if isinstance(cashier, str) else None
    if event_type == "sale.completed":
        return _sale(body, acks, cashier_id)
    if event_type == "return.completed":
        return _return(body, acks, cashier_id)
    if event_type == "stock.received":
        op = StockOp(
            OpKind.DELTA,
            body["sku"],
            int(body["qty"]),
            MovementKind.RECEIVED,
            reference=body.get("reference"),
        )
        return EventPlan(stock=[op], acks=acks)
    if event_type == "stock.adjusted":
        op = StockOp(
            OpKind.DELTA,
            body["sku"],
            int(body["delta"]),
            MovementKind.ADJUSTED,
            reference=str(body.get("reason") or "")[:128] or None,
        )
        return EventPlan(stock=[op], acks=acks)
    if event_type == "stock.counted":
        op = StockOp(OpKind.COUNT, body["sku"], int(body["counted"]), MovementKind.COUNTED)
        return EventPlan(stock=[op], acks=acks)
    if event_type == "order.handed_over":
        order_id = str(body["order_id"])
        ops = [
            StockOp(
                OpKind.HAND_OVER,
                line["sku"],
                int(line["qty"]),
                MovementKind.HANDED_OVER,
                order_id=order_id,
                reference=order_id,
            )
            for line in body.get("lines", [])
        ]
        return EventPlan(stock=ops, acks=acks, order_id=order_id)
    if event_type == "order.rejected":
        order_id = str(body["order_id"])
        op = StockOp(OpKind.RELEASE_ORDER, "", order_id=order_id, reference=order_id)
        return EventPlan(stock=[op], acks=acks, order_id=order_id)
    if event_type == "device.status":
        state = {k: body.get(k) for k in ("kind", "state", "detail", "since")}
        return EventPlan(acks=acks, devices=[DeviceUpdate(str(body["device"]), state)])
    # sale.voided, stock.below_zero, shift.closed, order.accepted/picked/packed and
    # future types: recorded as applied events only (plus any acknowledgements).
    return EventPlan(acks=acks, cashier_id=cashier_id)


def _sale(body: Mapping[str, Any], acks: list[AckKey], cashier_id: str | None) -> EventPlan:
    day = date.fromisoformat(str(body["business_day"]))
    currency = str(body["currency"])
    ops: list[StockOp] = []
    facts: list[Fact] = []
    for line in body["lines"]:
        qty = int(line["qty"])
        ops.append(
            StockOp(
                OpKind.DELTA, line["sku"], -qty, MovementKind.SALE, reference=body["receipt_no"]
            )
        )
        facts.append(
            Fact(
                kind="sale",
                business_day=day,
                document_id=str(body["sale_id"]),
                receipt_no=str(body["receipt_no"]),
                line_no=int(line["line_no"]),
                sku=line["sku"],
                qty=qty,
                amount_minor=int(line["total_minor"]),
                tax_minor=int(line["tax_minor"]),
                currency=currency,
                cashier_id=cashier_id,
            )
        )
    return EventPlan(stock=ops, facts=facts, acks=acks, cashier_id=cashier_id)


def _return(body: Mapping[str, Any], acks: list[AckKey], cashier_id: str | None) -> EventPlan:
    day = date.fromisoformat(str(body["business_day"]))
    currency = str(body["currency"])
    ops: list[StockOp] = []
    facts: list[Fact] = []
    for i, line in enumerate(body["lines"], start=1):
        qty = int(line["qty"])
        if line.get("restock", True):
            ops.append(
                StockOp(
                    OpKind.DELTA,
                    line["sku"],
                    qty,
                    MovementKind.RETURN,
                    reference=body["receipt_no"],
                )
            )
        facts.append(
            Fact(
                kind="return",
                business_day=day,
                document_id=str(body["return_id"]),
                receipt_no=str(body["receipt_no"]),
                line_no=i,
                sku=line["sku"],
                qty=-qty,
                amount_minor=-int(line["refund_minor"]),
                tax_minor=0,
                currency=currency,
                cashier_id=cashier_id,
            )
        )
    return EventPlan(stock=ops, facts=facts, acks=acks, cashier_id=cashier_id)
