"""Orders and channels pages: imported marketplace orders by routing state with age against the
ship-by time, the manual review and unroutable queues, each order's routing explanation, and the
channel accounts' health (token, last import, throttles, feed errors, unmapped SKUs)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.dashboard.app import CanActOrders, CanView, CsrfField, _audit, _back, page, router
from hub.dashboard.security import Viewer, check_csrf, now_utc, sessions_of
from hub.db.models_channels import (
    ChannelAccount,
    ChannelFeed,
    ChannelHealthState,
    ChannelImportState,
    ChannelPushIssue,
    MarketplaceOrder,
    MarketplaceOrderLine,
    RejectedMarketplaceOrder,
)

_LOGGER = logging.getLogger(__name__)
ORDER_LIMIT = 300


def _routing() -> Any:
    """The routing tables module, or None in a build without order routing."""
    try:
        from hub.db import models_routing
    except ImportError:  # pragma: no cover - routing ships with the hub
        return None
    return models_routing


@dataclass(slots=True)
class OrderRow:
    """An order in a list: its age and how long until (or since) its ship-by time."""

    order: MarketplaceOrder
    account: str
    lines: list[MarketplaceOrderLine]
    age_s: float
    to_ship_by_s: float | None

    @property
    def late(self) -> bool:
        """True when the ship-by time has passed and the order has not left."""
        return (
            self.to_ship_by_s is not None
            and self.to_ship_by_s < 0
            and self.order.routing_state not in ("handed_over", "confirmed", "cancelled")
        )


def _rows(
    session: Session, orders: list[tuple[MarketplaceOrder, str]], now: datetime
) -> list[OrderRow]:
    ids = [o.id for o, _ in orders]
    lines: dict[int, list[MarketplaceOrderLine]] = {}
    if ids:
        for line in session.scalars(
            select(MarketplaceOrderLine).where(MarketplaceOrderLine.order_id.in_(ids))
        ):
            lines.setdefault(line.order_id, []).append(line)
    return [
        OrderRow(
            o,
            name,
            lines.get(o.id, []),
            (now - o.purchased_at).total_seconds(),
            None if o.ship_by_at is None else (o.ship_by_at - now).total_seconds(),
        )
        for o, name in orders
    ]


def _orders(
    session: Session, *, state: str | None, now: datetime, offset: int = 0
) -> list[OrderRow]:
    stmt = (
        select(MarketplaceOrder, ChannelAccount.name)
        .join(ChannelAccount, ChannelAccount.id == MarketplaceOrder.account_id)
        .order_by(
            MarketplaceOrder.ship_by_at.is_(None),
            MarketplaceOrder.ship_by_at,
            MarketplaceOrder.purchased_at,
        )
        .offset(offset)
        .limit(ORDER_LIMIT)
    )
    if state:
        stmt = stmt.where(MarketplaceOrder.routing_state == state)
    return _rows(session, [(o, n) for o, n in session.execute(stmt)], now)


@router.get("/orders")
def orders_page(
    request: Request,
    viewer: CanView,
    state: str = "",
    msg: str | None = None,
    p: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Imported orders by routing state (ORDER_LIMIT a page), the review and unroutable queues."""
    now = now_utc()
    routing = _routing()
    with sessions_of(request)() as session:
        counts = Counter(
            {
                s: int(n)
                for s, n in session.execute(
                    select(MarketplaceOrder.routing_state, func.count()).group_by(
                        MarketplaceOrder.routing_state
                    )
                )
            }
        )
        listed = _orders(session, state=state or None, now=now, offset=(p - 1) * ORDER_LIMIT)
        review = _orders(session, state="manual_review", now=now)
        unroutable = _orders(session, state="unroutable", now=now)
        reasons: dict[str, list[str]] = {}
        if routing is not None:
            for row in session.scalars(
                select(routing.RoutingReview).where(routing.RoutingReview.state == "pending")
            ):
                reasons[row.order_id] = list(row.reasons or [])
        rejects = list(
            session.scalars(
                select(RejectedMarketplaceOrder)
                .order_by(RejectedMarketplaceOrder.id.desc())
                .limit(50)
            )
        )
    return page(
        request,
        viewer,
        "orders.html",
        counts=counts,
        rows=listed,
        review=review,
        unroutable=unroutable,
        reasons=reasons,
        state=state,
        msg=msg,
        page_no=p,
        pages=max(1, -(-(counts[state] if state else sum(counts.values())) // ORDER_LIMIT)),
        rejects=rejects,
        routing_available=routing is not None,
        now=now,
    )


@router.get("/orders/{order_pk}")
def order_page(
    request: Request, viewer: CanView, order_pk: int, msg: str | None = None
) -> Response:
    """One order: lines, state, and every routing decision with its explanation."""
    now = now_utc()
    routing = _routing()
    with sessions_of(request)() as session:
        found = session.execute(
            select(MarketplaceOrder, ChannelAccount.name)
            .join(ChannelAccount, ChannelAccount.id == MarketplaceOrder.account_id)
            .where(MarketplaceOrder.id == order_pk)
        ).first()
        if found is None:
            return page(request, viewer, "error.html", 404, message=f"No order {order_pk}.")
        row = _rows(session, [(found[0], found[1])], now)[0]
        decisions: list[Any] = []
        assignments: list[Any] = []
        review = None
        if routing is not None:
            decisions = list(
                session.scalars(
                    select(routing.RoutingDecisionRow)
                    .where(routing.RoutingDecisionRow.marketplace_order_pk == order_pk)
                    .order_by(routing.RoutingDecisionRow.id.desc())
                )
            )
            assignments = list(
                session.scalars(
                    select(routing.RoutingAssignment).where(
                        routing.RoutingAssignment.marketplace_order_pk == order_pk
                    )
                )
            )
            review = session.scalars(
                select(routing.RoutingReview).where(
                    routing.RoutingReview.marketplace_order_pk == order_pk
                )
            ).first()
    return page(
        request,
        viewer,
        "order.html",
        row=row,
        decisions=decisions,
        assignments=assignments,
        review=review,
        msg=msg,
        routing_available=routing is not None,
    )


def _order_action(request: Request, viewer: Viewer, order_pk: int, action: str) -> Response:
    try:
        from hub import routing_service
    except ImportError:  # pragma: no cover - routing ships with the hub
        return _back(
            f"/dashboard/orders/{order_pk}", "Order routing is not available in this build."
        )
    now = now_utc()
    settings = routing_service.RoutingSettings.from_mapping(
        getattr(request.app.state.settings, "routing", None)
    )
    with sessions_of(request).begin() as session:
        order = session.get(MarketplaceOrder, order_pk)
        if order is None:
            return _back("/dashboard/orders", f"No order {order_pk}.")
        order_id = order.marketplace_order_id
        try:
            if action == "approve":
                decision = routing_service.approve_review(
                    session, order_id, settings, who=viewer.name, now=now
                )
            else:
                decision = routing_service.reroute(
                    session,
                    order_id,
                    settings,
                    who=viewer.name,
                    now=now,
                    release_current=action == "move",
                )
        except Exception as err:  # noqa: BLE001 - the routing service's refusals and bad data
            _LOGGER.info("order %s %s refused: %s", order_id, action, err)
            message = str(err) or err.__class__.__name__
            with sessions_of(request).begin() as audit_session:
                _audit(
                    request,
                    audit_session,
                    viewer,
                    f"order.{action}",
                    order_id,
                    "refused",
                    error=message,
                )
            return _back(f"/dashboard/orders/{order_pk}", message)
        _audit(
            request,
            session,
            viewer,
            f"order.{action}",
            order_id,
            result=decision.outcome,
            location=decision.location_id,
        )
    return _back(f"/dashboard/orders/{order_pk}", f"{action}: {decision.outcome}")


@router.post("/orders/{order_pk}/approve")
def order_approve(
    request: Request, viewer: CanActOrders, order_pk: int, csrf_token: CsrfField = ""
) -> Response:
    """Approve a held order: route it now."""
    check_csrf(viewer, csrf_token)
    return _order_action(request, viewer, order_pk, "approve")


@router.post("/orders/{order_pk}/reroute")
def order_reroute(
    request: Request,
    viewer: CanActOrders,
    order_pk: int,
    csrf_token: CsrfField = "",
    move: Annotated[str, Form()] = "",
) -> Response:
    """Route an unroutable or held order again (``move`` also releases a routed one)."""
    check_csrf(viewer, csrf_token)
    return _order_action(request, viewer, order_pk, "move" if move else "reroute")


# --- channels ------------------------------------------------------------------------------


@dataclass(slots=True)
class ChannelView:
    """One marketplace account on the channels page."""

    account: ChannelAccount
    health: ChannelHealthState | None
    imports: list[ChannelImportState]
    pending_feeds: int
    issues: list[ChannelPushIssue]
    unmapped: list[tuple[str, int]]
    orders: int


@router.get("/channels")
def channels_page(request: Request, viewer: CanView) -> Response:
    """Accounts, marketplaces, token health, last import, throttles, feed errors, unmapped SKUs."""
    views = []
    with sessions_of(request)() as session:
        for account in session.scalars(select(ChannelAccount).order_by(ChannelAccount.name)):
            unmapped = [
                (sku, int(n))
                for sku, n in session.execute(
                    select(MarketplaceOrderLine.seller_sku, func.count())
                    .join(MarketplaceOrder, MarketplaceOrder.id == MarketplaceOrderLine.order_id)
                    .where(
                        MarketplaceOrder.account_id == account.id,
                        MarketplaceOrderLine.canonical_sku.is_(None),
                    )
                    .group_by(MarketplaceOrderLine.seller_sku)
                    .order_by(MarketplaceOrderLine.seller_sku)
                )
            ]
            views.append(
                ChannelView(
                    account=account,
                    health=session.get(ChannelHealthState, account.id),
                    imports=list(
                        session.scalars(
                            select(ChannelImportState)
                            .where(ChannelImportState.account_id == account.id)
                            .order_by(ChannelImportState.marketplace_id)
                        )
                    ),
                    pending_feeds=int(
                        session.scalar(
                            select(func.count()).where(
                                ChannelFeed.account_id == account.id,
                                ChannelFeed.reported_at.is_(None),
                            )
                        )
                        or 0
                    ),
                    issues=list(
                        session.scalars(
                            select(ChannelPushIssue)
                            .where(ChannelPushIssue.account_id == account.id)
                            .order_by(ChannelPushIssue.id.desc())
                            .limit(20)
                        )
                    ),
                    unmapped=unmapped,
                    orders=int(
                        session.scalar(
                            select(func.count()).where(MarketplaceOrder.account_id == account.id)
                        )
                        or 0
                    ),
                )
            )
    return page(request, viewer, "channels.html", channels=views)
