"""Routing state of an imported order (pure): what an Amazon status change means for routing.

``marketplace_orders.routing_state`` (hub/db/models_channels.py) is shared with order
routing. The import moves it only where Amazon's status decides; routing owns
``routed``, ``manual_review``, ``unroutable`` and ``handed_over``; the shipment
confirmation owns ``confirmed``.
"""

from __future__ import annotations

import enum

from hub.channels.amazon.model import AmazonOrder, OrderStatus


class RoutingState(enum.StrEnum):
    """Where a marketplace order stands between import, routing, the store and Amazon."""

    NEW = "new"
    TO_ROUTE = "to_route"
    ROUTED = "routed"
    MANUAL_REVIEW = "manual_review"
    UNROUTABLE = "unroutable"
    HANDED_OVER = "handed_over"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    FBA_RECORDED = "fba_recorded"


class ShipmentState(enum.StrEnum):
    """The shipment confirmation of a handed-over order."""

    NONE = "none"
    """Nothing to confirm (not handed over yet)."""
    PENDING = "pending"
    """Handed over; the first confirmShipment is due."""
    RETRY = "retry"
    """A confirmShipment failed (throttled, 5xx, token); retried at ``shipment_next_at``."""
    ACCEPTED = "accepted"
    """Amazon accepted it."""
    REJECTED = "rejected"
    """Amazon refused it (400/404); a person has to look (``shipment_error``)."""


def routing_state_after_import(current: RoutingState | None, order: AmazonOrder) -> RoutingState:
    """The routing state once ``order`` (a new or newer copy) is stored.

    - FBA orders are ``fba_recorded`` whatever their status;
    - a cancelled order is ``cancelled`` unless its shipment was already confirmed;
    - a new or still ``new`` merchant order becomes ``to_route`` once Amazon says to ship
      it (Unshipped/PartiallyShipped);
    - otherwise the state stays where routing or the confirmation put it.
    """
    if not order.is_merchant_fulfilled:
        return RoutingState.FBA_RECORDED
    if order.status is OrderStatus.CANCELED:
        if current is RoutingState.CONFIRMED:
            return current
        return RoutingState.CANCELLED
    if current is None or current is RoutingState.NEW:
        return RoutingState.TO_ROUTE if order.status.awaits_shipment else RoutingState.NEW
    return current


def needs_routing(state: RoutingState) -> bool:
    """True for the state routing picks orders up in."""
    return state is RoutingState.TO_ROUTE
