"""Amazon orders as the hub keeps them: frozen dataclasses, money in minor units, UTC times.

Both Orders API versions are parsed into these types (``orders.py``), so nothing
downstream knows which one was used. Times are UTC; :meth:`AmazonOrder.local`
reports them in the marketplace's zone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from hub.channels.amazon.marketplaces import marketplace_day, to_marketplace_local
from protocol.money import Money


class OrderStatus(enum.StrEnum):
    """Order status, with the Orders v0 spelling as value."""

    PENDING_AVAILABILITY = "PendingAvailability"
    PENDING = "Pending"
    UNSHIPPED = "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped"
    SHIPPED = "Shipped"
    INVOICE_UNCONFIRMED = "InvoiceUnconfirmed"
    CANCELED = "Canceled"
    UNFULFILLABLE = "Unfulfillable"

    @property
    def awaits_shipment(self) -> bool:
        """Paid and not (fully) shipped: the seller has to ship it."""
        return self in (OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED)

    @property
    def is_final(self) -> bool:
        """No further status change is expected."""
        return self in (
            OrderStatus.SHIPPED,
            OrderStatus.CANCELED,
            OrderStatus.UNFULFILLABLE,
            OrderStatus.INVOICE_UNCONFIRMED,
        )


class FulfillmentChannel(enum.StrEnum):
    """Who ships: the merchant (routed to a store) or Amazon (recorded for reporting)."""

    MERCHANT = "MFN"
    AMAZON = "AFN"


@dataclass(frozen=True, slots=True)
class ShipTo:
    """The non-personal part of the shipping address (enough to route by distance)."""

    city: str
    state_or_region: str
    postal_code: str
    country_code: str


@dataclass(frozen=True, slots=True)
class AmazonOrderLine:
    """One order item. ``line_price`` is the price of the whole line, not of one unit."""

    order_item_id: str
    seller_sku: str
    asin: str
    title: str
    quantity_ordered: int
    quantity_shipped: int = 0
    line_price: Money | None = None
    item_tax: Money | None = None
    shipping_price: Money | None = None
    shipping_tax: Money | None = None
    promotion_discount: Money | None = None

    @property
    def quantity_unshipped(self) -> int:
        """Units still to ship."""
        return max(0, self.quantity_ordered - self.quantity_shipped)

    @property
    def unit_price(self) -> Money | None:
        """The price of one unit when the line price divides evenly, else None."""
        if self.line_price is None or self.quantity_ordered <= 0:
            return None
        amount, rest = divmod(self.line_price.amount_minor, self.quantity_ordered)
        return Money(amount, self.line_price.currency) if rest == 0 else None


@dataclass(frozen=True, slots=True)
class AmazonOrder:
    """An Amazon order; ``lines`` is None until the items were loaded."""

    order_id: str
    marketplace_id: str
    status: OrderStatus
    fulfillment_channel: FulfillmentChannel
    purchased_at: datetime
    last_updated_at: datetime
    order_total: Money | None = None
    lines: tuple[AmazonOrderLine, ...] | None = None
    seller_order_id: str = ""
    ship_service_level: str = ""
    earliest_ship_at: datetime | None = None
    latest_ship_at: datetime | None = None
    is_prime: bool = False
    is_business: bool = False
    ship_to: ShipTo | None = None
    source_api: str = "v0"

    @property
    def is_merchant_fulfilled(self) -> bool:
        """Shipped by us (routing), as opposed to FBA (reporting only)."""
        return self.fulfillment_channel is FulfillmentChannel.MERCHANT

    def local(self, at: datetime) -> datetime:
        """An instant of this order on the marketplace's wall clock."""
        return to_marketplace_local(at, self.marketplace_id)

    @property
    def purchase_day(self) -> date:
        """The marketplace-local day the order was placed (Seller Central's view)."""
        return marketplace_day(self.purchased_at, self.marketplace_id)

    def with_lines(self, lines: tuple[AmazonOrderLine, ...]) -> AmazonOrder:
        """The same order with its items."""
        return replace(self, lines=lines)


class ImportOutcome(enum.StrEnum):
    """What importing one order did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The order to store and what changed."""

    order: AmazonOrder
    outcome: ImportOutcome
    previous_status: OrderStatus | None = None

    @property
    def status_changed(self) -> bool:
        """The status differs from the stored one (or the order is new)."""
        return self.previous_status is None or self.previous_status is not self.order.status


def merge_order(existing: AmazonOrder | None, incoming: AmazonOrder) -> MergeResult:
    """Deduplicate by AmazonOrderId: apply ``incoming`` over the stored order.

    An older copy (overlapping windows, pages re-read after a crash) never overwrites
    a newer one. Items are kept when the incoming copy has none loaded.
    """
    if existing is None:
        return MergeResult(incoming, ImportOutcome.CREATED)
    if incoming.last_updated_at < existing.last_updated_at:
        return MergeResult(existing, ImportOutcome.STALE, existing.status)
    merged = incoming if incoming.lines is not None else replace(incoming, lines=existing.lines)
    if merged == existing:
        return MergeResult(existing, ImportOutcome.UNCHANGED, existing.status)
    return MergeResult(merged, ImportOutcome.UPDATED, existing.status)


# --- JSON form (for stores that keep orders as documents) ------------------------------------


def _money_out(value: Money | None) -> list[Any] | None:
    return None if value is None else [value.amount_minor, value.currency]


def _money_in(value: Any) -> Money | None:
    return None if value is None else Money(int(value[0]), str(value[1]))


def _time_out(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time_in(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def order_to_dict(order: AmazonOrder) -> dict[str, Any]:
    """A JSON-ready dict of the order (money as [minor, currency], ISO times)."""
    return {
        "order_id": order.order_id,
        "marketplace_id": order.marketplace_id,
        "status": order.status.value,
        "fulfillment_channel": order.fulfillment_channel.value,
        "purchased_at": _time_out(order.purchased_at),
        "last_updated_at": _time_out(order.last_updated_at),
        "order_total": _money_out(order.order_total),
        "lines": None
        if order.lines is None
        else [
            {
                "order_item_id": li.order_item_id,
                "seller_sku": li.seller_sku,
                "asin": li.asin,
                "title": li.title,
                "quantity_ordered": li.quantity_ordered,
                "quantity_shipped": li.quantity_shipped,
                "line_price": _money_out(li.line_price),
                "item_tax": _money_out(li.item_tax),
                "shipping_price": _money_out(li.shipping_price),
                "shipping_tax": _money_out(li.shipping_tax),
                "promotion_discount": _money_out(li.promotion_discount),
            }
            for li in order.lines
        ],
        "seller_order_id": order.seller_order_id,
        "ship_service_level": order.ship_service_level,
        "earliest_ship_at": _time_out(order.earliest_ship_at),
        "latest_ship_at": _time_out(order.latest_ship_at),
        "is_prime": order.is_prime,
        "is_business": order.is_business,
        "ship_to": None
        if order.ship_to is None
        else [
            order.ship_to.city,
            order.ship_to.state_or_region,
            order.ship_to.postal_code,
            order.ship_to.country_code,
        ],
        "source_api": order.source_api,
    }


def order_from_dict(data: dict[str, Any]) -> AmazonOrder:
    """Rebuild an order from :func:`order_to_dict` output."""
    purchased = _time_in(data["purchased_at"])
    updated = _time_in(data["last_updated_at"])
    if purchased is None or updated is None:
        raise ValueError("an order needs purchased_at and last_updated_at")
    lines = (
        None
        if data.get("lines") is None
        else tuple(
            AmazonOrderLine(
                order_item_id=li["order_item_id"],
                seller_sku=li["seller_sku"],
                asin=li["asin"],
                title=li["title"],
                quantity_ordered=int(li["quantity_ordered"]),
                quantity_shipped=int(li["quantity_shipped"]),
                line_price=_money_in(li["line_price"]),
                item_tax=_money_in(li["item_tax"]),
                shipping_price=_money_in(li["shipping_price"]),
                shipping_tax=_money_in(li["shipping_tax"]),
                promotion_discount=_money_in(li["promotion_discount"]),
            )
            for li in data["lines"]
        )
    )
    ship_to = data.get("ship_to")
    return AmazonOrder(
        order_id=data["order_id"],
        marketplace_id=data["marketplace_id"],
        status=OrderStatus(data["status"]),
        fulfillment_channel=FulfillmentChannel(data["fulfillment_channel"]),
        purchased_at=purchased,
        last_updated_at=updated,
        order_total=_money_in(data.get("order_total")),
        lines=lines,
        seller_order_id=data.get("seller_order_id", ""),
        ship_service_level=data.get("ship_service_level", ""),
        earliest_ship_at=_time_in(data.get("earliest_ship_at")),
        latest_ship_at=_time_in(data.get("latest_ship_at")),
        is_prime=bool(data.get("is_prime")),
        is_business=bool(data.get("is_business")),
        ship_to=None if ship_to is None else ShipTo(*ship_to),
        source_api=data.get("source_api", "v0"),
    )
