"""peewee models of the edge database.

The tables themselves are created by the numbered migrations in
``migrations.py`` (frozen SQL, so an old database file upgrades the same way
on every box); these models only read and write them. ``tests/edge/store``
checks that the models and the migrated schema agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import peewee

from edge_agent.store.db import database_proxy

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_utc_text(value: datetime) -> str:
    """Serialise an aware datetime as sortable UTC text ("2026-11-27T10:00:00.123456Z")."""
    if value.tzinfo is None:
        raise ValueError("naive datetime; the edge stores UTC only")
    return value.astimezone(UTC).strftime(UTC_FORMAT)


def from_utc_text(text: str) -> datetime:
    """Parse text written by ``to_utc_text`` back into an aware UTC datetime."""
    return datetime.strptime(text, UTC_FORMAT).replace(tzinfo=UTC)


class UtcDateTimeField(peewee.TextField):
    """An aware UTC datetime kept as sortable ISO text."""

    def db_value(self, value: Any) -> Any:
        """Convert to the stored text."""
        if value is None or isinstance(value, str):
            return value
        return to_utc_text(value)

    def python_value(self, value: Any) -> Any:
        """Convert the stored text back to a datetime."""
        if value is None:
            return None
        return from_utc_text(value)


class BaseModel(peewee.Model):
    """Base of every edge table: bound to the process's edge database."""

    class Meta:
        database = database_proxy
        legacy_table_names = False


class SchemaVersion(BaseModel):
    """One row per applied migration."""

    version = peewee.IntegerField(primary_key=True)
    name = peewee.TextField()
    applied_at = UtcDateTimeField()


class MetaEntry(BaseModel):
    """Small key/value facts about this database (store id, session secret, catalog version)."""

    key = peewee.TextField(primary_key=True)
    value = peewee.TextField()

    class Meta:
        table_name = "meta"


class Counter(BaseModel):
    """Gap-free counters (outbox seq, receipt numbers, bdSeq, acked seq)."""

    name = peewee.TextField(primary_key=True)
    value = peewee.IntegerField()


class Product(BaseModel):
    """A catalog product under its canonical SKU."""

    sku = peewee.TextField(primary_key=True)
    name = peewee.TextField()
    price_minor = peewee.IntegerField()
    tax_class = peewee.TextField()
    active = peewee.BooleanField(default=True)
    catalog_version = peewee.IntegerField(default=0)
    updated_at = UtcDateTimeField()


class Barcode(BaseModel):
    """A GTIN-14 that identifies a product; a product may have several."""

    gtin14 = peewee.TextField(primary_key=True)
    sku = peewee.TextField(index=True)


class Stock(BaseModel):
    """On-hand and reserved quantity of a SKU in this store."""

    sku = peewee.TextField(primary_key=True)
    on_hand = peewee.IntegerField(default=0)
    reserved = peewee.IntegerField(default=0)
    updated_at = UtcDateTimeField()


class OutboxEvent(BaseModel):
    """An event waiting for the hub's ack: its gap-free seq and the encoded envelope."""

    seq = peewee.IntegerField(primary_key=True)
    id = peewee.TextField(unique=True)
    type = peewee.TextField()
    envelope = peewee.TextField()
    created_at = UtcDateTimeField()

    class Meta:
        table_name = "outbox"


class InboundMessage(BaseModel):
    """The id of an inbound message that was applied, so a redelivery is a no-op."""

    id = peewee.TextField(primary_key=True)
    topic = peewee.TextField()
    kind = peewee.TextField()
    received_at = UtcDateTimeField()


class DeadLetter(BaseModel):
    """An inbound message that could not be applied, kept with the reason."""

    id = peewee.AutoField()
    received_at = UtcDateTimeField()
    topic = peewee.TextField()
    reason = peewee.TextField()
    detail = peewee.TextField()
    payload = peewee.BlobField()
    payload_size = peewee.IntegerField()


class Cashier(BaseModel):
    """A person who logs in at the till with a PIN (argon2 hash), role cashier or manager."""

    id = peewee.TextField(primary_key=True)
    name = peewee.TextField()
    role = peewee.TextField()
    pin_hash = peewee.TextField()
    active = peewee.BooleanField(default=True)
    created_at = UtcDateTimeField()


class Shift(BaseModel):
    """A cashier's shift at the till, from opening float to the counted drawer."""

    id = peewee.TextField(primary_key=True)
    cashier_id = peewee.TextField(index=True)
    business_day = peewee.TextField()
    opened_at = UtcDateTimeField()
    closed_at = UtcDateTimeField(null=True)
    currency = peewee.TextField()
    opening_float_minor = peewee.IntegerField(default=0)
    counted_cash_minor = peewee.IntegerField(null=True)
    report = peewee.TextField(null=True)


class Sale(BaseModel):
    """A completed sale; ``body`` is the sale.completed event body (for reprints)."""

    id = peewee.TextField(primary_key=True)
    receipt_no = peewee.TextField(unique=True)
    cashier_id = peewee.TextField()
    shift_id = peewee.TextField(null=True, index=True)
    business_day = peewee.TextField(index=True)
    currency = peewee.TextField()
    subtotal_minor = peewee.IntegerField()
    discount_minor = peewee.IntegerField()
    tax_minor = peewee.IntegerField()
    total_minor = peewee.IntegerField()
    completed_at = UtcDateTimeField()
    body = peewee.TextField()
    document = peewee.TextField()


class SaleLine(BaseModel):
    """One line of a completed sale."""

    id = peewee.AutoField()
    sale_id = peewee.TextField(index=True)
    line_no = peewee.IntegerField()
    sku = peewee.TextField()
    gtin = peewee.TextField(null=True)
    name = peewee.TextField()
    qty = peewee.IntegerField()
    unit_price_minor = peewee.IntegerField()
    discount_minor = peewee.IntegerField()
    tax_class = peewee.TextField()
    tax_rate_bp = peewee.IntegerField()
    tax_minor = peewee.IntegerField()
    total_minor = peewee.IntegerField()


class Tender(BaseModel):
    """A payment taken for a sale (or paid out for a return)."""

    id = peewee.AutoField()
    sale_id = peewee.TextField(index=True)
    kind = peewee.TextField()
    amount_minor = peewee.IntegerField()
    reference = peewee.TextField(null=True)
    change_minor = peewee.IntegerField(default=0)


class SaleVoid(BaseModel):
    """A cart voided before completion (audit and Z report)."""

    id = peewee.TextField(primary_key=True)
    cashier_id = peewee.TextField()
    shift_id = peewee.TextField(null=True, index=True)
    business_day = peewee.TextField()
    reason = peewee.TextField()
    currency = peewee.TextField()
    total_minor = peewee.IntegerField()
    lines_count = peewee.IntegerField()
    voided_at = UtcDateTimeField()
    document = peewee.TextField()


class Return(BaseModel):
    """A completed return (refund); ``body`` is the return.completed event body."""

    id = peewee.TextField(primary_key=True)
    receipt_no = peewee.TextField(unique=True)
    original_sale_id = peewee.TextField(null=True, index=True)
    original_receipt_no = peewee.TextField(null=True)
    cashier_id = peewee.TextField()
    manager_id = peewee.TextField(null=True)
    shift_id = peewee.TextField(null=True, index=True)
    business_day = peewee.TextField()
    currency = peewee.TextField()
    refund_total_minor = peewee.IntegerField()
    completed_at = UtcDateTimeField()
    body = peewee.TextField()
    document = peewee.TextField()

    class Meta:
        table_name = "sale_return"


class ReturnLine(BaseModel):
    """One returned SKU and quantity."""

    id = peewee.AutoField()
    return_id = peewee.TextField(index=True)
    sku = peewee.TextField()
    qty = peewee.IntegerField()
    refund_minor = peewee.IntegerField()
    restock = peewee.BooleanField()


class RoutedOrder(BaseModel):
    """A marketplace order the hub routed to this store; its lines reserve stock until handover."""

    order_id = peewee.TextField(primary_key=True)
    status = peewee.TextField()
    channel = peewee.TextField()
    payload = peewee.TextField()
    received_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()


class OrderFulfilment(BaseModel):
    """The fulfilment steps of a routed order: scans, reject reason, carrier and tracking."""

    order_id = peewee.TextField(primary_key=True)
    picked = peewee.TextField(default="{}")
    reject_reason = peewee.TextField(null=True)
    note = peewee.TextField(null=True)
    carrier = peewee.TextField(null=True)
    tracking_number = peewee.TextField(null=True)
    parcels = peewee.IntegerField(null=True)
    accepted_at = peewee.TextField(null=True)
    picked_at = peewee.TextField(null=True)
    packed_at = peewee.TextField(null=True)
    handed_over_at = peewee.TextField(null=True)
    printed_at = peewee.TextField(null=True)
    updated_at = peewee.TextField()


ALL_MODELS: list[type[BaseModel]] = [
    SchemaVersion,
    MetaEntry,
    Counter,
    Product,
    Barcode,
    Stock,
    OutboxEvent,
    InboundMessage,
    DeadLetter,
    Cashier,
    Shift,
    Sale,
    SaleLine,
    Tender,
    SaleVoid,
    Return,
    ReturnLine,
    RoutedOrder,
    OrderFulfilment,
]
