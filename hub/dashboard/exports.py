"""CSV exports of orders, sales, stock and movements, so staff can carry on by hand.

Text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR
at the start) get a leading apostrophe; numbers are written as numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.csvout import to_csv
from hub.db.models import Location, SaleFact, StockLevel, StockMovement
from protocol.money import Money

KINDS = ("orders", "sales", "stock", "movements")
MAX_ROWS = 200_000


class ExportError(ValueError):
    """A filter value the export cannot use."""


def _date(filters: Mapping[str, str], key: str) -> date | None:
    value = filters.get(key)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{key} must be a date like 2026-11-27") from None


def _major(amount_minor: int | None, currency: str | None) -> str:
    if amount_minor is None or not currency:
        return ""
    return Money(int(amount_minor), currency).format()


def _sales(session: Session, f: Mapping[str, str]) -> tuple[list[str], Iterable[list[Any]]]:
    stmt = select(SaleFact).order_by(SaleFact.business_day, SaleFact.at, SaleFact.id)
    if f.get("store"):
        stmt = stmt.where(SaleFact.store_id == f["store"])
    if f.get("channel"):
        stmt = stmt.where(SaleFact.channel == f["channel"])
    if f.get("sku"):
        stmt = stmt.where(SaleFact.sku == f["sku"])
    day_from, day_to = _date(f, "from"), _date(f, "to")
    if day_from:
        stmt = stmt.where(SaleFact.business_day >= day_from)
    if day_to:
        stmt = stmt.where(SaleFact.business_day <= day_to)
    header = [
        "business_day",
        "at_utc",
        "store",
        "channel",
        "kind",
        "receipt",
        "line",
        "sku",
        "qty",
        "amount",
        "tax",
        "currency",
        "cashier",
    ]
    rows = (
        [
            s.business_day,
            s.at,
            s.store_id,
            s.channel,
            s.kind,
            s.receipt_no,
            s.line_no,
            s.sku,
            s.qty,
            _major(s.amount_minor, s.currency),
            _major(s.tax_minor, s.currency),
            s.currency,
            s.cashier_id,
        ]
        for s in session.scalars(stmt.limit(MAX_ROWS))
    )
    return header, rows


def _stock(session: Session, f: Mapping[str, str]) -> tuple[list[str], Iterable[list[Any]]]:
    stmt = (
        select(StockLevel, Location.kind, Location.ships_online)
        .join(Location, Location.id == StockLevel.location_id)
        .order_by(StockLevel.location_id, StockLevel.sku)
    )
    if f.get("location"):
        stmt = stmt.where(StockLevel.location_id == f["location"])
    if f.get("sku"):
        stmt = stmt.where(StockLevel.sku == f["sku"])
    header = [
        "location",
        "location_kind",
        "ships_online",
        "sku",
        "on_hand",
        "reserved",
        "safety_stock",
        "sellable",
        "last_count",
        "count_at_utc",
        "updated_at_utc",
    ]
    rows = (
        [
            lvl.location_id,
            kind,
            ships,
            lvl.sku,
            lvl.on_hand,
            lvl.reserved,
            lvl.safety_stock,
            max(0, lvl.on_hand - lvl.reserved - lvl.safety_stock),
            lvl.last_count,
            lvl.count_at,
            lvl.updated_at,
        ]
        for lvl, kind, ships in session.execute(stmt.limit(MAX_ROWS))
    )
    return header, rows


def _movements(session: Session, f: Mapping[str, str]) -> tuple[list[str], Iterable[list[Any]]]:
    stmt = select(StockMovement).order_by(StockMovement.at, StockMovement.id)
    if f.get("location"):
        stmt = stmt.where(StockMovement.location_id == f["location"])
    if f.get("sku"):
        stmt = stmt.where(StockMovement.sku == f["sku"])
    header = [
        "at_utc",
        "recorded_at_utc",
        "location",
        "sku",
        "kind",
        "delta",
        "reserved_delta",
        "on_hand_after",
        "stale",
        "store",
        "seq",
        "event_type",
        "cashier",
        "reference",
    ]
    rows = (
        [
            m.at,
            m.recorded_at,
            m.location_id,
            m.sku,
            m.kind,
            m.delta,
            m.reserved_delta,
            m.on_hand_after,
            m.stale,
            m.store_id,
            m.seq,
            m.event_type,
            m.cashier_id,
            m.reference,
        ]
        for m in session.scalars(stmt.limit(MAX_ROWS))
    )
    return header, rows


def _orders(session: Session, f: Mapping[str, str]) -> tuple[list[str], Iterable[list[Any]]]:
    from hub.db.models_channels import ChannelAccount, MarketplaceOrder, MarketplaceOrderLine

    stmt = (
        select(MarketplaceOrder, ChannelAccount.name)
        .join(ChannelAccount, ChannelAccount.id == MarketplaceOrder.account_id)
        .order_by(MarketplaceOrder.purchased_at, MarketplaceOrder.id)
    )
    if f.get("state"):
        stmt = stmt.where(MarketplaceOrder.routing_state == f["state"])
    if f.get("account"):
        stmt = stmt.where(ChannelAccount.name == f["account"])
    orders = session.execute(stmt.limit(MAX_ROWS)).all()
    lines: dict[int, list[str]] = {}
    ids = [o.id for o, _ in orders]
    for start in range(0, len(ids), 500):
        for line in session.scalars(
            select(MarketplaceOrderLine)
            .where(MarketplaceOrderLine.order_id.in_(ids[start : start + 500]))
            .order_by(MarketplaceOrderLine.id)
        ):
            sku = line.canonical_sku or f"unmapped:{line.seller_sku}"
            lines.setdefault(line.order_id, []).append(f"{sku} x{line.qty}")
    header = [
        "account",
        "marketplace",
        "order_id",
        "status",
        "purchased_at_utc",
        "ship_by_utc",
        "routing_state",
        "routed_location",
        "total",
        "currency",
        "ship_to_postal_code",
        "ship_to_country",
        "service_level",
        "tracking_number",
        "lines",
    ]
    rows = (
        [
            name,
            o.marketplace_id,
            o.marketplace_order_id,
            o.status,
            o.purchased_at,
            o.ship_by_at,
            o.routing_state,
            o.routed_location,
            _major(o.total_minor, o.currency),
            o.currency,
            o.ship_to_postal_code,
            o.ship_to_country,
            o.ship_service_level,
            o.tracking_number,
            "; ".join(lines.get(o.id, [])),
        ]
        for o, name in orders
    )
    return header, rows


def render(
    session: Session, kind: str, filters: Mapping[str, str], *, now: datetime
) -> tuple[str, int]:
    """The CSV text of an export and its row count."""
    builders = {"sales": _sales, "stock": _stock, "movements": _movements, "orders": _orders}
    if kind not in builders:
        raise ExportError(f"no export {kind!r}")
    header, rows = builders[kind](session, filters)
    return to_csv(header, rows)
