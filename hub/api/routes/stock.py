"""/api/v1/locations, /api/v1/stock, /api/v1/movements: the stock ledger."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from hub.api.deps import NowDep, Operator, PrincipalDep, SessionDep
from hub.api.schemas import (
    ImportReportPublic,
    LocationCreate,
    LocationPublic,
    MovementPublic,
    PagePublic,
    RowErrorPublic,
    SkuLocationPublic,
    SkuStockPublic,
    StockLevelPublic,
    StockSet,
)
from hub.db import queries
from hub.db import stock as stock_repo
from hub.db import stores as stores_repo

router = APIRouter(tags=["stock"])


@router.get("/locations", response_model=PagePublic[LocationPublic])
def list_locations(
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    kind: str | None = Query(None, pattern="^(store|warehouse)$"),
) -> PagePublic[LocationPublic]:
    """Stores and warehouses."""
    page = queries.locations_page(session, limit=limit, offset=offset, kind=kind)
    return PagePublic(
        items=[LocationPublic.model_validate(r[0]) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/locations", response_model=LocationPublic, status_code=201)
def create_location(
    body: LocationCreate, session: SessionDep, now: NowDep, _: Operator
) -> LocationPublic:
    """Create a warehouse location."""
    location = stores_repo.create_warehouse(session, location_id=body.id, name=body.name, now=now)
    return LocationPublic.model_validate(location)


@router.put("/locations/{location_id}/stock", response_model=ImportReportPublic)
def set_stock(
    location_id: str, body: StockSet, session: SessionDep, now: NowDep, principal: Operator
) -> ImportReportPublic:
    """Set absolute stock at a warehouse (each SKU's on-hand becomes the given figure)."""
    n = stock_repo.set_stock(
        session,
        location_id,
        [(c.sku, c.on_hand) for c in body.counts],
        now=now,
        reference=body.reference or f"api:{principal.name}",
    )
    return ImportReportPublic(rows=n, imported=n, refused=0, errors=[])


@router.post(
    "/locations/{location_id}/stock.csv",
    response_model=ImportReportPublic,
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def set_stock_csv(
    location_id: str, request: Request, session: SessionDep, now: NowDep, principal: Operator
) -> ImportReportPublic:
    """Set warehouse stock from CSV (columns sku,on_hand); bad rows are listed, good rows set."""
    text = (await request.body()).decode("utf-8-sig")
    report = stock_repo.set_stock_csv(
        session, location_id, io.StringIO(text), now=now, reference=f"csv:{principal.name}"
    )
    return ImportReportPublic(
        rows=report.rows,
        imported=report.applied,
        refused=len(report.errors),
        errors=[
            RowErrorPublic(line=e.line, sku=e.sku, reasons=list(e.reasons)) for e in report.errors
        ],
    )


@router.get("/stock", response_model=PagePublic[StockLevelPublic])
def list_stock(
    session: SessionDep,
    location: str | None = None,
    sku: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> PagePublic[StockLevelPublic]:
    """Stock levels, filtered by location and SKU."""
    page = queries.stock_page(session, limit=limit, offset=offset, location_id=location, sku=sku)
    return PagePublic(
        items=[StockLevelPublic.model_validate(r[0]) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/stock/{sku}", response_model=SkuStockPublic)
def get_sku_stock(sku: str, session: SessionDep, _: PrincipalDep) -> SkuStockPublic:
    """A SKU across every location, with the sellable quantity over the shipping locations."""
    result = queries.sku_stock(session, sku)
    return SkuStockPublic(
        sku=result.sku,
        on_hand=result.on_hand,
        reserved=result.reserved,
        sellable=result.sellable,
        locations=[
            SkuLocationPublic(
                **StockLevelPublic.model_validate(level).model_dump(),
                kind=kind,
                ships_online=ships,
                sellable=sellable,
            )
            for level, kind, ships, sellable in result.locations
        ],
    )


@router.get("/movements", response_model=PagePublic[MovementPublic])
def list_movements(
    session: SessionDep,
    location: str | None = None,
    sku: str | None = None,
    store: str | None = None,
    kind: str | None = None,
    since: Annotated[datetime | None, Query(description="from (inclusive, ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="up to (exclusive)")] = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> PagePublic[MovementPublic]:
    """The audit trail: which event, which seq, which cashier moved which stock."""
    page = queries.movements_page(
        session,
        limit=limit,
        offset=offset,
        location_id=location,
        sku=sku,
        store_id=store,
        kind=kind,
        since=since,
        until=until,
    )
    return PagePublic(
        items=[MovementPublic.model_validate(r[0]) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )
