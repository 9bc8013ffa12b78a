"""Where orders come from: one OrderSource interface, Orders v0 (default) and Orders 2026-01-01.

Orders v0's read operations are deprecated in the current models in favour of
Orders 2026-01-01 (searchOrders/getOrder). Both sit behind :class:`OrderSource`;
an account's ``orders_api`` picks one, v0 while Amazon serves it.

The parsers at the top are pure: SP-API JSON in, :class:`AmazonOrder` out, money
parsed from strings with Decimal into minor units, times in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Protocol

from hub.channels.amazon.account import ORDERS_API_2026
from hub.channels.amazon.client import SpApiClient
from hub.channels.amazon.errors import AmazonChannelError, UnknownMarketplace
from hub.channels.amazon.marketplaces import marketplace
from hub.channels.amazon.model import (
    AmazonOrder,
    AmazonOrderLine,
    FulfillmentChannel,
    OrderStatus,
    ShipTo,
)
from protocol.errors import MoneyError
from protocol.money import Money

STATUS_FROM_2026: Final = {
    "PENDING_AVAILABILITY": OrderStatus.PENDING_AVAILABILITY,
    "PENDING": OrderStatus.PENDING,
    "UNSHIPPED": OrderStatus.UNSHIPPED,
    "PARTIALLY_SHIPPED": OrderStatus.PARTIALLY_SHIPPED,
    "SHIPPED": OrderStatus.SHIPPED,
    "CANCELLED": OrderStatus.CANCELED,
    "UNFULFILLABLE": OrderStatus.UNFULFILLABLE,
}
CHANNEL_FROM_2026: Final = {
    "MERCHANT": FulfillmentChannel.MERCHANT,
    "AMAZON": FulfillmentChannel.AMAZON,
}
INCLUDED_DATA_2026: Final = ("FULFILLMENT", "PROCEEDS", "RECIPIENT", "PACKAGES")


class OrderParseError(AmazonChannelError, ValueError):
    """An order object that cannot be understood; it is set aside, the others go on."""


# --- pure parsing ----------------------------------------------------------------------------


def parse_amount(amount: object, currency: object) -> Money | None:
    """A decimal string amount in minor units; more decimals than the currency has are rounded."""
    if amount in (None, "") or not currency:
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise OrderParseError(f"not a decimal amount: {amount!r}") from None
    try:
        return Money.parse(value, str(currency))
    except MoneyError:
        try:
            return Money.from_decimal(value, str(currency))
        except MoneyError as err:
            raise OrderParseError(str(err)) from err


def _money_v0(obj: object) -> Money | None:
    if not isinstance(obj, dict):
        return None
    return parse_amount(obj.get("Amount"), obj.get("CurrencyCode"))


def _money_2026(obj: object) -> Money | None:
    if not isinstance(obj, dict):
        return None
    return parse_amount(obj.get("amount"), obj.get("currencyCode"))


def parse_instant(value: object) -> datetime:
    """An SP-API timestamp in UTC (``Z``, offsets and fractions accepted; naive means UTC)."""
    text = str(value or "").strip()
    if not text:
        raise OrderParseError("missing timestamp")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:  # Amazon's static sandbox sends epoch seconds such as "1.569521782042E9"
            return datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            raise OrderParseError(f"not an ISO 8601 timestamp: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _optional_instant(value: object) -> datetime | None:
    return parse_instant(value) if value else None


def _check_marketplace(marketplace_id: str) -> str:
    try:
        return marketplace(marketplace_id).marketplace_id
    except UnknownMarketplace as err:
        raise OrderParseError(str(err)) from err


def lines_from_v0(items: Iterable[dict[str, Any]]) -> tuple[AmazonOrderLine, ...]:
    """Orders v0 OrderItems; ItemPrice is the line's price (unit price x quantity)."""
    out = []
    for item in items:
        try:
            out.append(
                AmazonOrderLine(
                    order_item_id=str(item["OrderItemId"]),
                    seller_sku=str(item.get("SellerSKU") or ""),
                    asin=str(item["ASIN"]),
                    title=str(item.get("Title") or ""),
                    quantity_ordered=int(item["QuantityOrdered"]),
                    quantity_shipped=int(item.get("QuantityShipped") or 0),
                    line_price=_money_v0(item.get("ItemPrice")),
                    item_tax=_money_v0(item.get("ItemTax")),
                    shipping_price=_money_v0(item.get("ShippingPrice")),
                    shipping_tax=_money_v0(item.get("ShippingTax")),
                    promotion_discount=_money_v0(item.get("PromotionDiscount")),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise OrderParseError(f"order item cannot be read: {err}") from err
    return tuple(out)


def order_from_v0(
    raw: dict[str, Any], items: Iterable[dict[str, Any]] | None = None
) -> AmazonOrder:
    """An Orders v0 ``Order`` (and optionally its items) as an AmazonOrder."""
    try:
        address = raw.get("ShippingAddress")
        ship_to = None
        if isinstance(address, dict) and address.get("CountryCode"):
            ship_to = ShipTo(
                str(address.get("City") or ""),
                str(address.get("StateOrRegion") or ""),
                str(address.get("PostalCode") or ""),
                str(address["CountryCode"]),
            )
        return AmazonOrder(
            order_id=str(raw["AmazonOrderId"]),
            marketplace_id=_check_marketplace(str(raw["MarketplaceId"])),
            status=OrderStatus(raw["OrderStatus"]),
            fulfillment_channel=FulfillmentChannel(raw.get("FulfillmentChannel") or "MFN"),
            purchased_at=parse_instant(raw["PurchaseDate"]),
            last_updated_at=parse_instant(raw["LastUpdateDate"]),
            order_total=_money_v0(raw.get("OrderTotal")),
            lines=None if items is None else lines_from_v0(items),
            seller_order_id=str(raw.get("SellerOrderId") or ""),
            ship_service_level=str(raw.get("ShipServiceLevel") or ""),
            earliest_ship_at=_optional_instant(raw.get("EarliestShipDate")),
            latest_ship_at=_optional_instant(raw.get("LatestShipDate")),
            is_prime=bool(raw.get("IsPrime")),
            is_business=bool(raw.get("IsBusinessOrder")),
            ship_to=ship_to,
            source_api="v0",
        )
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, OrderParseError):
            raise
        raise OrderParseError(
            f"order {raw.get('AmazonOrderId')!r} cannot be read: {err!r}"
        ) from err


def _breakdown(proceeds: object, kind: str) -> Money | None:
    if not isinstance(proceeds, dict):
        return None
    for row in proceeds.get("breakdowns") or []:
        if isinstance(row, dict) and row.get("type") == kind:
            return _money_2026(row.get("subtotal"))
    return None


def _line_from_2026(item: dict[str, Any]) -> AmazonOrderLine:
    product = item.get("product") or {}
    quantity = int(item["quantityOrdered"])
    unit = _money_2026((product.get("price") or {}).get("unitPrice"))
    discount = _breakdown(item.get("proceeds"), "DISCOUNT")
    fulfillment = item.get("fulfillment") or {}
    return AmazonOrderLine(
        order_item_id=str(item["orderItemId"]),
        seller_sku=str(product.get("sellerSku") or ""),
        asin=str(product.get("asin") or ""),
        title=str(product.get("title") or ""),
        quantity_ordered=quantity,
        quantity_shipped=int(fulfillment.get("quantityFulfilled") or 0),
        line_price=None if unit is None else unit * quantity,
        item_tax=_breakdown(item.get("proceeds"), "TAX"),
        shipping_price=_breakdown(item.get("proceeds"), "SHIPPING"),
        promotion_discount=None if discount is None else -discount,
    )


def order_from_2026(raw: dict[str, Any]) -> AmazonOrder:
    """An Orders 2026-01-01 ``Order`` (fetched with FULFILLMENT included) as an AmazonOrder."""
    try:
        fulfillment = raw.get("fulfillment")
        if not isinstance(fulfillment, dict):
            raise OrderParseError(f"order {raw.get('orderId')!r} has no fulfillment data")
        channel = raw["salesChannel"]
        address = (raw.get("recipient") or {}).get("deliveryAddress") or {}
        ship_to = None
        if address.get("countryCode"):
            ship_to = ShipTo(
                str(address.get("city") or ""),
                str(address.get("stateOrRegion") or ""),
                str(address.get("postalCode") or ""),
                str(address["countryCode"]),
            )
        aliases = {a.get("aliasType"): a.get("aliasId") for a in raw.get("orderAliases") or []}
        window = fulfillment.get("shipByWindow") or {}
        programs = set(raw.get("programs") or [])
        return AmazonOrder(
            order_id=str(raw["orderId"]),
            marketplace_id=_check_marketplace(str(channel["marketplaceId"])),
            status=STATUS_FROM_2026[fulfillment["fulfillmentStatus"]],
            fulfillment_channel=CHANNEL_FROM_2026.get(
                str(fulfillment.get("fulfilledBy")), FulfillmentChannel.MERCHANT
            ),
            purchased_at=parse_instant(raw["createdTime"]),
            last_updated_at=parse_instant(raw["lastUpdatedTime"]),
            order_total=_money_2026((raw.get("proceeds") or {}).get("grandTotal")),
            lines=tuple(_line_from_2026(i) for i in raw.get("orderItems") or []),
            seller_order_id=str(aliases.get("SELLER_ORDER_ID") or ""),
            ship_service_level=str(fulfillment.get("fulfillmentServiceLevel") or ""),
            earliest_ship_at=_optional_instant(window.get("earliestDateTime")),
            latest_ship_at=_optional_instant(window.get("latestDateTime")),
            is_prime="PRIME" in programs,
            is_business="AMAZON_BUSINESS" in programs,
            ship_to=ship_to,
            source_api=ORDERS_API_2026,
        )
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, OrderParseError):
            raise
        raise OrderParseError(f"order {raw.get('orderId')!r} cannot be read: {err!r}") from err


# --- the interface and its two implementations -------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderWindow:
    """The LastUpdated range of an incremental import; ``before`` None lets Amazon choose it."""

    after: datetime
    before: datetime | None


@dataclass(frozen=True, slots=True)
class RejectedOrder:
    """An order object that could not be parsed, kept with the reason."""

    order_id: str
    reason: str
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders: parsed orders, rejected ones, the token of the next page."""

    orders: tuple[AmazonOrder, ...]
    rejected: tuple[RejectedOrder, ...]
    next_token: str | None
    window_end: datetime | None
    """The LastUpdatedBefore Amazon applied (echoed in the answer), when it said."""


class OrderSource(Protocol):
    """Reads orders of one seller account, whichever Orders API version is behind."""

    api_version: str

    def fetch_page(
        self, marketplace_id: str, window: OrderWindow, next_token: str | None, *, page_size: int
    ) -> OrderPage:
        """One page of orders updated in ``window`` (``next_token`` for the following pages)."""
        ...

    def with_lines(self, order: AmazonOrder) -> AmazonOrder:
        """The order with its items loaded (one more call for v0; already there for 2026)."""
        ...

    def get_order(self, order_id: str) -> AmazonOrder:
        """One order, with its items."""
        ...


def _parse_all(
    raws: Iterable[dict[str, Any]], parse: Any, id_key: str
) -> tuple[tuple[AmazonOrder, ...], tuple[RejectedOrder, ...]]:
    orders: list[AmazonOrder] = []
    rejected: list[RejectedOrder] = []
    for raw in raws:
        try:
            orders.append(parse(raw))
        except OrderParseError as err:
            rejected.append(RejectedOrder(str(raw.get(id_key, "?")), str(err), raw))
    return tuple(orders), tuple(rejected)


class OrdersV0Source:
    """Orders v0: getOrders pages by NextToken; items need getOrderItems per order."""

    api_version = "v0"

    def __init__(self, client: SpApiClient) -> None:
        self.client = client

    def fetch_page(
        self, marketplace_id: str, window: OrderWindow, next_token: str | None, *, page_size: int
    ) -> OrderPage:
        """One getOrders page (with a NextToken only the token and marketplaces are sent)."""
        payload = self.client.get_orders(
            [marketplace_id],
            last_updated_after=window.after,
            last_updated_before=window.before,
            max_results=page_size,
            next_token=next_token,
        )
        orders, rejected = _parse_all(payload.get("Orders") or [], order_from_v0, "AmazonOrderId")
        echoed = payload.get("LastUpdatedBefore")
        return OrderPage(
            orders,
            rejected,
            payload.get("NextToken") or None,
            parse_instant(echoed) if echoed else None,
        )

    def with_lines(self, order: AmazonOrder) -> AmazonOrder:
        """getOrderItems for the order."""
        return order.with_lines(lines_from_v0(self.client.get_order_items(order.order_id)))

    def get_order(self, order_id: str) -> AmazonOrder:
        """getOrder plus getOrderItems."""
        return order_from_v0(self.client.get_order(order_id), self.client.get_order_items(order_id))


class Orders2026Source:
    """Orders 2026-01-01: searchOrders with items inline; a token needs every parameter again."""

    api_version = ORDERS_API_2026

    def __init__(self, client: SpApiClient) -> None:
        self.client = client

    def fetch_page(
        self, marketplace_id: str, window: OrderWindow, next_token: str | None, *, page_size: int
    ) -> OrderPage:
        """One searchOrders page; the window is repeated with the token, as the API requires."""
        body = self.client.search_orders(
            [marketplace_id],
            last_updated_after=window.after,
            last_updated_before=window.before,
            included_data=INCLUDED_DATA_2026,
            max_results=page_size,
            pagination_token=next_token,
        )
        orders, rejected = _parse_all(body.get("orders") or [], order_from_2026, "orderId")
        echoed = body.get("lastUpdatedBefore")
        return OrderPage(
            orders,
            rejected,
            (body.get("pagination") or {}).get("nextToken") or None,
            parse_instant(echoed) if echoed else None,
        )

    def with_lines(self, order: AmazonOrder) -> AmazonOrder:
        """Items came with the order."""
        return order

    def get_order(self, order_id: str) -> AmazonOrder:
        """getOrder (2026-01-01)."""
        return order_from_2026(self.client.get_order_2026(order_id, INCLUDED_DATA_2026))


def order_source(client: SpApiClient) -> OrderSource:
    """The source the account is configured for (Orders v0 unless it says 2026-01-01)."""
    if client.account.orders_api == ORDERS_API_2026:
        return Orders2026Source(client)
    return OrdersV0Source(client)
