"""Order-routing tables: decisions with their explanation, store assignments, reviews, geography.

- ``routing_decisions``: one row per routing attempt of an order (initial, after a
  reject, a timeout, a Last Will, a walk-in sale, a manual approval), with the
  engine's explanation JSON (``RoutingDecision.as_dict()``) and the rules used.
- ``routing_assignments``: the order at one location: its store-side state
  (routed, accepted, picked, packed, handed_over, released), the acceptance
  deadline and the lines it ships (a split order has one per location, each a
  package with its own carrier, tracking and marketplace confirmation). A released
  assignment excludes its location from the order's next routing.
- ``routing_reviews``: the manual-review queue (pending, approved, rerouted, cancelled).
- ``routing_locations``: what routing needs to know about a location and the hub's
  core tables do not hold: its position and its daily online-order capacity.

The order itself is the channel's ``marketplace_orders`` row; ``order_id`` here is
its marketplace order id, the id that travels to the store.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base
from hub.db.types import BigIntPK


class AssignmentState(enum.StrEnum):
    """Where an order stands at one location."""

    ROUTED = "routed"
    ACCEPTED = "accepted"
    PICKED = "picked"
    PACKED = "packed"
    HANDED_OVER = "handed_over"
    RELEASED = "released"


OPEN_ASSIGNMENT_STATES = frozenset(
    {
        AssignmentState.ROUTED,
        AssignmentState.ACCEPTED,
        AssignmentState.PICKED,
        AssignmentState.PACKED,
    }
)


class ReviewState(enum.StrEnum):
    """The manual-review queue entry of an order."""

    PENDING = "pending"
    APPROVED = "approved"
    REROUTED = "rerouted"
    CANCELLED = "cancelled"


class RoutingDecisionRow(Base):
    """One routing attempt of an order and the engine's explanation."""

    __tablename__ = "routing_decisions"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(128))
    marketplace_order_pk: Mapped[int | None] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(32))
    """initial, rejected, timed_out, store_offline, walk_in, approved, manual_reroute."""
    outcome: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[str | None] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    excluded: Mapped[list[str]] = mapped_column(JSON, default=list)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_routing_decisions_order", "order_id", "attempt"),
        Index("ix_routing_decisions_decided_at", "decided_at"),
        Index("ix_routing_decisions_outcome", "outcome"),
    )


class RoutingAssignment(Base):
    """An order given to one location, and how far that location got with it."""

    __tablename__ = "routing_assignments"
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    marketplace_order_pk: Mapped[int | None] = mapped_column(BigInteger)
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=AssignmentState.ROUTED.value)
    release_reason: Mapped[str | None] = mapped_column(String(32))
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    routed_at: Mapped[datetime]
    accept_by: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    handed_over_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """The part of the order this location ships: ``[{"sku", "qty"}]`` (migration 0009)."""
    package_ref: Mapped[str | None] = mapped_column(String(16))
    """A split order's package at this location: its packageReferenceId within the order."""
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    package_items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """The package's ``[{"order_item_id", "quantity"}]`` as confirmed to the marketplace."""
    shipment_state: Mapped[str] = mapped_column(String(16), default="none")
    """A split order's package: none, pending, retry, accepted, rejected."""
    shipment_attempts: Mapped[int] = mapped_column(Integer, default=0)
    shipment_next_at: Mapped[datetime | None]
    shipment_error: Mapped[str] = mapped_column(Text, default="")
    shipment_confirmed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_routing_assignments_state", "state", "accept_by"),
        Index("ix_routing_assignments_shipment", "shipment_state", "shipment_next_at"),
        Index("ix_routing_assignments_location", "location_id", "routed_at"),
    )


class RoutingReview(Base):
    """An order held for a person: why, and what they decided."""

    __tablename__ = "routing_reviews"
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    marketplace_order_pk: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=ReviewState.PENDING.value)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_routing_reviews_state", "state", "opened_at"),)


class RoutingLocation(Base):
    """Where a location is and how many online orders a day it takes (None: no limit)."""

    __tablename__ = "routing_locations"
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    daily_capacity: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]
