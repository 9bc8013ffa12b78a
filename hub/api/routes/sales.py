"""/api/v1/sales: sold and returned lines, and sums by store, channel, SKU and business day."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hub.api.deps import SessionDep
from hub.api.schemas import PagePublic, SaleFactPublic
from hub.db import queries

router = APIRouter(prefix="/sales", tags=["sales"])
GROUP_BY = ["store", "day"]


@router.get("", response_model=PagePublic[SaleFactPublic])
def list_sales(
    session: SessionDep,
    store: str | None = None,
    sku: str | None = None,
    channel: str | None = None,
    kind: str | None = Query(None, pattern="^(sale|return)$"),
    day_from: date | None = None,
    day_to: date | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> PagePublic[SaleFactPublic]:
    """Sales and return lines (returns have negative quantities and amounts)."""
    page = queries.sales_page(
        session,
        limit=limit,
        offset=offset,
        store_id=store,
        sku=sku,
        channel=channel,
        kind=kind,
        day_from=day_from,
        day_to=day_to,
    )
    return PagePublic(
        items=[SaleFactPublic.model_validate(r[0]) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/summary")
def sales_summary(
    session: SessionDep,
    group_by: Annotated[list[str], Query(description="store, channel, sku, day")] = GROUP_BY,
    store: str | None = None,
    sku: str | None = None,
    channel: str | None = None,
    kind: str | None = Query(None, pattern="^(sale|return)$"),
    day_from: date | None = None,
    day_to: date | None = None,
) -> list[dict[str, Any]]:
    """Units, amount and tax (minor units) summed by the chosen dimensions and currency."""
    return queries.sales_summary(
        session,
        group_by=group_by,
        store_id=store,
        sku=sku,
        channel=channel,
        kind=kind,
        day_from=day_from,
        day_to=day_to,
    )
