"""Builders of protocol envelopes, for tests that play the store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from protocol.envelope import Envelope, new_envelope
from protocol.messages import StatusMessage

AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def sale(store: str, seq: int, lines: list[tuple[str, int]], *, cashier: str = "c-1") -> Envelope:
    """A sale.completed with (sku, qty) lines at 1.00 EUR each."""
    body: dict[str, Any] = {
        "sale_id": str(uuid.uuid4()),
        "receipt_no": f"{store}-R{seq}",
        "cashier_id": cashier,
        "business_day": "2026-11-27",
        "currency": "EUR",
        "prices_include_tax": True,
        "lines": [
            {
                "line_no": i,
                "sku": sku,
                "name": sku,
                "qty": qty,
                "unit_price_minor": 100,
                "tax_class": "standard",
                "tax_rate_bp": 2000,
                "tax_minor": 17 * qty,
                "total_minor": 100 * qty,
            }
            for i, (sku, qty) in enumerate(lines, start=1)
        ],
        "subtotal_minor": sum(100 * q for _, q in lines),
        "tax_minor": sum(17 * q for _, q in lines),
        "total_minor": sum(100 * q for _, q in lines),
        "tenders": [{"kind": "cash", "amount_minor": sum(100 * q for _, q in lines)}],
        "completed_at": AT.isoformat(),
    }
    return new_envelope(store, seq, "sale.completed", body, at=AT)


def counted(store: str, seq: int, sku: str, qty: int) -> Envelope:
    """A stock.counted (absolute)."""
    return new_envelope(store, seq, "stock.counted", {"sku": sku, "counted": qty}, at=AT)


def received(store: str, seq: int, sku: str, qty: int) -> Envelope:
    """A stock.received."""
    return new_envelope(store, seq, "stock.received", {"sku": sku, "qty": qty}, at=AT)


def returned(store: str, seq: int, sku: str, qty: int, *, restock: bool = True) -> Envelope:
    """A return.completed of one line."""
    body = {
        "return_id": str(uuid.uuid4()),
        "receipt_no": f"{store}-X{seq}",
        "cashier_id": "c-1",
        "business_day": "2026-11-27",
        "currency": "EUR",
        "lines": [{"sku": sku, "qty": qty, "refund_minor": 100 * qty, "restock": restock}],
        "refund_total_minor": 100 * qty,
        "tenders": [{"kind": "cash", "amount_minor": -100 * qty}],
    }
    return new_envelope(store, seq, "return.completed", body, at=AT)


def handed_over(store: str, seq: int, order_id: str, lines: list[tuple[str, int]]) -> Envelope:
    """An order.handed_over."""
    body = {
        "order_id": order_id,
        "carrier": "dhl",
        "tracking_number": "T1",
        "lines": [{"sku": s, "qty": q} for s, q in lines],
    }
    return new_envelope(store, seq, "order.handed_over", body, at=AT)


def event(store: str, seq: int, type_: str, body: dict[str, Any]) -> Envelope:
    """Any event."""
    return new_envelope(store, seq, type_, body, at=AT)


def birth(store: str, bd_seq: int, *, last_seq: int | None = None, **extra: Any) -> StatusMessage:
    """A birth status message."""
    return StatusMessage.model_validate(
        {
            "store": store,
            "online": True,
            "bdSeq": bd_seq,
            "agent_version": "1.0.0",
            "outbox_depth": 3,
            "oldest_unsynced_age_s": 1.5,
            "last_seq": last_seq,
            "devices": {"printer": {"kind": "printer", "state": "ok"}},
            "at": AT,
            **extra,
        }
    )


def death(store: str, bd_seq: int) -> StatusMessage:
    """A Last Will status message."""
    return StatusMessage(store=store, online=False, bdSeq=bd_seq, at=AT)
