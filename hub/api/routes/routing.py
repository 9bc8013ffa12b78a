"""/api/v1/routing: routing queues, decisions with explanations, manual review, locations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from hub.api.deps import NowDep, Operator, SessionDep, SettingsDep
from hub.db.models import Location
from hub.db.models_channels import MarketplaceOrder
from hub.db.models_routing import (
    RoutingAssignment,
    RoutingDecisionRow,
    RoutingLocation,
    RoutingReview,
)
from hub.domain.geo import PostalCodeTable
from hub.routing_service import (
    HubStep,
    RoutingActionError,
    RoutingSettings,
    approve_review,
    find_order,
    fulfil_at_hub,
    hub_queue,
    reroute,
    set_location,
    shipped_postal_codes,
)

router = APIRouter(prefix="/routing", tags=["routing"])
QUEUE_STATES = "^(to_route|routed|manual_review|unroutable|handed_over|confirmed|cancelled)$"


class LocationIn(BaseModel):
    """Where a location is and how many online orders a day it takes."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    daily_capacity: int | None = Field(default=None, ge=0)


class RerouteIn(BaseModel):
    """Route again; ``release_current`` also moves an order a store has not accepted yet."""

    release_current: bool = False


class HubStepIn(BaseModel):
    """A warehouse's fulfilment step: a reject's reason, a hand-over's carrier and tracking."""

    reason: str = Field(
        default="other", pattern="^(out_of_stock|damaged|no_capacity|other)$", max_length=32
    )
    note: str = Field(default="", max_length=2000)
    carrier: str = Field(default="", max_length=64)
    tracking_number: str = Field(default="", max_length=64)


def _settings(request: Request, hub_settings: Any) -> RoutingSettings:
    cached: RoutingSettings | None = getattr(request.app.state, "routing_settings", None)
    if cached is None:
        cached = RoutingSettings.from_mapping(getattr(hub_settings, "routing", None))
        request.app.state.routing_settings = cached
    return cached


def _postal(_request: Request) -> PostalCodeTable:
    return shipped_postal_codes()


def _order_public(order: MarketplaceOrder) -> dict[str, Any]:
    return {
        "order_id": order.marketplace_order_id,
        "marketplace_id": order.marketplace_id,
        "routing_state": order.routing_state,
        "routing_state_at": order.routing_state_at,
        "routed_location": order.routed_location,
        "routing_note": order.routing_note,
        "ship_by_at": order.ship_by_at,
        "total_minor": order.total_minor,
        "currency": order.currency,
        "carrier": order.carrier_code,
        "tracking_number": order.tracking_number,
        "shipment_state": order.shipment_state,
    }


def _decision_public(row: RoutingDecisionRow, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "attempt": row.attempt,
        "trigger": row.trigger,
        "outcome": row.outcome,
        "location_id": row.location_id,
        "rule": row.rule,
        "summary": row.summary,
        "excluded": row.excluded,
        "decided_at": row.decided_at,
    }
    if full:
        out["explanation"] = row.explanation
        out["rules"] = row.rules
    return out


def _assignment_public(row: RoutingAssignment) -> dict[str, Any]:
    return {
        "location_id": row.location_id,
        "state": row.state,
        "release_reason": row.release_reason,
        "reject_reason": row.reject_reason,
        "note": row.note,
        "routed_at": row.routed_at,
        "accept_by": row.accept_by,
        "accepted_at": row.accepted_at,
        "handed_over_at": row.handed_over_at,
        "released_at": row.released_at,
        "lines": row.lines,
        "package_ref": row.package_ref,
        "carrier": row.carrier,
        "tracking_number": row.tracking_number,
        "package_items": row.package_items,
        "shipment_state": row.shipment_state,
        "shipment_error": row.shipment_error,
        "shipment_confirmed_at": row.shipment_confirmed_at,
    }


@router.get("/orders")
def list_orders(
    session: SessionDep,
    state: str = Query("unroutable", pattern=QUEUE_STATES),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """Marketplace orders in one routing state (the unroutable queue by default), oldest first."""
    where = MarketplaceOrder.routing_state == state
    total = session.scalar(select(func.count()).select_from(MarketplaceOrder).where(where)) or 0
    rows = session.scalars(
        select(MarketplaceOrder)
        .where(where)
        .order_by(MarketplaceOrder.routing_state_at, MarketplaceOrder.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return {
        "items": [_order_public(r) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/orders/{order_id}")
def get_order(order_id: str, session: SessionDep) -> dict[str, Any]:
    """An order's routing: state, assignments per location, every decision with its explanation."""
    order = find_order(session, order_id)
    if order is None:
        raise HTTPException(404, f"no marketplace order {order_id!r}")
    decisions = session.scalars(
        select(RoutingDecisionRow)
        .where(RoutingDecisionRow.order_id == order_id)
        .order_by(RoutingDecisionRow.attempt)
    ).all()
    assignments = session.scalars(
        select(RoutingAssignment)
        .where(RoutingAssignment.order_id == order_id)
        .order_by(RoutingAssignment.routed_at)
    ).all()
    review = session.get(RoutingReview, order_id)
    return {
        **_order_public(order),
        "assignments": [_assignment_public(a) for a in assignments],
        "decisions": [_decision_public(d, full=True) for d in decisions],
        "review": None
        if review is None
        else {
            "state": review.state,
            "reasons": review.reasons,
            "opened_at": review.opened_at,
            "decided_at": review.decided_at,
            "decided_by": review.decided_by,
        },
    }


@router.get("/reviews")
def list_reviews(
    session: SessionDep,
    state: str = Query("pending", pattern="^(pending|approved|rerouted|cancelled)$"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The manual-review queue, oldest first."""
    rows = session.scalars(
        select(RoutingReview)
        .where(RoutingReview.state == state)
        .order_by(RoutingReview.opened_at, RoutingReview.order_id)
        .limit(limit)
    ).all()
    return {
        "items": [
            {
                "order_id": r.order_id,
                "state": r.state,
                "reasons": r.reasons,
                "opened_at": r.opened_at,
                "decided_at": r.decided_at,
                "decided_by": r.decided_by,
            }
            for r in rows
        ]
    }


@router.get("/decisions")
def list_decisions(
    session: SessionDep,
    outcome: str | None = Query(None, pattern="^(routed|split|manual_review|unroutable)$"),
    since: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Recent routing decisions, newest first (summaries; the order view has explanations)."""
    stmt = select(RoutingDecisionRow)
    if outcome is not None:
        stmt = stmt.where(RoutingDecisionRow.outcome == outcome)
    if since is not None:
        stmt = stmt.where(RoutingDecisionRow.decided_at >= since)
    rows = session.scalars(
        stmt.order_by(RoutingDecisionRow.decided_at.desc(), RoutingDecisionRow.id.desc()).limit(
            limit
        )
    ).all()
    return {"items": [{"order_id": r.order_id, **_decision_public(r, full=False)} for r in rows]}


def _action_result(session: SessionDep, order_id: str, row: RoutingDecisionRow) -> dict[str, Any]:
    order = find_order(session, order_id)
    return {
        "order_id": order_id,
        "routing_state": None if order is None else order.routing_state,
        "decision": _decision_public(row, full=False),
    }


@router.post("/orders/{order_id}/approve")
def approve(
    order_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Operator,
    now: NowDep,
) -> dict[str, Any]:
    """Release a held order from manual review: route it now, without the review."""
    try:
        row = approve_review(
            session,
            order_id,
            _settings(request, settings),
            who=principal.name,
            now=now,
            postal=_postal(request),
        )
    except RoutingActionError as err:
        raise HTTPException(409, str(err)) from err
    return _action_result(session, order_id, row)


@router.post("/orders/{order_id}/reroute")
def reroute_order(
    order_id: str,
    body: RerouteIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Operator,
    now: NowDep,
) -> dict[str, Any]:
    """Route an unroutable or held order again (for example after stock arrived)."""
    try:
        row = reroute(
            session,
            order_id,
            _settings(request, settings),
            who=principal.name,
            now=now,
            postal=_postal(request),
            release_current=body.release_current,
        )
    except RoutingActionError as err:
        raise HTTPException(409, str(err)) from err
    return _action_result(session, order_id, row)


@router.get("/locations")
def list_locations(session: SessionDep) -> dict[str, Any]:
    """Every location's position and daily capacity as routing sees them."""
    rows = session.scalars(select(RoutingLocation).order_by(RoutingLocation.location_id)).all()
    return {
        "items": [
            {
                "location_id": r.location_id,
                "lat": r.lat,
                "lon": r.lon,
                "daily_capacity": r.daily_capacity,
                "updated_at": r.updated_at,
            }
            for r in rows
        ]
    }


@router.put("/locations/{location_id}")
def put_location(
    location_id: str, body: LocationIn, session: SessionDep, _principal: Operator, now: NowDep
) -> dict[str, Any]:
    """Set a location's position and daily online-order capacity (None: no limit)."""
    if session.get(Location, location_id) is None:
        raise HTTPException(404, f"no location {location_id!r}")
    row = set_location(
        session,
        location_id,
        lat=body.lat,
        lon=body.lon,
        daily_capacity=body.daily_capacity,
        now=now,
    )
    return {
        "location_id": row.location_id,
        "lat": row.lat,
        "lon": row.lon,
        "daily_capacity": row.daily_capacity,
    }


@router.get("/locations/{location_id}/orders")
def location_queue(location_id: str, session: SessionDep) -> dict[str, Any]:
    """The open parts of orders at a location (a warehouse's work list), oldest first."""
    if session.get(Location, location_id) is None:
        raise HTTPException(404, f"no location {location_id!r}")
    return {
        "items": [
            {"order_id": row.order_id, **_assignment_public(row)}
            for row in hub_queue(session, location_id)
        ]
    }


@router.post("/orders/{order_id}/locations/{location_id}/{step}")
def hub_step(
    order_id: str,
    location_id: str,
    step: HubStep,
    body: HubStepIn,
    session: SessionDep,
    principal: Operator,
    now: NowDep,
) -> dict[str, Any]:
    """A warehouse's step: accept, pick, pack, hand-over (carrier, tracking) or reject."""
    try:
        row = fulfil_at_hub(
            session,
            order_id,
            location_id,
            step,
            now=now,
            who=principal.name,
            reason=body.reason,
            note=body.note,
            carrier=body.carrier,
            tracking_number=body.tracking_number,
        )
    except RoutingActionError as err:
        raise HTTPException(409, str(err)) from err
    order = find_order(session, order_id)
    return {
        "order_id": order_id,
        "routing_state": None if order is None else order.routing_state,
        "part": _assignment_public(row),
    }
