"""Request and response models of the REST API (``*Create``, ``*Update``, ``*Public``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class PagePublic(BaseModel, Generic[T]):
    """A page of items and the total count."""

    items: list[T]
    total: int
    limit: int
    offset: int


class StoreCreate(BaseModel):
    """A new store."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "UTC"
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    price_list: str = "default"


class StoreUpdate(BaseModel):
    """Changes to a store."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None


class StoreStatusPublic(BaseModel):
    """Presence and health of a store."""

    online: bool
    bd_seq: int | None
    agent_version: str | None
    outbox_depth: int | None
    oldest_unsynced_age_s: float | None
    last_seq_reported: int | None
    devices: dict[str, Any]
    last_seen_at: datetime | None
    online_since: datetime | None
    offline_since: datetime | None


class StoreSyncPublic(BaseModel):
    """The store's event stream as the hub sees it."""

    contiguous_seq: int
    highest_seen: int
    lag: int
    gap_since: datetime | None
    last_resend_at: datetime | None
    catalog_version_sent: int


class StorePublic(BaseModel):
    """A store with its status."""

    id: str
    name: str
    timezone: str
    currency: str
    price_list: str
    active: bool
    created_at: datetime
    status: StoreStatusPublic | None
    sync: StoreSyncPublic | None


class OutagePublic(BaseModel):
    """An offline period of a store."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    started_at: datetime
    ended_at: datetime | None
    bd_seq: int | None
    reason: str


class LocationCreate(BaseModel):
    """A new warehouse location."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    name: str = Field(min_length=1, max_length=200)


class LocationPublic(BaseModel):
    """A stock location."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    name: str
    store_id: str | None
    ships_online: bool
    active: bool


class StockCount(BaseModel):
    """An absolute on-hand figure for a SKU."""

    sku: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
    on_hand: int = Field(ge=0)


class StockSet(BaseModel):
    """Absolute stock for a warehouse."""

    counts: list[StockCount] = Field(min_length=1, max_length=10_000)
    reference: str | None = Field(default=None, max_length=128)


class StockLevelPublic(BaseModel):
    """Ledger state of one (location, SKU)."""

    model_config = ConfigDict(from_attributes=True)
    location_id: str
    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    last_count: int | None
    count_at: datetime | None
    deltas_since_count: int
    updated_at: datetime


class SkuLocationPublic(StockLevelPublic):
    """A SKU at one location, with what it can sell."""

    kind: str
    ships_online: bool
    sellable: int


class SkuStockPublic(BaseModel):
    """A SKU across all locations."""

    sku: str
    on_hand: int
    reserved: int
    sellable: int
    locations: list[SkuLocationPublic]


class MovementPublic(BaseModel):
    """One entry of the audit trail."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    location_id: str
    sku: str
    kind: str
    delta: int
    reserved_delta: int
    on_hand_after: int
    stale: bool
    at: datetime
    recorded_at: datetime
    store_id: str | None
    seq: int | None
    event_id: Any | None
    event_type: str | None
    cashier_id: str | None
    reference: str | None


class SaleFactPublic(BaseModel):
    """A sold or returned line."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    store_id: str
    channel: str
    business_day: date
    at: datetime
    document_id: Any
    receipt_no: str
    line_no: int
    sku: str
    qty: int
    amount_minor: int
    tax_minor: int
    currency: str
    cashier_id: str | None
    seq: int


class DeadLetterPublic(BaseModel):
    """A dead letter (the payload as text, cut to 64 KiB)."""

    id: int
    received_at: datetime
    topic: str
    store_id: str | None
    seq: int | None
    event_id: str | None
    item_index: int | None
    reason: str
    detail: str
    status: str
    replay_count: int
    resolved_at: datetime | None
    payload: str


class ReplayRequest(BaseModel):
    """Optionally a corrected payload to apply instead of the stored one."""

    payload: str | None = None


class ReplayResult(BaseModel):
    """What the replay did."""

    status: str
    applied: int
    duplicates: int
    reason: str | None = None
    detail: str | None = None


class ProductPublic(BaseModel):
    """A product with barcodes and prices per price list (minor units)."""

    sku: str
    name: str
    tax_class: str
    cost_minor: int | None
    active: bool
    version: int
    barcodes: list[str]
    prices: dict[str, int] = Field(default_factory=dict)


class ProductUpdate(BaseModel):
    """Create or change one product (a one-row import)."""

    name: str = Field(min_length=1, max_length=200)
    price: str
    currency: str | None = None
    price_list: str = "default"
    barcodes: list[str] = Field(default_factory=list)
    tax_class: str = "standard"
    cost: str | None = None
    active: bool = True


class RowErrorPublic(BaseModel):
    """A refused CSV row."""

    line: int
    sku: str
    reasons: list[str]


class ImportReportPublic(BaseModel):
    """The outcome of a CSV import."""

    rows: int
    imported: int
    refused: int
    changed_products: int = 0
    changed_prices: int = 0
    version: int | None = None
    errors: list[RowErrorPublic]


class TokenCreate(BaseModel):
    """A new API token."""

    name: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(default_factory=lambda: ["reader"])


class TokenPublic(BaseModel):
    """A token's metadata (never the token)."""

    name: str
    prefix: str
    roles: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    """A created token: the clear text is shown this once."""

    token: str
