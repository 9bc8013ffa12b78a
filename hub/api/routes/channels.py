"""/api/v1/channels: marketplace accounts (never their secrets), health, unmapped SKUs, orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from hub.api.deps import SessionDep
from hub.api.schemas import PagePublic
from hub.db import channels as repo
from hub.db.models_channels import (
    ChannelAccount,
    ChannelHealthState,
    ChannelImportState,
    MarketplaceOrder,
)

router = APIRouter(prefix="/channels", tags=["channels"])


class ImportStatePublic(BaseModel):
    """Order import of one marketplace."""

    marketplace_id: str
    checkpoint: datetime | None
    resumable: bool
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str


class ChannelAccountPublic(BaseModel):
    """A channel account without its credentials."""

    name: str
    kind: str
    region: str
    seller_id: str
    marketplace_ids: list[str]
    endpoint_url: str
    lwa_token_url: str
    orders_api: str
    enabled: bool
    share_bp: int
    buffer: int
    max_quantity: int | None
    allowed_locations: list[str] | None
    created_at: datetime
    imports: list[ImportStatePublic]


class ChannelHealthPublic(BaseModel):
    """The last health evaluation of an account and its counters."""

    name: str
    status: str
    token_state: str
    calls: int
    throttled: int
    errors: int
    operations: dict[str, Any]
    alarms: list[dict[str, str]]
    last_success_at: datetime | None
    last_error: str
    evaluated_at: datetime | None


class UnmappedSkuPublic(BaseModel):
    """A catalog SKU with no listing in some marketplaces."""

    sku: str
    missing_marketplace_ids: list[str]


class OrderLinePublic(BaseModel):
    """One item of a marketplace order."""

    order_item_id: str
    seller_sku: str
    canonical_sku: str | None
    asin: str
    qty: int
    qty_shipped: int
    item_price_minor: int | None
    item_tax_minor: int | None


class MarketplaceOrderPublic(BaseModel):
    """An imported marketplace order (no buyer data beyond the routing address)."""

    id: int
    account: str
    marketplace_id: str
    marketplace_order_id: str
    status: str
    fulfillment_channel: str
    purchased_at: datetime
    last_updated_at: datetime
    ship_by_at: datetime | None
    currency: str | None
    total_minor: int | None
    ship_to_postal_code: str | None
    ship_to_country: str | None
    ship_to_city: str | None
    ship_to_state: str | None
    routing_state: str
    routed_location: str | None
    tracking_number: str | None
    shipment_state: str
    shipment_error: str
    lines: list[OrderLinePublic]


def _account_public(session: Any, row: ChannelAccount) -> ChannelAccountPublic:
    imports = [session.get(ChannelImportState, (row.id, mid)) for mid in row.marketplace_ids]
    return ChannelAccountPublic(
        name=row.name,
        kind=row.kind,
        region=row.region,
        seller_id=row.seller_id,
        marketplace_ids=list(row.marketplace_ids),
        endpoint_url=row.endpoint_url,
        lwa_token_url=row.lwa_token_url,
        orders_api=row.orders_api,
        enabled=row.enabled,
        share_bp=row.share_bp,
        buffer=row.buffer,
        max_quantity=row.max_quantity,
        allowed_locations=row.allowed_locations,
        created_at=row.created_at,
        imports=[
            ImportStatePublic(
                marketplace_id=i.marketplace_id,
                checkpoint=i.checkpoint,
                resumable=bool(i.page_next_token),
                last_run_at=i.last_run_at,
                last_success_at=i.last_success_at,
                last_error=i.last_error,
            )
            for i in imports
            if i is not None
        ],
    )


@router.get("", response_model=list[ChannelAccountPublic])
def list_channel_accounts(session: SessionDep) -> list[ChannelAccountPublic]:
    """Every channel account, without credentials."""
    return [_account_public(session, row) for row in repo.list_accounts(session)]


@router.get("/orders", response_model=PagePublic[MarketplaceOrderPublic])
def list_marketplace_orders(
    session: SessionDep,
    account: str | None = None,
    marketplace_id: str | None = None,
    routing_state: str | None = Query(
        None,
        pattern="^(new|to_route|routed|manual_review|unroutable|handed_over|confirmed|cancelled"
        "|fba_recorded)$",
    ),
    status: str | None = None,
    since: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> PagePublic[MarketplaceOrderPublic]:
    """Imported marketplace orders, newest purchase first."""
    total, rows = repo.list_orders(
        session,
        repo.OrderFilter(account, marketplace_id, routing_state, status, since),
        limit=limit,
        offset=offset,
    )
    return PagePublic(
        items=[_order_public(session, order, name) for order, name in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def _order_public(session: Any, order: MarketplaceOrder, account: str) -> MarketplaceOrderPublic:
    return MarketplaceOrderPublic(
        id=order.id,
        account=account,
        marketplace_id=order.marketplace_id,
        marketplace_order_id=order.marketplace_order_id,
        status=order.status,
        fulfillment_channel=order.fulfillment_channel,
        purchased_at=order.purchased_at,
        last_updated_at=order.last_updated_at,
        ship_by_at=order.ship_by_at,
        currency=order.currency,
        total_minor=order.total_minor,
        ship_to_postal_code=order.ship_to_postal_code,
        ship_to_country=order.ship_to_country,
        ship_to_city=order.ship_to_city,
        ship_to_state=order.ship_to_state,
        routing_state=order.routing_state,
        routed_location=order.routed_location,
        tracking_number=order.tracking_number,
        shipment_state=order.shipment_state,
        shipment_error=order.shipment_error,
        lines=[
            OrderLinePublic(
                order_item_id=line.order_item_id,
                seller_sku=line.seller_sku,
                canonical_sku=line.canonical_sku,
                asin=line.asin,
                qty=line.qty,
                qty_shipped=line.qty_shipped,
                item_price_minor=line.item_price_minor,
                item_tax_minor=line.item_tax_minor,
            )
            for line in repo.order_lines(session, order.id)
        ],
    )


@router.get("/{name}", response_model=ChannelAccountPublic)
def get_channel_account(session: SessionDep, name: str) -> ChannelAccountPublic:
    """One channel account, without credentials."""
    return _account_public(session, repo.get_account(session, name))


@router.get("/{name}/health", response_model=ChannelHealthPublic)
def get_channel_health(session: SessionDep, name: str) -> ChannelHealthPublic:
    """The account's last health evaluation (status, alarms, SP-API counters)."""
    row = repo.get_account(session, name)
    health = session.get(ChannelHealthState, row.id)
    if health is None:
        return ChannelHealthPublic(
            name=name,
            status="unknown",
            token_state="unknown",
            calls=0,
            throttled=0,
            errors=0,
            operations={},
            alarms=[],
            last_success_at=None,
            last_error="",
            evaluated_at=None,
        )
    return ChannelHealthPublic(
        name=name,
        status=health.status,
        token_state=health.token_state,
        calls=health.calls,
        throttled=health.throttled,
        errors=health.errors,
        operations=health.operations,
        alarms=[
            {"code": str(code), "severity": str(severity), "message": str(message)}
            for code, severity, message in health.alarms
        ],
        last_success_at=health.last_success_at,
        last_error=health.last_error,
        evaluated_at=health.evaluated_at,
    )


@router.get("/{name}/unmapped", response_model=list[UnmappedSkuPublic])
def list_unmapped_skus(session: SessionDep, name: str) -> list[UnmappedSkuPublic]:
    """Active catalog SKUs without a listing in some of the account's marketplaces."""
    return [
        UnmappedSkuPublic(
            sku=u.canonical_sku, missing_marketplace_ids=list(u.missing_marketplace_ids)
        )
        for u in repo.unmapped_skus(session, repo.get_account(session, name))
    ]
