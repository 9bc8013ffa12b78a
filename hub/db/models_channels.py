"""Marketplace channel tables: accounts, import state, orders, SKU mappings, pushes, health.

``marketplace_orders.routing_state`` is the hand-off between the channel and order
routing (docs/amazon.md, "Order states"):

- ``new``: imported, not (yet) to be shipped: Pending, or waiting for its items;
- ``to_route``: a merchant-fulfilled order Amazon says to ship (Unshipped/PartiallyShipped);
  routing picks it up;
- ``routed``: routing chose ``routed_location`` and published it to the store;
- ``manual_review``: routing wants a person to decide;
- ``unroutable``: no location can ship it;
- ``handed_over``: the store handed the parcel to the carrier; routing has set
  ``carrier_code``/``tracking_number``/``handed_over_at`` (and per line
  ``qty_handed_over`` when not every unit is in the parcel); the channel confirms it;
- ``confirmed``: Amazon accepted the shipment confirmation;
- ``cancelled``: cancelled by the buyer or Amazon (routing releases reservations);
- ``fba_recorded``: fulfilled by Amazon, kept for reporting only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.channels.amazon.states import RoutingState as RoutingState  # re-exported
from hub.channels.amazon.states import ShipmentState as ShipmentState  # re-exported
from hub.db.models import Base
from hub.db.types import BigIntPK


class ChannelAccount(Base):
    """A marketplace seller account; LWA credentials are sealed with a key outside the DB."""

    __tablename__ = "channel_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="amazon")
    region: Mapped[str] = mapped_column(String(8))
    endpoint_url: Mapped[str] = mapped_column(String(500), default="")
    lwa_token_url: Mapped[str] = mapped_column(String(500))
    seller_id: Mapped[str] = mapped_column(String(64))
    marketplace_ids: Mapped[list[str]] = mapped_column(JSON)
    orders_api: Mapped[str] = mapped_column(String(16), default="v0")
    credentials_sealed: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    share_bp: Mapped[int] = mapped_column(Integer, default=10_000)
    buffer: Mapped[int] = mapped_column(Integer, default=0)
    max_quantity: Mapped[int | None] = mapped_column(Integer)
    allowed_locations: Mapped[list[str] | None] = mapped_column(JSON)
    """Locations that ship for the channel; None: every active location that ships online."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChannelImportState(Base):
    """Order import per (account, marketplace): checkpoint and the interrupted page, if any."""

    __tablename__ = "channel_import_state"
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    checkpoint: Mapped[datetime | None]
    page_window_after: Mapped[datetime | None]
    page_window_before: Mapped[datetime | None]
    page_next_token: Mapped[str | None] = mapped_column(Text)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")


class MarketplaceOrder(Base):
    """An imported marketplace order, one row per (account, marketplace order id)."""

    __tablename__ = "marketplace_orders"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"))
    marketplace_id: Mapped[str] = mapped_column(String(32))
    marketplace_order_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    fulfillment_channel: Mapped[str] = mapped_column(String(8))
    purchased_at: Mapped[datetime]
    last_updated_at: Mapped[datetime]
    earliest_ship_at: Mapped[datetime | None]
    ship_by_at: Mapped[datetime | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    total_minor: Mapped[int | None] = mapped_column(BigInteger)
    ship_to_postal_code: Mapped[str | None] = mapped_column(String(32))
    ship_to_country: Mapped[str | None] = mapped_column(String(2))
    ship_to_city: Mapped[str | None] = mapped_column(String(100))
    ship_to_state: Mapped[str | None] = mapped_column(String(100))
    ship_service_level: Mapped[str] = mapped_column(String(64), default="")
    is_prime: Mapped[bool] = mapped_column(Boolean, default=False)
    is_business: Mapped[bool] = mapped_column(Boolean, default=False)
    routing_state: Mapped[str] = mapped_column(String(16), default=RoutingState.NEW.value)
    routing_state_at: Mapped[datetime]
    routed_location: Mapped[str | None] = mapped_column(String(32))
    routing_note: Mapped[str] = mapped_column(Text, default="")
    carrier_code: Mapped[str | None] = mapped_column(String(64))
    carrier_name: Mapped[str | None] = mapped_column(String(64))
    shipping_method: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    handed_over_at: Mapped[datetime | None]
    shipment_state: Mapped[str] = mapped_column(String(16), default=ShipmentState.NONE.value)
    shipment_attempts: Mapped[int] = mapped_column(Integer, default=0)
    shipment_next_at: Mapped[datetime | None]
    shipment_error: Mapped[str] = mapped_column(Text, default="")
    shipment_confirmed_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The whole order as imported (``order_to_dict``), for the merge and for audits."""
    imported_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("account_id", "marketplace_order_id"),
        Index("ix_marketplace_orders_routing_state", "routing_state"),
        Index("ix_marketplace_orders_purchased_at", "purchased_at"),
    )


class MarketplaceOrderLine(Base):
    """One item of a marketplace order; ``canonical_sku`` is None while unmapped."""

    __tablename__ = "marketplace_order_lines"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("marketplace_orders.id", ondelete="CASCADE"))
    order_item_id: Mapped[str] = mapped_column(String(64))
    seller_sku: Mapped[str] = mapped_column(String(64))
    canonical_sku: Mapped[str | None] = mapped_column(String(64))
    asin: Mapped[str] = mapped_column(String(16), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    qty: Mapped[int] = mapped_column(Integer)
    qty_shipped: Mapped[int] = mapped_column(Integer, default=0)
    qty_handed_over: Mapped[int | None] = mapped_column(Integer)
    """Units in the handed-over parcel (None: every unshipped unit)."""
    item_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    """The price of the whole line (Amazon's ItemPrice), not of one unit."""
    item_tax_minor: Mapped[int | None] = mapped_column(BigInteger)
    shipping_price_minor: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("order_id", "order_item_id"),
        Index("ix_marketplace_order_lines_canonical_sku", "canonical_sku"),
    )


class RejectedMarketplaceOrder(Base):
    """An order the importer could not parse, with the reason (the channel's dead letters)."""

    __tablename__ = "marketplace_order_rejects"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"))
    marketplace_order_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime]


class ChannelSkuMapping(Base):
    """A canonical SKU listed as a seller SKU (and ASIN) in one marketplace of an account."""

    __tablename__ = "channel_sku_mappings"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"))
    marketplace_id: Mapped[str] = mapped_column(String(32))
    canonical_sku: Mapped[str] = mapped_column(String(64))
    seller_sku: Mapped[str] = mapped_column(String(64))
    asin: Mapped[str] = mapped_column(String(16))
    product_type: Mapped[str] = mapped_column(String(64), default="PRODUCT")
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("account_id", "marketplace_id", "seller_sku"),
        UniqueConstraint(
            "account_id",
            "marketplace_id",
            "canonical_sku",
            name="uq_channel_sku_mappings_canonical",
        ),
        Index("ix_channel_sku_mappings_canonical_sku", "canonical_sku"),
    )


class ChannelPushRecord(Base):
    """The last quantity pushed for a seller SKU in a marketplace, and Amazon's answer."""

    __tablename__ = "channel_push_records"
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seller_sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    issues: Mapped[list[str]] = mapped_column(JSON)

    __table_args__ = (Index("ix_channel_push_records_outcome", "account_id", "outcome"),)


class ChannelPushCursor(Base):
    """How far the push worker has read the stock movements of the ledger, per account."""

    __tablename__ = "channel_push_cursor"
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    last_movement_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_full_at: Mapped[datetime | None]
    """When every mapped SKU was last recomputed (catches policy and mapping changes)."""
    updated_at: Mapped[datetime]


class ChannelFeed(Base):
    """A JSON_LISTINGS_FEED submitted; kept after its processing report was read."""

    __tablename__ = "channel_feeds"
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    feed_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    marketplace_id: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[datetime]
    messages: Mapped[list[Any]] = mapped_column(JSON)
    """[messageId, seller SKU, quantity] of every message."""
    reported_at: Mapped[datetime | None]
    """When the processing report was read (None: still pending)."""

    __table_args__ = (Index("ix_channel_feeds_pending", "account_id", "reported_at"),)


class ChannelPushIssue(Base):
    """An issue Amazon reported for a seller SKU's quantity (from a feed report or a patch)."""

    __tablename__ = "channel_push_issues"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"))
    marketplace_id: Mapped[str] = mapped_column(String(32))
    seller_sku: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(128))
    """The feed id, or the patch submission id."""
    quantity: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]

    __table_args__ = (Index("ix_channel_push_issues_account_at", "account_id", "at"),)


class ChannelHealthState(Base):
    """Health counters of an account since ``since`` and the last verdict."""

    __tablename__ = "channel_health"
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id"), primary_key=True)
    since: Mapped[datetime]
    token_state: Mapped[str] = mapped_column(String(16), default="unknown")
    calls: Mapped[int] = mapped_column(Integer, default=0)
    throttled: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    operations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Counters per SP-API operation: {operation: {calls, ok, throttled, ...}}."""
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="ok")
    alarms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """[[code, severity, message], ...] of the last evaluation."""
    evaluated_at: Mapped[datetime | None]
