"""Orders v0 and Orders 2026-01-01 emulation: queries, rendering, confirmShipment, scenarios."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from hub.channels.amazon.marketplaces import MARKETPLACES_BY_ID, Region
from hub.channels.amazon.sandbox.state import (
    Order,
    OrderItem,
    Package,
    PackageItem,
    SandboxApiError,
    SandboxState,
    Seller,
    invalid_input,
    iso,
    multi_values,
    not_found,
    parse_iso,
    single,
)

V0_STATUSES: Final = (
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
)
STATUS_2026: Final = {
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Pending": "PENDING",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "InvoiceUnconfirmed": "SHIPPED",
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
}
FULFILLED_BY: Final = {"MFN": "MERCHANT", "AFN": "AMAZON"}
INCLUDED_DATA_2026: Final = frozenset(
    {
        "BUYER",
        "RECIPIENT",
        "PROCEEDS",
        "EXPENSE",
        "PROMOTION",
        "CANCELLATION",
        "FULFILLMENT",
        "PACKAGES",
        "TAX",
        "PAYMENT",
        "FULFILLMENT_ORDERS",
    }
)
TWO_MINUTES: Final = timedelta(minutes=2)
_ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
_ORDER_PREFIX: Final = {Region.NA: 111, Region.EU: 302, Region.FE: 503}


# --- scenario: creating and changing orders ---------------------------------------------------


def create_order(state: SandboxState, seller: Seller, spec: dict[str, Any], now: datetime) -> Order:
    """Create an order from a scenario request; MFN orders take their units off the listing."""
    marketplace_id = spec.get("marketplace_id") or seller.marketplace_ids[0]
    mp = MARKETPLACES_BY_ID.get(marketplace_id)
    if mp is None or marketplace_id not in seller.marketplace_ids:
        raise invalid_input(f"seller {seller.seller_id} does not sell in {marketplace_id}")
    status = spec.get("status", "Unshipped")
    if status not in V0_STATUSES:
        raise invalid_input(f"unknown order status {status}")
    channel = spec.get("fulfillment_channel", "MFN")
    if channel not in FULFILLED_BY:
        raise invalid_input("fulfillment_channel must be MFN or AFN")
    number = state.next_number()
    order_id = spec.get("order_id") or (
        f"{_ORDER_PREFIX[mp.region] + number % 4}-{number:07d}-{(number * 7919) % 10_000_000:07d}"
    )
    if order_id in state.orders:
        raise invalid_input(f"order {order_id} exists already")
    stamp = now.replace(microsecond=0)  # SP-API dates carry whole seconds
    purchase = (
        parse_iso(spec["purchase_date"], "purchase_date") if spec.get("purchase_date") else stamp
    )
    updated = (
        parse_iso(spec["last_update_date"], "last_update_date")
        if spec.get("last_update_date")
        else purchase
    )
    visible_at = now + timedelta(seconds=float(spec.get("visible_after_s", 0)))
    items: list[OrderItem] = []
    for index, line in enumerate(
        spec.get("items") or [{"seller_sku": "SANDBOX-SKU", "quantity": 1}]
    ):
        sku = str(line["seller_sku"])
        listing = state.listings.get(f"{seller.seller_id}|{sku}")
        offer = listing.offers.get(marketplace_id) if listing else None
        price = str(line.get("unit_price") or (offer.price if offer else "10.00"))
        items.append(
            OrderItem(
                order_item_id=f"{number:07d}{index:07d}",
                seller_sku=sku,
                asin=str(line.get("asin") or (offer.asin if offer else "B000SANDBX")),
                title=str(line.get("title") or (listing.item_name if listing else sku)),
                quantity_ordered=int(line.get("quantity", 1)),
                unit_price=price,
                item_tax=str(line.get("item_tax", "0.00")),
                shipping_price=str(line.get("shipping_price", "0.00")),
                shipping_tax=str(line.get("shipping_tax", "0.00")),
                promotion_discount=str(line.get("promotion_discount", "0.00")),
            )
        )
        if channel == "MFN" and offer is not None and status not in ("Canceled",):
            offer.quantity = max(0, offer.quantity - items[-1].quantity_ordered)
            offer.written_quantity = max(0, offer.written_quantity - items[-1].quantity_ordered)
    ship_to = spec.get("ship_to") or {}
    order = Order(
        order_id=order_id,
        seller_id=seller.seller_id,
        marketplace_id=marketplace_id,
        status=status,
        fulfillment_channel=channel,
        purchase_date=purchase,
        last_update_date=updated,
        visible_at=visible_at,
        currency=mp.currency,
        items=items,
        seller_order_id=str(spec.get("seller_order_id", "")),
        ship_city=str(ship_to.get("city", "SEATTLE")),
        ship_state=str(ship_to.get("state", "WA")),
        ship_postal_code=str(ship_to.get("postal_code", "98121")),
        ship_country=str(ship_to.get("country", mp.country_code)),
        earliest_ship_date=purchase + timedelta(hours=2),
        latest_ship_date=purchase + timedelta(days=2),
        is_prime=bool(spec.get("is_prime", False)),
        is_business=bool(spec.get("is_business", False)),
    )
    state.orders[order_id] = order
    state.dirty = True
    return order


def set_status(
    state: SandboxState, order_id: str, status: str, now: datetime, at: datetime | None = None
) -> Order:
    """Move an order to another status (a scenario step: payment cleared, buyer cancelled).

    ``at`` backdates the update (LastUpdateDate), as Amazon stamps updates that become
    visible late; it never moves LastUpdateDate backwards.
    """
    order = state.orders.get(order_id)
    if order is None:
        raise not_found(f"order {order_id} not found")
    if status not in V0_STATUSES:
        raise invalid_input(f"unknown order status {status}")
    if status == "Canceled" and order.status in ("Shipped", "PartiallyShipped"):
        raise invalid_input(f"order {order_id} is {order.status} and cannot be cancelled")
    order.status = status
    stamp = (at or now).replace(microsecond=0)
    order.last_update_date = max(stamp, order.last_update_date)
    state.dirty = True
    return order


# --- rendering ------------------------------------------------------------------------------


def _money_v0(amount: Decimal, currency: str) -> dict[str, str]:
    places = 0 if currency == "JPY" else 2
    return {"CurrencyCode": currency, "Amount": f"{amount:.{places}f}"}


def _money_2026(amount: Decimal, currency: str) -> dict[str, str]:
    places = 0 if currency == "JPY" else 2
    return {"currencyCode": currency, "amount": f"{amount:.{places}f}"}


def _line_total(item: OrderItem) -> Decimal:
    return Decimal(item.unit_price) * item.quantity_ordered


def order_total(order: Order) -> Decimal:
    """What the buyer pays: item prices, shipping and taxes, less promotions."""
    return sum(
        (
            _line_total(i)
            + Decimal(i.item_tax)
            + Decimal(i.shipping_price)
            + Decimal(i.shipping_tax)
            - Decimal(i.promotion_discount)
            for i in order.items
        ),
        Decimal(0),
    )


def render_v0(order: Order) -> dict[str, Any]:
    """An Orders v0 ``Order``; ``OrderTotal`` is missing while the order is Pending."""
    shipped = sum(i.quantity_shipped for i in order.items)
    ordered = sum(i.quantity_ordered for i in order.items)
    mp = MARKETPLACES_BY_ID[order.marketplace_id]
    out: dict[str, Any] = {
        "AmazonOrderId": order.order_id,
        "PurchaseDate": iso(order.purchase_date),
        "LastUpdateDate": iso(order.last_update_date),
        "OrderStatus": order.status,
        "FulfillmentChannel": order.fulfillment_channel,
        "SalesChannel": mp.sales_channel,
        "ShipServiceLevel": order.ship_service_level,
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if order.status == "Canceled" else ordered - shipped,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": order.marketplace_id,
        "ShipmentServiceLevelCategory": order.ship_service_category,
        "OrderType": "StandardOrder",
        "IsReplacementOrder": False,
        "IsBusinessOrder": order.is_business,
        "IsPrime": order.is_prime,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "ShippingAddress": {
            "City": order.ship_city,
            "StateOrRegion": order.ship_state,
            "PostalCode": order.ship_postal_code,
            "CountryCode": order.ship_country,
        },
    }
    if order.seller_order_id:
        out["SellerOrderId"] = order.seller_order_id
    if order.earliest_ship_date and order.latest_ship_date:
        out["EarliestShipDate"] = iso(order.earliest_ship_date)
        out["LatestShipDate"] = iso(order.latest_ship_date)
    if order.status != "Pending":
        out["OrderTotal"] = _money_v0(order_total(order), order.currency)
    return out


def render_items_v0(order: Order) -> list[dict[str, Any]]:
    """Orders v0 ``OrderItem`` list; prices and taxes are missing while Pending."""
    out: list[dict[str, Any]] = []
    for item in order.items:
        row: dict[str, Any] = {
            "ASIN": item.asin,
            "SellerSKU": item.seller_sku,
            "OrderItemId": item.order_item_id,
            "Title": item.title,
            "QuantityOrdered": item.quantity_ordered,
            "QuantityShipped": item.quantity_shipped,
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": False,
            "SerialNumberRequired": False,
        }
        if order.status != "Pending":
            row["ItemPrice"] = _money_v0(_line_total(item), order.currency)
            row["ItemTax"] = _money_v0(Decimal(item.item_tax), order.currency)
            row["ShippingPrice"] = _money_v0(Decimal(item.shipping_price), order.currency)
            row["ShippingTax"] = _money_v0(Decimal(item.shipping_tax), order.currency)
            row["PromotionDiscount"] = _money_v0(Decimal(item.promotion_discount), order.currency)
        out.append(row)
    return out


def render_2026(order: Order, included: frozenset[str]) -> dict[str, Any]:
    """An Orders 2026-01-01 ``Order`` with the datasets named in ``includedData``."""
    mp = MARKETPLACES_BY_ID[order.marketplace_id]
    out: dict[str, Any] = {
        "orderId": order.order_id,
        "createdTime": iso(order.purchase_date),
        "lastUpdatedTime": iso(order.last_update_date),
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": order.marketplace_id,
            "marketplaceName": mp.sales_channel,
        },
    }
    if order.seller_order_id:
        out["orderAliases"] = [{"aliasId": order.seller_order_id, "aliasType": "SELLER_ORDER_ID"}]
    programs = [
        p for p, on in (("PRIME", order.is_prime), ("AMAZON_BUSINESS", order.is_business)) if on
    ]
    if programs:
        out["programs"] = programs
    if "FULFILLMENT" in included:
        fulfillment: dict[str, Any] = {
            "fulfillmentStatus": STATUS_2026[order.status],
            "fulfilledBy": FULFILLED_BY[order.fulfillment_channel],
            "fulfillmentServiceLevel": order.ship_service_category.upper(),
        }
        if order.earliest_ship_date and order.latest_ship_date:
            fulfillment["shipByWindow"] = {
                "earliestDateTime": iso(order.earliest_ship_date),
                "latestDateTime": iso(order.latest_ship_date),
            }
        out["fulfillment"] = fulfillment
    if "RECIPIENT" in included:
        out["recipient"] = {
            "deliveryAddress": {
                "city": order.ship_city,
                "stateOrRegion": order.ship_state,
                "postalCode": order.ship_postal_code,
                "countryCode": order.ship_country,
            }
        }
    priced = order.status != "Pending"
    if "PROCEEDS" in included and priced:
        out["proceeds"] = {"grandTotal": _money_2026(order_total(order), order.currency)}
    items: list[dict[str, Any]] = []
    for item in order.items:
        row: dict[str, Any] = {
            "orderItemId": item.order_item_id,
            "quantityOrdered": item.quantity_ordered,
            "product": {
                "asin": item.asin,
                "title": item.title,
                "sellerSku": item.seller_sku,
                "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            },
        }
        if priced:
            row["product"]["price"] = {
                "unitPrice": _money_2026(Decimal(item.unit_price), order.currency)
            }
        if "PROCEEDS" in included and priced:
            breakdowns = [
                ("ITEM", _line_total(item)),
                ("SHIPPING", Decimal(item.shipping_price)),
                ("TAX", Decimal(item.item_tax) + Decimal(item.shipping_tax)),
                ("DISCOUNT", -Decimal(item.promotion_discount)),
            ]
            row["proceeds"] = {
                "proceedsTotal": _money_2026(
                    sum((v for _, v in breakdowns), Decimal(0)), order.currency
                ),
                "breakdowns": [
                    {"type": kind, "subtotal": _money_2026(value, order.currency)}
                    for kind, value in breakdowns
                ],
            }
        if "FULFILLMENT" in included:
            row["fulfillment"] = {
                "quantityFulfilled": item.quantity_shipped,
                "quantityUnfulfilled": item.quantity_ordered - item.quantity_shipped,
            }
        items.append(row)
    out["orderItems"] = items
    if "PACKAGES" in included and order.packages:
        out["packages"] = [
            {
                "packageReferenceId": p.package_reference_id,
                "createdTime": iso(p.confirmed_at),
                "packageStatus": {"status": "SHIPPED"},
                "carrier": p.carrier_name or p.carrier_code,
                "shipTime": iso(p.ship_date),
                "shippingService": p.shipping_method,
                "trackingNumber": p.tracking_number,
                "packageItems": [
                    {"orderItemId": i.order_item_id, "quantity": i.quantity} for i in p.items
                ],
            }
            for p in order.packages
        ]
    return out


# --- queries --------------------------------------------------------------------------------


def _check_marketplaces(seller: Seller, ids: list[str], region: Region | None) -> None:
    if not ids:
        raise invalid_input("MarketplaceIds is required and cannot be empty.")
    if len(ids) > 50:
        raise invalid_input("MarketplaceIds accepts at most 50 values.")
    for mid in ids:
        mp = MARKETPLACES_BY_ID.get(mid)
        if mp is None:
            raise invalid_input(f"Invalid MarketplaceId: {mid}.")
        if region is not None and mp.region != region:
            raise invalid_input(
                f"MarketplaceId {mid} is not served by this endpoint ({region.value} region)."
            )
        if mid not in seller.marketplace_ids:
            raise SandboxApiError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                f"The seller does not participate in marketplace {mid}.",
            )


def _visible(state: SandboxState, seller: Seller, now: datetime) -> list[Order]:
    return [
        o for o in state.orders.values() if o.seller_id == seller.seller_id and o.visible_at <= now
    ]


def _window(
    params: dict[str, list[str]], now: datetime, names: tuple[str, str, str, str]
) -> tuple[str, datetime, datetime]:
    """Validate the After/Before pair: exactly one family, the two-minute rule. Returns
    (which key, after, before)."""
    created_after, created_before, updated_after, updated_before = (
        single(params, n) for n in names
    )
    if created_after and (updated_after or updated_before):
        raise invalid_input(f"{names[2]} and {names[3]} cannot be set when {names[0]} is set.")
    if updated_after and (created_after or created_before):
        raise invalid_input(f"{names[0]} and {names[1]} cannot be set when {names[2]} is set.")
    if not created_after and not updated_after:
        raise invalid_input(f"Either {names[0]} or {names[2]} is required.")
    key, after_name, before_name = (
        ("created", names[0], names[1]) if created_after else ("updated", names[2], names[3])
    )
    after = parse_iso(str(created_after or updated_after), after_name)
    before_raw = created_before if created_after else updated_before
    latest = now - TWO_MINUTES
    if before_raw:
        before = parse_iso(before_raw, before_name)
        if before < after:
            raise invalid_input(f"{before_name} must be equal to or after {after_name}.")
        if before > latest:
            raise invalid_input(
                f"{before_name} must be at least two minutes before the current time."
            )
    else:
        before = latest
    return key, after, before


def _page(
    orders: list[Order],
    key: str,
    after: datetime,
    before: datetime,
    cursor: list[str] | None,
    size: int,
) -> tuple[list[Order], bool]:
    def sort_key(o: Order) -> tuple[str, str]:
        return (iso(o.purchase_date if key == "created" else o.last_update_date), o.order_id)

    selected = sorted(
        (
            o
            for o in orders
            if after <= (o.purchase_date if key == "created" else o.last_update_date) <= before
        ),
        key=sort_key,
    )
    if cursor is not None:
        mark = (cursor[0], cursor[1])
        selected = [o for o in selected if sort_key(o) > mark]
    return selected[:size], len(selected) > size


def _page_size(value: str | None, name: str) -> int:
    if value is None:
        return 100
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise invalid_input(f"{name} must be between 1 and 100.")
    return int(value)


def get_orders(
    state: SandboxState,
    seller: Seller,
    params: dict[str, list[str]],
    now: datetime,
    region: Region | None,
) -> dict[str, Any]:
    """getOrders: validated window, filters, keyset pages behind a signed NextToken."""
    marketplaces = multi_values(params, "MarketplaceIds")
    _check_marketplaces(seller, marketplaces, region)
    size = _page_size(single(params, "MaxResultsPerPage"), "MaxResultsPerPage")
    token = single(params, "NextToken")
    if token:
        data = state.decode_token(token, now)
        if data.get("seller") != seller.seller_id or data.get("api") != "v0":
            raise invalid_input("We could not decode your NextToken.")
        if single(params, "MaxResultsPerPage") is None:
            size = int(data.get("size", size))
        key, after, before = (
            data["key"],
            parse_iso(data["after"], "NextToken"),
            parse_iso(data["before"], "NextToken"),
        )
        statuses, channels, ids, marketplaces = (
            data["statuses"],
            data["channels"],
            data["ids"],
            data["marketplaces"],
        )
        cursor: list[str] | None = data["cursor"]
    else:
        key, after, before = _window(
            params, now, ("CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore")
        )
        statuses = multi_values(params, "OrderStatuses")
        channels = multi_values(params, "FulfillmentChannels")
        ids = multi_values(params, "AmazonOrderIds")
        for s in statuses:
            if s not in V0_STATUSES:
                raise invalid_input(f"Invalid OrderStatuses value: {s}.")
        for c in channels:
            if c not in FULFILLED_BY:
                raise invalid_input(f"Invalid FulfillmentChannels value: {c}.")
        if len(ids) > 50:
            raise invalid_input("AmazonOrderIds accepts at most 50 values.")
        cursor = None
    candidates = [
        o
        for o in _visible(state, seller, now)
        if o.marketplace_id in marketplaces
        and (not statuses or o.status in statuses)
        and (not channels or o.fulfillment_channel in channels)
        and (not ids or o.order_id in ids)
    ]
    page, more = _page(candidates, key, after, before, cursor, size)
    payload: dict[str, Any] = {"Orders": [render_v0(o) for o in page]}
    if more:
        last = page[-1]
        payload["NextToken"] = state.encode_token(
            {
                "api": "v0",
                "seller": seller.seller_id,
                "key": key,
                "after": iso(after),
                "before": iso(before),
                "statuses": statuses,
                "channels": channels,
                "ids": ids,
                "marketplaces": marketplaces,
                "issued": iso(now),
                "size": size,
                "cursor": [
                    iso(last.purchase_date if key == "created" else last.last_update_date),
                    last.order_id,
                ],
            }
        )
    payload["CreatedBefore" if key == "created" else "LastUpdatedBefore"] = iso(before)
    return {"payload": payload}


def find_order(state: SandboxState, seller: Seller, order_id: str, now: datetime) -> Order:
    """The seller's visible order ``order_id``; 400 for a malformed id, 404 when unknown."""
    if not _ORDER_ID.match(order_id):
        raise invalid_input(f"Invalid orderId: {order_id}. Expected the 3-7-7 format.")
    order = state.orders.get(order_id)
    if order is None or order.seller_id != seller.seller_id or order.visible_at > now:
        raise not_found(f"Order {order_id} was not found.")
    return order


def search_orders(
    state: SandboxState,
    seller: Seller,
    params: dict[str, list[str]],
    now: datetime,
    region: Region | None,
) -> dict[str, Any]:
    """searchOrders (2026-01-01): the same data, camelCase, ``paginationToken``."""
    included = frozenset(multi_values(params, "includedData"))
    unknown = included - INCLUDED_DATA_2026
    if unknown:
        raise invalid_input(f"Invalid includedData value: {sorted(unknown)[0]}.")
    size = _page_size(single(params, "maxResultsPerPage"), "maxResultsPerPage")
    filters = {
        name: sorted(multi_values(params, name))
        for name in (
            "createdAfter",
            "createdBefore",
            "lastUpdatedAfter",
            "lastUpdatedBefore",
            "fulfillmentStatuses",
            "marketplaceIds",
            "fulfilledBy",
        )
    }
    signature = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
    marketplaces = multi_values(params, "marketplaceIds") or list(seller.marketplace_ids)
    _check_marketplaces(seller, marketplaces, region)
    token = single(params, "paginationToken")
    if token:
        data = state.decode_token(token, now)
        if data.get("seller") != seller.seller_id or data.get("api") != "2026":
            raise invalid_input("The paginationToken is not valid.")
        if data.get("filters") != signature:
            raise invalid_input(
                "All parameters except maxResultsPerPage and includedData must match the "
                "request that returned the paginationToken."
            )
        key, after, before = (
            data["key"],
            parse_iso(data["after"], "paginationToken"),
            parse_iso(data["before"], "paginationToken"),
        )
        cursor: list[str] | None = data["cursor"]
    else:
        key, after, before = _window(
            params, now, ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")
        )
        cursor = None
    statuses = multi_values(params, "fulfillmentStatuses")
    by = multi_values(params, "fulfilledBy")
    for s in statuses:
        if s not in STATUS_2026.values():
            raise invalid_input(f"Invalid fulfillmentStatuses value: {s}.")
    for b in by:
        if b not in FULFILLED_BY.values():
            raise invalid_input(f"Invalid fulfilledBy value: {b}.")
    candidates = [
        o
        for o in _visible(state, seller, now)
        if o.marketplace_id in marketplaces
        and (not statuses or STATUS_2026[o.status] in statuses)
        and (not by or FULFILLED_BY[o.fulfillment_channel] in by)
    ]
    page, more = _page(candidates, key, after, before, cursor, size)
    out: dict[str, Any] = {"orders": [render_2026(o, included) for o in page]}
    if more:
        last = page[-1]
        out["pagination"] = {
            "nextToken": state.encode_token(
                {
                    "api": "2026",
                    "seller": seller.seller_id,
                    "key": key,
                    "after": iso(after),
                    "before": iso(before),
                    "filters": signature,
                    "issued": iso(now),
                    "cursor": [
                        iso(last.purchase_date if key == "created" else last.last_update_date),
                        last.order_id,
                    ],
                }
            )
        }
    out["createdBefore" if key == "created" else "lastUpdatedBefore"] = iso(before)
    return out


def get_order_2026(
    state: SandboxState, seller: Seller, order_id: str, params: dict[str, list[str]], now: datetime
) -> dict[str, Any]:
    """getOrder (2026-01-01)."""
    included = frozenset(multi_values(params, "includedData"))
    unknown = included - INCLUDED_DATA_2026
    if unknown:
        raise invalid_input(f"Invalid includedData value: {sorted(unknown)[0]}.")
    return {"order": render_2026(find_order(state, seller, order_id, now), included)}


# --- confirmShipment ------------------------------------------------------------------------


def _require(obj: dict[str, Any], name: str, where: str) -> Any:
    value = obj.get(name)
    if value in (None, "", []):
        raise invalid_input(f"{where}.{name} is required.")
    return value


def confirm_shipment(
    state: SandboxState, seller: Seller, order_id: str, body: Any, now: datetime
) -> None:
    """confirmShipment: validate the package, record it, move the order to (Partially)Shipped."""
    order = find_order(state, seller, order_id, now)
    if not isinstance(body, dict):
        raise invalid_input("The request body must be a ConfirmShipmentRequest object.")
    marketplace_id = _require(body, "marketplaceId", "body")
    package = _require(body, "packageDetail", "body")
    if not isinstance(package, dict):
        raise invalid_input("packageDetail must be an object.")
    ref = str(_require(package, "packageReferenceId", "packageDetail"))
    carrier_code = str(_require(package, "carrierCode", "packageDetail"))
    tracking = str(_require(package, "trackingNumber", "packageDetail"))
    ship_date = parse_iso(str(_require(package, "shipDate", "packageDetail")), "shipDate")
    lines = _require(package, "orderItems", "packageDetail")
    if not ref.isdigit() or int(ref) < 1:
        raise invalid_input("packageReferenceId must be a positive number.")
    if carrier_code == "Other" and not package.get("carrierName"):
        raise invalid_input("carrierName is required when carrierCode is Other.")
    if marketplace_id != order.marketplace_id:
        raise invalid_input(
            f"marketplaceId {marketplace_id} does not match the order's marketplace."
        )
    if order.fulfillment_channel != "MFN":
        raise invalid_input("Only merchant-fulfilled orders can be confirmed.")
    items: list[PackageItem] = []
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            raise invalid_input("orderItems must be objects.")
        qty = line.get("quantity")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
            raise invalid_input("orderItems.quantity must be a positive integer.")
        items.append(PackageItem(str(_require(line, "orderItemId", "orderItems")), qty))
    if not items:
        raise invalid_input("packageDetail.orderItems is required.")
    existing = next((p for p in order.packages if p.package_reference_id == ref), None)
    if existing is not None:
        same = existing.tracking_number == tracking and [
            (i.order_item_id, i.quantity) for i in existing.items
        ] == [(i.order_item_id, i.quantity) for i in items]
        if same:
            return  # an identical confirmation repeated: accepted again, nothing changes
        raise invalid_input(f"packageReferenceId {ref} was already confirmed with other contents.")
    if order.status == "Canceled":
        raise invalid_input(f"Order {order_id} is canceled.")
    if order.status not in ("Unshipped", "PartiallyShipped"):
        raise invalid_input(f"Order {order_id} cannot be confirmed in status {order.status}.")
    by_id = {i.order_item_id: i for i in order.items}
    wanted: dict[str, int] = {}
    for line in items:
        if line.order_item_id not in by_id:
            raise invalid_input(
                f"orderItemId {line.order_item_id} is not part of order {order_id}."
            )
        wanted[line.order_item_id] = wanted.get(line.order_item_id, 0) + line.quantity
    for item_id, qty in wanted.items():
        item = by_id[item_id]
        if item.quantity_shipped + qty > item.quantity_ordered:
            raise invalid_input(f"orderItemId {item_id}: quantity exceeds the unshipped quantity.")
    for item_id, qty in wanted.items():
        by_id[item_id].quantity_shipped += qty
    order.packages.append(
        Package(
            package_reference_id=ref,
            carrier_code=carrier_code,
            carrier_name=str(package.get("carrierName") or ""),
            shipping_method=str(package.get("shippingMethod") or ""),
            tracking_number=tracking,
            ship_date=ship_date,
            items=items,
            confirmed_at=now,
        )
    )
    done = all(i.quantity_shipped >= i.quantity_ordered for i in order.items)
    order.status = "Shipped" if done else "PartiallyShipped"
    order.last_update_date = max(now.replace(microsecond=0), order.last_update_date)
    state.dirty = True
