"""SQLAlchemy 2.0 typed models of the hub (one schema for SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.db.types import BigIntPK, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


# --- stores and locations -------------------------------------------------------------


class PriceList(Base):
    """A named set of prices in one currency; every store uses one."""

    __tablename__ = "price_lists"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))


class Store(Base):
    """A physical store; its stock location has the same id."""

    __tablename__ = "stores"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    price_list_id: Mapped[str] = mapped_column(ForeignKey("price_lists.id"))
    day_start_minutes: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Location(Base):
    """A place that holds stock: a store or a warehouse."""

    __tablename__ = "locations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id"), unique=True)
    ships_online: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class StoreStatus(Base):
    """Presence and health of a store, from its births and Last Will."""

    __tablename__ = "store_status"
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    bd_seq: Mapped[int | None] = mapped_column(BigInteger)
    agent_version: Mapped[str | None] = mapped_column(String(64))
    outbox_depth: Mapped[int | None] = mapped_column(BigInteger)
    oldest_unsynced_age_s: Mapped[float | None] = mapped_column(Float)
    last_seq_reported: Mapped[int | None] = mapped_column(BigInteger)
    catalog_version_reported: Mapped[int | None] = mapped_column(BigInteger)
    devices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_seen_at: Mapped[datetime | None]
    status_at: Mapped[datetime | None]
    online_since: Mapped[datetime | None]
    offline_since: Mapped[datetime | None]


class StoreOutage(Base):
    """A period a store was offline (Last Will to next birth)."""

    __tablename__ = "store_outages"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    bd_seq: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))


class StoreSync(Base):
    """Per-store event stream bookkeeping: contiguous seq, gap clock, catalog version sent."""

    __tablename__ = "store_sync"
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    contiguous_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    highest_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    gap_since: Mapped[datetime | None]
    last_resend_at: Mapped[datetime | None]
    catalog_version_sent: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None]


# --- ingest ------------------------------------------------------------------------------


class AppliedEvent(Base):
    """One row per applied (store, seq): the exactly-once key, inserted with the ledger change."""

    __tablename__ = "applied_events"
    store_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    applied_at: Mapped[datetime]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeadLetter(Base):
    """A message or event the hub could not apply, with the reason and the raw payload."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(String(256))
    store_id: Mapped[str | None] = mapped_column(String(64), index=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    event_id: Mapped[str | None] = mapped_column(String(64))
    item_index: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None]


class DownMessage(Base):
    """A routed order or command sent to a store, kept until the store acknowledges it."""

    __tablename__ = "down_messages"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    publish_count: Mapped[int] = mapped_column(Integer, default=0)
    acked_at: Mapped[datetime | None]
    ack_note: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_down_messages_store_pending", "store_id", "acked_at"),
        Index("ix_down_messages_kind_ref", "kind", "ref"),
    )


# --- stock ledger ------------------------------------------------------------------------


class StockLevel(Base):
    """Ledger state per (location, SKU): last absolute count, deltas since, reserved."""

    __tablename__ = "stock_levels"
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    last_count: Mapped[int | None] = mapped_column(BigInteger)
    count_key: Mapped[int | None] = mapped_column(BigInteger)
    count_at: Mapped[datetime | None]
    deltas_since_count: Mapped[int] = mapped_column(BigInteger, default=0)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    safety_stock: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class StockMovement(Base):
    """The audit trail: every change of a stock level, with the event, seq and cashier."""

    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    location_id: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int] = mapped_column(BigInteger)
    reserved_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    on_hand_after: Mapped[int] = mapped_column(BigInteger)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    store_id: Mapped[str | None] = mapped_column(String(32))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    event_type: Mapped[str | None] = mapped_column(String(64))
    cashier_id: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_stock_movements_location_sku_at", "location_id", "sku", "at"),
        Index("ix_stock_movements_sku_at", "sku", "at"),
        Index("ix_stock_movements_at", "at"),
        Index("ix_stock_movements_store_seq", "store_id", "seq"),
    )


class OrderReservation(Base):
    """Units reserved at a location for a routed order until it is handed over or released."""

    __tablename__ = "order_reservations"
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    qty: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SaleFact(Base):
    """One sold or returned line, for reporting by store, channel, SKU and business day."""

    __tablename__ = "sales_facts"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    store_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32), default="store")
    business_day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    receipt_no: Mapped[str] = mapped_column(String(64))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    cashier_id: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_sales_facts_day_store", "business_day", "store_id"),
        Index("ix_sales_facts_sku_day", "sku", "business_day"),
    )


# --- catalog -----------------------------------------------------------------------------


class Product(Base):
    """A product under its canonical SKU."""

    __tablename__ = "products"
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tax_class: Mapped[str] = mapped_column(String(32))
    cost_minor: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    updated_at: Mapped[datetime]


class Barcode(Base):
    """A GTIN-14 pointing at one SKU."""

    __tablename__ = "barcodes"
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)


class Price(Base):
    """A SKU's price in one price list."""

    __tablename__ = "prices"
    price_list_id: Mapped[str] = mapped_column(ForeignKey("price_lists.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, index=True)


class CatalogVersion(Base):
    """One catalog change set (an import or an API edit); products carry the last version."""

    __tablename__ = "catalog_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)


# --- access and coordination -------------------------------------------------------------


class ApiToken(Base):
    """A machine client's API token, stored as a SHA-256 hash."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    roles: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Lease(Base):
    """A named lease: the one hub worker holding it runs the singleton jobs."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


from hub.db import models_alarms as _models_alarms  # noqa: E402,F401  (register tables)
from hub.db import models_channels as _models_channels  # noqa: E402,F401  (register tables)
from hub.db import models_dashboard as _models_dashboard  # noqa: E402,F401  (register tables)
from hub.db import models_finance as _models_finance  # noqa: E402,F401  (register tables)
from hub.db import models_provisioning as _models_provisioning  # noqa: E402,F401  (register tables)
from hub.db import models_routing as _models_routing  # noqa: E402,F401  (register tables)
