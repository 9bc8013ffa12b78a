"""Warehouses page: each warehouse's open order parts, and the steps its staff record.

A warehouse has no till, so the hub's own staff accept, pick, pack, reject and hand
over its parts here (or through ``/api/v1/routing/orders/{order}/locations/{id}/{step}``);
``hub.routing_service.fulfil_at_hub`` does the work for both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.dashboard.app import CanActOrders, CanView, CsrfField, _audit, _back, page, router
from hub.dashboard.security import check_csrf, now_utc, sessions_of
from hub.db.models import Location
from hub.db.models_channels import MarketplaceOrder, MarketplaceOrderLine
from hub.db.models_routing import RoutingAssignment
from hub.routing_service import HubStep, RoutingActionError, fulfil_at_hub, hub_queue

_LOGGER = logging.getLogger(__name__)
REJECT_REASONS = ("out_of_stock", "damaged", "no_capacity", "other")
_NEXT_STEP = {"routed": HubStep.ACCEPT, "accepted": HubStep.PICK, "picked": HubStep.PACK}


@dataclass(slots=True)
class PartRow:
    """One open part at a warehouse: what to ship, by when, and the next step."""

    part: RoutingAssignment
    order_pk: int | None
    ship_by_at: datetime | None
    lines: list[dict[str, Any]]
    next_step: str | None


@dataclass(slots=True)
class WarehouseView:
    """A warehouse and its work list."""

    location: Location
    parts: list[PartRow]


def _part_lines(
    session: Session, part: RoutingAssignment, order: MarketplaceOrder | None
) -> list[dict[str, Any]]:
    if part.lines:
        return list(part.lines)
    if order is None:
        return []
    rows = session.scalars(
        select(MarketplaceOrderLine).where(MarketplaceOrderLine.order_id == order.id)
    )
    return [{"sku": r.canonical_sku or r.seller_sku, "qty": r.qty} for r in rows]


def _warehouses(session: Session) -> list[WarehouseView]:
    views = []
    locations = session.scalars(
        select(Location)
        .where(Location.kind == "warehouse", Location.active.is_(True))
        .order_by(Location.id)
    )
    for location in locations:
        rows = []
        for part in hub_queue(session, location.id):
            order = session.scalars(
                select(MarketplaceOrder).where(
                    MarketplaceOrder.marketplace_order_id == part.order_id
                )
            ).first()
            step = _NEXT_STEP.get(part.state)
            rows.append(
                PartRow(
                    part=part,
                    order_pk=None if order is None else order.id,
                    ship_by_at=None if order is None else order.ship_by_at,
                    lines=_part_lines(session, part, order),
                    next_step=None if step is None else step.value,
                )
            )
        views.append(WarehouseView(location, rows))
    return views


@router.get("/warehouses")
def warehouses_page(request: Request, viewer: CanView, msg: str | None = None) -> Response:
    """Every warehouse's open order parts, oldest first, with the next step for each."""
    with sessions_of(request)() as session:
        views = _warehouses(session)
    return page(
        request,
        viewer,
        "warehouses.html",
        warehouses=views,
        reject_reasons=REJECT_REASONS,
        msg=msg,
    )


@router.post("/warehouses/{location_id}/orders/{order_id}/{step}")
def warehouse_step(
    request: Request,
    viewer: CanActOrders,
    location_id: str,
    order_id: str,
    step: HubStep,
    csrf_token: CsrfField = "",
    reason: Annotated[str, Form()] = "other",
    note: Annotated[str, Form()] = "",
    carrier: Annotated[str, Form()] = "",
    tracking_number: Annotated[str, Form()] = "",
) -> Response:
    """Record one step of a warehouse's part (accept, pick, pack, reject, hand-over)."""
    check_csrf(viewer, csrf_token)
    if step is HubStep.REJECT and reason not in REJECT_REASONS:
        return _back("/dashboard/warehouses", f"Unknown reason {reason!r}.")
    now = now_utc()
    try:
        with sessions_of(request).begin() as session:
            part = fulfil_at_hub(
                session,
                order_id,
                location_id,
                step,
                now=now,
                who=viewer.name,
                reason=reason,
                note=note.strip()[:2000],
                carrier=carrier.strip(),
                tracking_number=tracking_number.strip(),
            )
            _audit(
                request,
                session,
                viewer,
                f"warehouse.{step.value}",
                order_id,
                location=location_id,
                state=part.state,
            )
            state = part.state
    except RoutingActionError as err:
        _LOGGER.info("warehouse step %s of %s at %s refused: %s", step, order_id, location_id, err)
        with sessions_of(request).begin() as session:
            _audit(
                request,
                session,
                viewer,
                f"warehouse.{step.value}",
                order_id,
                "refused",
                location=location_id,
                error=str(err),
            )
        return _back("/dashboard/warehouses", str(err))
    return _back("/dashboard/warehouses", f"{order_id} at {location_id}: {state}")
