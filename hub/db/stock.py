"""Hub-side stock changes: absolute stock of warehouses set by API or CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from sqlalchemy.orm import Session

from hub.db.ledger import LedgerWriter, MovementContext
from hub.db.stores import HubDataError, get_location
from hub.domain.catalog import SKU_PATTERN, RowError
from hub.domain.ledger import MovementKind


@dataclass
class StockSetReport:
    """Rows set and rows refused with reasons."""

    rows: int = 0
    applied: int = 0
    errors: list[RowError] = field(default_factory=list)


def set_stock(
    session: Session,
    location_id: str,
    counts: Iterable[tuple[str, int]],
    *,
    now: datetime,
    reference: str | None = None,
) -> int:
    """Set absolute on-hand figures at a warehouse; return how many SKUs were set.

    Store stock is owned by the store's agent and refused here.
    """
    location = get_location(session, location_id)
    if location.kind != "warehouse":
        raise HubDataError(
            f"{location_id!r} is a store: its stock comes from the store (ask it for a count)"
        )
    items = list(counts)
    ledger = LedgerWriter(session, now=now)
    ledger.load((location_id, sku) for sku, _ in items)
    ctx = MovementContext(at=now, reference=reference)
    for sku, qty in items:
        ledger.count(location_id, sku, qty, ctx, kind=MovementKind.SET)
    ledger.flush()
    return len(items)


def set_stock_csv(
    session: Session, location_id: str, stream: IO[str], *, now: datetime, reference: str
) -> StockSetReport:
    """Set warehouse stock from a CSV with columns ``sku,on_hand``; bad rows are reported."""
    reader = csv.DictReader(stream)
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not {"sku", "on_hand"} <= columns:
        raise HubDataError("the stock CSV needs the columns sku and on_hand")
    report = StockSetReport()
    good: dict[str, int] = {}
    for raw in reader:
        report.rows += 1
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        reasons = []
        sku = row.get("sku", "")
        if not SKU_PATTERN.fullmatch(sku):
            reasons.append(f"sku {sku!r} is not valid")
        text = row.get("on_hand", "")
        if not text.isdigit():
            reasons.append(f"on_hand {text!r} is not a whole number >= 0")
        if reasons:
            report.errors.append(RowError(line=reader.line_num, sku=sku, reasons=tuple(reasons)))
            continue
        good[sku] = int(text)
    report.applied = set_stock(session, location_id, good.items(), now=now, reference=reference)
    return report
