"""Read side for the API: stores, stock, movements, sales, dead letters, catalog; paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db.models import (
    Barcode,
    DeadLetter,
    Location,
    Price,
    Product,
    SaleFact,
    StockLevel,
    StockMovement,
    Store,
    StoreOutage,
    StoreStatus,
    StoreSync,
)
from hub.domain.ledger import LocationStock, location_sellable, sellable_quantity

T = TypeVar("T")
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and the total count."""

    items: list[T]
    total: int
    limit: int
    offset: int


def paginate(session: Session, stmt: Any, *, limit: int, offset: int) -> Page[Any]:
    """Run ``stmt`` for one page and count all its rows."""
    limit = max(1, min(limit, MAX_LIMIT))
    total = int(
        session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    )
    rows = list(session.execute(stmt.limit(limit).offset(max(0, offset))).all())
    return Page(rows, total, limit, offset)


def stores_page(
    session: Session,
    *,
    limit: int,
    offset: int,
    online: bool | None = None,
    active: bool | None = None,
) -> Page[Any]:
    """Stores with their status and sync rows."""
    stmt = (
        select(Store, StoreStatus, StoreSync)
        .join(StoreStatus, StoreStatus.store_id == Store.id, isouter=True)
        .join(StoreSync, StoreSync.store_id == Store.id, isouter=True)
        .order_by(Store.id)
    )
    if online is not None:
        stmt = stmt.where(StoreStatus.online.is_(online))
    if active is not None:
        stmt = stmt.where(Store.active.is_(active))
    return paginate(session, stmt, limit=limit, offset=offset)


def store_detail(session: Session, store_id: str) -> Any | None:
    """One store with its status and sync rows."""
    return session.execute(
        select(Store, StoreStatus, StoreSync)
        .join(StoreStatus, StoreStatus.store_id == Store.id, isouter=True)
        .join(StoreSync, StoreSync.store_id == Store.id, isouter=True)
        .where(Store.id == store_id)
    ).first()


def outages_page(session: Session, store_id: str, *, limit: int, offset: int) -> Page[Any]:
    """A store's outages, newest first."""
    stmt = (
        select(StoreOutage)
        .where(StoreOutage.store_id == store_id)
        .order_by(StoreOutage.started_at.desc(), StoreOutage.id.desc())
    )
    return paginate(session, stmt, limit=limit, offset=offset)


def locations_page(
    session: Session, *, limit: int, offset: int, kind: str | None = None
) -> Page[Any]:
    """Locations (stores and warehouses)."""
    stmt = select(Location).order_by(Location.id)
    if kind is not None:
        stmt = stmt.where(Location.kind == kind)
    return paginate(session, stmt, limit=limit, offset=offset)


def stock_page(
    session: Session,
    *,
    limit: int,
    offset: int,
    location_id: str | None = None,
    sku: str | None = None,
) -> Page[Any]:
    """Stock levels, filtered by location and/or SKU."""
    stmt = select(StockLevel).order_by(StockLevel.location_id, StockLevel.sku)
    if location_id is not None:
        stmt = stmt.where(StockLevel.location_id == location_id)
    if sku is not None:
        stmt = stmt.where(StockLevel.sku == sku)
    return paginate(session, stmt, limit=limit, offset=offset)


@dataclass(frozen=True, slots=True)
class SkuStock:
    """A SKU across every location, with the sellable quantity over the shipping locations."""

    sku: str
    on_hand: int
    reserved: int
    sellable: int
    locations: list[tuple[StockLevel, str, bool, int]]


def sku_stock(session: Session, sku: str) -> SkuStock:
    """One SKU at every location that has a ledger row for it."""
    rows = session.execute(
        select(StockLevel, Location.kind, Location.ships_online)
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.sku == sku)
        .order_by(StockLevel.location_id)
    ).all()
    stocks = [
        LocationStock(lvl.location_id, lvl.on_hand, lvl.reserved, lvl.safety_stock)
        for lvl, _, _ in rows
    ]
    shipping = [lvl.location_id for lvl, _, ships in rows if ships]
    return SkuStock(
        sku=sku,
        on_hand=sum(s.on_hand for s in stocks),
        reserved=sum(s.reserved for s in stocks),
        sellable=sellable_quantity(stocks, allowed_locations=shipping),
        locations=[
            (lvl, kind, ships, location_sellable(s))
            for (lvl, kind, ships), s in zip(rows, stocks, strict=True)
        ],
    )


def movements_page(
    session: Session,
    *,
    limit: int,
    offset: int,
    location_id: str | None = None,
    sku: str | None = None,
    store_id: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[Any]:
    """The audit trail, newest first, filtered by location, SKU, store, kind and time."""
    stmt = select(StockMovement).order_by(StockMovement.at.desc(), StockMovement.id.desc())
    if location_id is not None:
        stmt = stmt.where(StockMovement.location_id == location_id)
    if sku is not None:
        stmt = stmt.where(StockMovement.sku == sku)
    if store_id is not None:
        stmt = stmt.where(StockMovement.store_id == store_id)
    if kind is not None:
        stmt = stmt.where(StockMovement.kind == kind)
    if since is not None:
        stmt = stmt.where(StockMovement.at >= since)
    if until is not None:
        stmt = stmt.where(StockMovement.at < until)
    return paginate(session, stmt, limit=limit, offset=offset)


def _sales_filters(
    stmt: Any,
    *,
    store_id: str | None,
    sku: str | None,
    channel: str | None,
    kind: str | None,
    day_from: date | None,
    day_to: date | None,
) -> Any:
    if store_id is not None:
        stmt = stmt.where(SaleFact.store_id == store_id)
    if sku is not None:
        stmt = stmt.where(SaleFact.sku == sku)
    if channel is not None:
        stmt = stmt.where(SaleFact.channel == channel)
    if kind is not None:
        stmt = stmt.where(SaleFact.kind == kind)
    if day_from is not None:
        stmt = stmt.where(SaleFact.business_day >= day_from)
    if day_to is not None:
        stmt = stmt.where(SaleFact.business_day <= day_to)
    return stmt


def sales_page(session: Session, *, limit: int, offset: int, **filters: Any) -> Page[Any]:
    """Sales and return lines, newest first."""
    stmt = _sales_filters(
        select(SaleFact).order_by(SaleFact.at.desc(), SaleFact.id.desc()), **filters
    )
    return paginate(session, stmt, limit=limit, offset=offset)


SUMMARY_DIMENSIONS = {
    "store": SaleFact.store_id,
    "channel": SaleFact.channel,
    "sku": SaleFact.sku,
    "day": SaleFact.business_day,
    "currency": SaleFact.currency,
}


def sales_summary(session: Session, *, group_by: list[str], **filters: Any) -> list[dict[str, Any]]:
    """Units, amount and tax summed by the chosen dimensions (currency is always a dimension)."""
    dims = [d for d in dict.fromkeys([*group_by, "currency"]) if d in SUMMARY_DIMENSIONS]
    cols = [SUMMARY_DIMENSIONS[d].label(d) for d in dims]
    stmt = (
        select(
            *cols,
            func.sum(SaleFact.qty).label("units"),
            func.sum(SaleFact.amount_minor).label("amount_minor"),
            func.sum(SaleFact.tax_minor).label("tax_minor"),
            func.count().label("lines"),
        )
        .group_by(*[SUMMARY_DIMENSIONS[d] for d in dims])
        .order_by(*[SUMMARY_DIMENSIONS[d] for d in dims])
    )
    stmt = _sales_filters(stmt, **filters)
    out = []
    for row in session.execute(stmt):
        item = dict(row._mapping)
        for key in ("units", "amount_minor", "tax_minor", "lines"):
            item[key] = int(item[key] or 0)  # PostgreSQL sums bigints as numeric
        out.append(item)
    return out


def dead_letters_page(
    session: Session,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    reason: str | None = None,
    store_id: str | None = None,
) -> Page[Any]:
    """Dead letters, newest first."""
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc())
    if status is not None:
        stmt = stmt.where(DeadLetter.status == status)
    if reason is not None:
        stmt = stmt.where(DeadLetter.reason == reason)
    if store_id is not None:
        stmt = stmt.where(DeadLetter.store_id == store_id)
    return paginate(session, stmt, limit=limit, offset=offset)


def products_page(
    session: Session, *, limit: int, offset: int, q: str | None = None, active: bool | None = None
) -> Page[Any]:
    """Products, by SKU; ``q`` matches SKU or name (case-insensitive substring)."""
    stmt = select(Product).order_by(Product.sku)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(func.lower(Product.sku).like(like) | func.lower(Product.name).like(like))
    if active is not None:
        stmt = stmt.where(Product.active.is_(active))
    return paginate(session, stmt, limit=limit, offset=offset)


def product_detail(session: Session, sku: str) -> tuple[Product, list[str], dict[str, int]] | None:
    """A product, its barcodes and its price per price list."""
    product = session.get(Product, sku)
    if product is None:
        return None
    barcodes = list(
        session.scalars(select(Barcode.gtin).where(Barcode.sku == sku).order_by(Barcode.gtin))
    )
    prices = {
        pl: int(minor)
        for pl, minor in session.execute(
            select(Price.price_list_id, Price.price_minor).where(Price.sku == sku)
        )
    }
    return product, barcodes, prices


def barcodes_for(session: Session, skus: list[str]) -> dict[str, list[str]]:
    """SKU -> its barcodes, for a page of products."""
    out: dict[str, list[str]] = {}
    if not skus:
        return out
    for gtin, sku in session.execute(
        select(Barcode.gtin, Barcode.sku).where(Barcode.sku.in_(skus)).order_by(Barcode.gtin)
    ):
        out.setdefault(sku, []).append(gtin)
    return out
