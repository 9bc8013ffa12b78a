"""Every v1 message body: events up, status, ack, orders, catalog and commands down.

Events travel inside an :class:`protocol.envelope.Envelope`; their bodies are
the models below, found by the envelope's ``type`` in :data:`EVENT_BODIES`.
Status, ack, order, catalog and command messages are top-level JSON objects of
their own (each carries ``v``). Money is always ``*_minor`` integers plus an
ISO 4217 ``currency``; timestamps are UTC with ``Z``; barcodes are GTIN-14.
Every model keeps unknown fields, so a newer writer's additions survive an
older reader.

Events report facts that already happened at the till, so their bodies carry
only the constraints the contract names (types, currencies, ``qty > 0``,
``min 1`` lists of a sale, ...): refusing an event loses data, it does not undo
a sale. Messages down are instructions and are checked more strictly (prices
and costs not negative, barcodes valid GTINs, a routed order has lines).
Cross-field arithmetic (line totals, tax sums, tenders against totals) belongs
to the domain code on each side, because a rounding disagreement must not turn
a real sale into a dead letter.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, Field, model_validator

from protocol import PROTOCOL_VERSION
from protocol.fields import (
    Currency,
    Gtin14,
    Id,
    IsoDate,
    NonNegativeInt,
    PositiveInt,
    ProtocolVersion,
    Sku,
    StoreId,
    UtcDatetime,
    Version,
    WireModel,
    WireUUID,
)

TenderKind: TypeAlias = Literal["cash", "card", "other"]

# --------------------------------------------------------------------------- shared pieces


class SaleLine(WireModel):
    """One line of a sale: what was sold, at what price and tax."""

    line_no: int
    sku: Sku
    gtin: str | None = None
    name: str
    qty: PositiveInt
    unit_price_minor: int
    discount_minor: NonNegativeInt = 0
    tax_class: str
    # Basis points (2000 = 20 %) for display; tax_rate_ppm is exact where a rate has
    # fractions of a basis point (New York City's 8.875 % is 88,750 ppm, 887.5 bp).
    tax_rate_bp: int
    tax_rate_ppm: int | None = None
    tax_minor: int
    total_minor: int


class Tender(WireModel):
    """One payment towards a sale or refund; change_minor is cash handed back."""

    kind: TenderKind
    amount_minor: int
    reference: str | None = None
    change_minor: int = 0


class Discount(WireModel):
    """A sale-level discount: percent in basis points or an amount in minor units."""

    kind: Literal["percent", "amount"]
    value: int
    reason: str
    amount_minor: int


class ReturnLine(WireModel):
    """One returned item: refunded amount and whether it goes back on the shelf."""

    sku: Sku
    qty: PositiveInt
    refund_minor: int
    restock: bool


class OrderLineQty(WireModel):
    """A SKU and a quantity of an online order (picked or handed over)."""

    sku: Sku
    qty: int


# --------------------------------------------------------------------------- events (up)


class SaleCompleted(WireModel):
    """Body of ``sale.completed``: a finished, paid sale."""

    sale_id: WireUUID
    receipt_no: Id
    cashier_id: Id
    shift_id: Id | None = None
    business_day: IsoDate
    currency: Currency
    prices_include_tax: bool
    lines: list[SaleLine] = Field(min_length=1)
    discounts: list[Discount] = Field(default_factory=list)
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    tenders: list[Tender] = Field(min_length=1)
    completed_at: UtcDatetime


class SaleVoided(WireModel):
    """Body of ``sale.voided``: a cart voided before completion (audit and Z report only)."""

    sale_id: WireUUID
    cashier_id: Id
    reason: str
    currency: Currency
    total_minor: int
    lines_count: int


class ReturnCompleted(WireModel):
    """Body of ``return.completed``: goods taken back and money refunded."""

    return_id: WireUUID
    receipt_no: Id
    original_receipt_no: Id | None = None
    original_sale_id: WireUUID | None = None
    cashier_id: Id
    manager_id: Id | None = None
    business_day: IsoDate
    currency: Currency
    lines: list[ReturnLine]
    refund_total_minor: int
    tenders: list[Tender]


class StockReceived(WireModel):
    """Body of ``stock.received``: goods booked in (a positive delta)."""

    sku: Sku
    qty: PositiveInt
    reference: str | None = None


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must not be 0")
    return value


class StockAdjusted(WireModel):
    """Body of ``stock.adjusted``: a signed correction (damage, theft, found)."""

    sku: Sku
    delta: Annotated[int, AfterValidator(_not_zero)]
    reason: str


class StockCounted(WireModel):
    """Body of ``stock.counted``: an absolute on-hand count."""

    sku: Sku
    counted: NonNegativeInt


class StockBelowZero(WireModel):
    """Body of ``stock.below_zero``: a sale took on-hand below zero (a count is due)."""

    sku: Sku
    on_hand: int = Field(lt=0)
    sale_id: WireUUID | None = None


class OrderAccepted(WireModel):
    """Body of ``order.accepted``: the store takes a routed order."""

    order_id: Id


class OrderRejected(WireModel):
    """Body of ``order.rejected``: the store declines a routed order; the hub re-routes it."""

    order_id: Id
    reason: Literal["out_of_stock", "damaged", "no_capacity", "other"]
    note: str | None = None
    skus_short: list[Sku] = Field(default_factory=list)


class OrderPicked(WireModel):
    """Body of ``order.picked``: the lines taken off the shelf."""

    order_id: Id
    lines: list[OrderLineQty]


class OrderPacked(WireModel):
    """Body of ``order.packed``: the order is boxed."""

    order_id: Id
    parcels: int = 1


class OrderHandedOver(WireModel):
    """Body of ``order.handed_over``: the carrier has the parcel (confirms the shipment)."""

    order_id: Id
    carrier: str
    tracking_number: str
    lines: list[OrderLineQty]


class ShiftClosed(WireModel):
    """Body of ``shift.closed``: the Z report figures of one cashier shift."""

    shift_id: Id
    cashier_id: Id
    business_day: IsoDate
    opened_at: UtcDatetime
    closed_at: UtcDatetime
    currency: Currency
    sales_count: int
    gross_minor: int
    discounts_minor: int
    tax_minor: int
    returns_minor: int
    voids_count: int
    tenders: dict[str, int] = Field(default_factory=dict)
    expected_cash_minor: int
    counted_cash_minor: int
    over_short_minor: int


class DeviceStatusChanged(WireModel):
    """Body of ``device.status``: a printer, scanner or drawer changed state."""

    device: Id
    kind: Literal["printer", "scanner", "drawer"]
    state: str
    detail: str | None = None
    since: UtcDatetime


EVENT_BODIES: Final[dict[str, type[BaseModel]]] = {
    "sale.completed": SaleCompleted,
    "sale.voided": SaleVoided,
    "return.completed": ReturnCompleted,
    "stock.received": StockReceived,
    "stock.adjusted": StockAdjusted,
    "stock.counted": StockCounted,
    "stock.below_zero": StockBelowZero,
    "order.accepted": OrderAccepted,
    "order.rejected": OrderRejected,
    "order.picked": OrderPicked,
    "order.packed": OrderPacked,
    "order.handed_over": OrderHandedOver,
    "shift.closed": ShiftClosed,
    "device.status": DeviceStatusChanged,
}
"""Event type (the envelope's ``type``) -> body model."""

EVENT_TYPES: Final[dict[type[BaseModel], str]] = {
    model: name for name, model in EVENT_BODIES.items()
}
"""Body model -> event type, for writers."""

# --------------------------------------------------------------------------- status (up, retained)


class StatusMessage(WireModel):
    """The store's presence on ``up/status``: birth (online, full) or Last Will (offline)."""

    v: ProtocolVersion = PROTOCOL_VERSION
    store: StoreId
    online: bool
    bdSeq: NonNegativeInt  # Sparkplug's name, the same on the wire and in code
    agent_version: str | None = None
    outbox_depth: NonNegativeInt | None = None
    oldest_unsynced_age_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    last_seq: NonNegativeInt | None = None
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict)
    at: UtcDatetime


class HubStatus(WireModel):
    """The hub's presence on ``acorn/v1/hub/status``: birth or Last Will."""

    v: ProtocolVersion = PROTOCOL_VERSION
    online: bool
    bdSeq: NonNegativeInt
    at: UtcDatetime


# --------------------------------------------------------------------------- down


class AckMessage(WireModel):
    """``down/ack``: the highest contiguous seq the hub has durably applied (0: none yet)."""

    v: ProtocolVersion = PROTOCOL_VERSION
    store: StoreId
    seq: NonNegativeInt


class OrderLine(WireModel):
    """One line of a routed order, with the shelf location when known."""

    sku: Sku
    name: str
    qty: PositiveInt
    location: str | None = None


class OrderMessage(WireModel):
    """``down/orders``: an order routed to the store, or its cancellation."""

    v: ProtocolVersion = PROTOCOL_VERSION
    id: WireUUID
    store: StoreId
    kind: Literal["routed", "cancelled"]
    order_id: Id
    channel: str
    marketplace_order_id: str | None = None
    ship_by: UtcDatetime | None = None
    lines: list[OrderLine]
    ship_to: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    at: UtcDatetime

    @model_validator(mode="after")
    def _routed_has_lines(self) -> OrderMessage:
        if self.kind == "routed" and not self.lines:
            raise ValueError("a routed order needs at least one line")
        return self


class CatalogProduct(WireModel):
    """One product in a catalog message; barcodes are GTIN-14."""

    sku: Sku
    name: str
    price_minor: NonNegativeInt
    tax_class: str
    active: bool = True
    barcodes: list[Gtin14] = Field(default_factory=list)
    cost_minor: NonNegativeInt | None = None


class CatalogMessage(WireModel):
    """``down/catalog``: a full snapshot or a delta of the store's catalog and prices."""

    v: ProtocolVersion = PROTOCOL_VERSION
    id: WireUUID
    store: StoreId
    version: Version
    kind: Literal["snapshot", "delta"]
    currency: Currency
    products: list[CatalogProduct] = Field(default_factory=list)
    removed_skus: list[Sku] = Field(default_factory=list)
    at: UtcDatetime


CommandKind: TypeAlias = Literal["resend_from", "stock_count", "config", "ping"]


class CommandMessage(WireModel):
    """``down/cmd``: resend from a seq, request a stock count, change config, or ping."""

    v: ProtocolVersion = PROTOCOL_VERSION
    id: WireUUID
    store: StoreId
    kind: CommandKind
    args: dict[str, Any] = Field(default_factory=dict)
    at: UtcDatetime

    @model_validator(mode="after")
    def _resend_from_has_seq(self) -> CommandMessage:
        if self.kind == "resend_from":
            seq = self.args.get("seq")
            if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
                raise ValueError('resend_from needs args {"seq": <integer >= 1>}')
        return self


DOWN_MESSAGES: Final[dict[str, type[BaseModel]]] = {
    "ack": AckMessage,
    "orders": OrderMessage,
    "catalog": CatalogMessage,
    "cmd": CommandMessage,
}
"""Down channel (the topic's last level) -> message model."""

DownMessage: TypeAlias = AckMessage | OrderMessage | CatalogMessage | CommandMessage
