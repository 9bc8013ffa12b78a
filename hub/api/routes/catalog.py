"""/api/v1/catalog: products, barcodes, prices; CSV import (row report) and export."""

from __future__ import annotations

import io

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from hub.api.deps import NowDep, Operator, SessionDep, SettingsDep
from hub.api.schemas import (
    ImportReportPublic,
    PagePublic,
    ProductPublic,
    ProductUpdate,
    RowErrorPublic,
)
from hub.db import catalog as catalog_repo
from hub.db import queries
from hub.db.catalog import ImportReport
from hub.db.stores import HubDataError, NotFound

router = APIRouter(prefix="/catalog", tags=["catalog"])


def report_public(report: ImportReport) -> ImportReportPublic:
    """An import report for the API."""
    return ImportReportPublic(
        rows=report.rows,
        imported=report.imported,
        refused=len(report.errors),
        changed_products=report.changed_products,
        changed_prices=report.changed_prices,
        version=report.version,
        errors=[
            RowErrorPublic(line=e.line, sku=e.sku, reasons=list(e.reasons)) for e in report.errors
        ],
    )


@router.get("/products", response_model=PagePublic[ProductPublic])
def list_products(
    session: SessionDep,
    q: str | None = Query(None, description="substring of the SKU or name"),
    active: bool | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> PagePublic[ProductPublic]:
    """Products with their barcodes."""
    page = queries.products_page(session, limit=limit, offset=offset, q=q, active=active)
    barcodes = queries.barcodes_for(session, [r[0].sku for r in page.items])
    return PagePublic(
        items=[
            ProductPublic(
                sku=p.sku,
                name=p.name,
                tax_class=p.tax_class,
                cost_minor=p.cost_minor,
                active=p.active,
                version=p.version,
                barcodes=barcodes.get(p.sku, []),
            )
            for (p,) in page.items
        ],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/products/{sku}", response_model=ProductPublic)
def get_product(sku: str, session: SessionDep) -> ProductPublic:
    """One product with barcodes and its price in every price list."""
    found = queries.product_detail(session, sku)
    if found is None:
        raise NotFound(f"no product {sku!r}")
    product, barcodes, prices = found
    return ProductPublic(
        sku=product.sku,
        name=product.name,
        tax_class=product.tax_class,
        cost_minor=product.cost_minor,
        active=product.active,
        version=product.version,
        barcodes=barcodes,
        prices=prices,
    )


@router.put("/products/{sku}", response_model=ProductPublic)
def put_product(
    sku: str,
    body: ProductUpdate,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: Operator,
) -> ProductPublic:
    """Create or change one product and its price in one price list (a one-row import)."""
    row = {
        "sku": sku,
        "name": body.name,
        "price": body.price,
        "currency": body.currency or "",
        "price_list": body.price_list,
        "barcodes": ";".join(body.barcodes),
        "tax_class": body.tax_class,
        "cost": body.cost or "",
        "active": "true" if body.active else "false",
    }
    buffer = io.StringIO()
    catalog_repo.write_csv([row], buffer)
    buffer.seek(0)
    report = catalog_repo.import_csv(
        session,
        buffer,
        now=now,
        default_currency=settings.default_currency,
        source=f"api:{principal.name}",
    )
    if report.errors:
        raise HubDataError("; ".join(report.errors[0].reasons))
    return get_product(sku, session)


@router.post(
    "/import",
    response_model=ImportReportPublic,
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_catalog(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep, principal: Operator
) -> ImportReportPublic:
    """Import a catalog CSV (``text/csv``): bad rows listed with reasons, good rows imported."""
    text = (await request.body()).decode("utf-8-sig")
    report = catalog_repo.import_csv(
        session,
        io.StringIO(text),
        now=now,
        default_currency=settings.default_currency,
        source=f"api:{principal.name}",
    )
    return report_public(report)


@router.get("/export", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_catalog(session: SessionDep) -> Response:
    """The whole catalog as CSV in the import format (one row per SKU and price list)."""
    return Response(
        catalog_repo.export_csv_text(session),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="catalog.csv"'},
    )
