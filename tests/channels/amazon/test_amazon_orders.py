"""Order parsing (both API versions, Amazon's own examples), OrderSources, local dates and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from hub.channels.amazon.importer import ImportPolicy, plan_window
from hub.channels.amazon.marketplaces import (
    marketplace,
    marketplace_day,
    marketplace_day_bounds_utc,
    to_marketplace_local,
)
from hub.channels.amazon.model import (
    AmazonOrder,
    FulfillmentChannel,
    ImportOutcome,
    OrderStatus,
    merge_order,
    order_from_dict,
    order_to_dict,
)
from hub.channels.amazon.orders import (
    OrderParseError,
    Orders2026Source,
    OrdersV0Source,
    OrderWindow,
    order_from_2026,
    order_from_v0,
    order_source,
    parse_amount,
    parse_instant,
)
from hub.channels.amazon.sandbox import spec as model_spec
from protocol.money import Money
from tests.channels.amazon.conftest import FREEZE_IGNORE, ClientFactory, Scenario, ago

US = "ATVPDKIKX0DER"
JP = "A1VC38T7YXB528"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("11.01", "USD", Money(1101, "USD")),
        ("1500", "JPY", Money(1500, "JPY")),
        ("0.10", "EUR", Money(10, "EUR")),
        ("-3.5", "GBP", Money(-350, "GBP")),
        ("10.005", "USD", Money(1001, "USD")),  # more places than USD has: rounded half-up
        (None, "USD", None),
        ("1.00", None, None),
    ],
)
def test_money_is_parsed_from_strings_into_minor_units(
    amount: Any, currency: Any, expected: Money | None
) -> None:
    assert parse_amount(amount, currency) == expected


@pytest.mark.parametrize("bad", [("abc", "USD"), ("1.00", "XXX")])
def test_bad_money_is_a_parse_error(bad: tuple[str, str]) -> None:
    with pytest.raises(OrderParseError):
        parse_amount(*bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T11:00:00+01:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T10:00:00.123Z", datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-27T10:00:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("1.569521782042E9", datetime.fromtimestamp(1569521782.042, UTC)),
    ],
)
def test_instants_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


def _examples(api: str, operation_id: str) -> list[Any]:
    op = model_spec.operations(api)[operation_id]
    return [c["response"] for c in op["responses"]["200"]["x-amzn-api-sandbox"]["static"]]


def test_amazons_own_v0_examples_parse() -> None:
    orders = [o for page in _examples("ordersV0", "getOrders") for o in page["payload"]["Orders"]]
    items = _examples("ordersV0", "getOrderItems")[0]["payload"]["OrderItems"]
    parsed = [order_from_v0(o) for o in orders]
    assert parsed[0].order_id == "902-1845936-5435065"
    assert parsed[0].order_total == Money(1101, "USD")
    assert parsed[0].fulfillment_channel is FulfillmentChannel.MERCHANT
    with_items = order_from_v0(orders[0], items)
    assert with_items.lines is not None
    assert with_items.lines[0].line_price == Money(1000, "USD")
    assert with_items.lines[0].item_tax == Money(101, "USD")


def test_amazons_own_2026_examples_parse() -> None:
    orders = [o for page in _examples("orders2026", "searchOrders") for o in page["orders"]]
    parsed = [order_from_2026(o) for o in orders]
    assert {p.marketplace_id for p in parsed} >= {JP}
    for order in parsed:
        assert order.lines
        assert order.purchased_at.tzinfo is UTC
    jp = next(p for p in parsed if p.marketplace_id == JP)
    assert jp.order_total is not None
    assert jp.order_total.currency == "JPY"


def test_a_2026_order_without_fulfillment_data_is_refused() -> None:
    raw = {
        "orderId": "1",
        "createdTime": "2026-01-01T00:00:00Z",
        "lastUpdatedTime": "2026-01-01T00:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": US},
        "orderItems": [],
    }
    with pytest.raises(OrderParseError, match="fulfillment"):
        order_from_2026(raw)


def test_both_sources_read_the_same_orders(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    sid = seller["seller_id"]
    scenario.add_orders(
        sid,
        purchase_date=ago(minutes=30),
        items=[
            {"seller_sku": "A", "quantity": 2, "unit_price": "4.25", "item_tax": "0.70"},
            {"seller_sku": "B", "quantity": 1, "unit_price": "10.00", "shipping_price": "3.99"},
        ],
    )
    scenario.add_orders(
        sid, purchase_date=ago(minutes=25), fulfillment_channel="AFN", status="Shipped"
    )
    window = OrderWindow(
        datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) - timedelta(minutes=3)
    )
    v0 = order_source(make_client(seller))
    new = order_source(make_client(seller, orders_api="2026-01-01"))
    assert isinstance(v0, OrdersV0Source)
    assert isinstance(new, Orders2026Source)
    page_v0 = v0.fetch_page(US, window, None, page_size=10)
    page_2026 = new.fetch_page(US, window, None, page_size=10)
    assert page_v0.next_token is None
    assert page_v0.window_end == page_2026.window_end
    by_id = {o.order_id: o for o in page_2026.orders}
    for order in page_v0.orders:
        assert order.lines is None  # v0: items need a call per order
        full = v0.with_lines(order)
        other = by_id[order.order_id]
        for field in (
            "status",
            "fulfillment_channel",
            "purchased_at",
            "last_updated_at",
            "order_total",
            "marketplace_id",
        ):
            assert getattr(full, field) == getattr(other, field), field
        assert full.lines is not None
        assert other.lines is not None
        assert [(li.seller_sku, li.quantity_ordered, li.line_price) for li in full.lines] == [
            (li.seller_sku, li.quantity_ordered, li.line_price) for li in other.lines
        ]
    mfn = next(o for o in page_2026.orders if o.is_merchant_fulfilled)
    assert mfn.order_total == Money(2319, "USD")  # 2 x 4.25 + 0.70 + 10.00 + 3.99
    assert v0.get_order(mfn.order_id) == v0.with_lines(
        next(o for o in page_v0.orders if o.order_id == mfn.order_id)
    )
    assert new.get_order(mfn.order_id).order_id == mfn.order_id


def _order(**overrides: Any) -> AmazonOrder:
    base: dict[str, Any] = {
        "order_id": "111-0000001-0000001",
        "marketplace_id": US,
        "status": OrderStatus.PENDING,
        "fulfillment_channel": FulfillmentChannel.MERCHANT,
        "purchased_at": datetime(2026, 3, 8, 9, 30, tzinfo=UTC),
        "last_updated_at": datetime(2026, 3, 8, 9, 30, tzinfo=UTC),
    }
    return AmazonOrder(**{**base, **overrides})


def test_merge_keeps_the_newest_copy_and_the_items() -> None:
    first = order_from_v0(
        {
            "AmazonOrderId": "111-0000001-0000001",
            "MarketplaceId": US,
            "OrderStatus": "Pending",
            "PurchaseDate": "2026-03-08T09:30:00Z",
            "LastUpdateDate": "2026-03-08T09:30:00Z",
        },
        [{"OrderItemId": "1", "ASIN": "B000000001", "QuantityOrdered": 1}],
    )
    assert merge_order(None, first).outcome is ImportOutcome.CREATED
    assert merge_order(first, first).outcome is ImportOutcome.UNCHANGED
    newer = _order(
        status=OrderStatus.UNSHIPPED, last_updated_at=datetime(2026, 3, 8, 10, tzinfo=UTC)
    )
    merged = merge_order(first, newer)
    assert merged.outcome is ImportOutcome.UPDATED
    assert merged.previous_status is OrderStatus.PENDING
    assert merged.order.lines == first.lines  # the page copy had no items
    assert merge_order(merged.order, first).outcome is ImportOutcome.STALE
    assert order_from_dict(order_to_dict(merged.order)) == merged.order


# --- marketplace-local dates and DST ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "day", "hours"),
    [
        ("US", date(2026, 3, 8), 23),  # America/Los_Angeles springs forward
        ("US", date(2026, 11, 1), 25),  # and falls back
        ("DE", date(2026, 3, 29), 23),
        ("UK", date(2026, 10, 25), 25),
        ("JP", date(2026, 3, 8), 24),  # no DST in Japan
    ],
)
def test_local_days_last_23_or_25_hours_on_dst_changes(code: str, day: date, hours: int) -> None:
    start, end = marketplace_day_bounds_utc(day, marketplace(code).marketplace_id)
    assert end - start == timedelta(hours=hours)
    assert to_marketplace_local(start, marketplace(code).marketplace_id).hour == 0


def test_a_repeated_local_hour_is_told_apart_by_utc() -> None:
    # 01:56 happens twice in Los Angeles on 2026-11-01; stored UTC instants differ by an hour
    first = to_marketplace_local(datetime(2026, 11, 1, 8, 56, tzinfo=UTC), US)
    second = to_marketplace_local(datetime(2026, 11, 1, 9, 56, tzinfo=UTC), US)
    assert (first.hour, first.minute, first.utcoffset()) == (1, 56, timedelta(hours=-7))
    assert (second.hour, second.minute, second.utcoffset()) == (1, 56, timedelta(hours=-8))


@freeze_time("2026-03-08T07:30:00Z", ignore=FREEZE_IGNORE)
def test_orders_report_their_marketplace_local_day_and_time() -> None:
    now = datetime.now(UTC)
    us = _order(purchased_at=now)
    jp = _order(marketplace_id=JP, purchased_at=now)
    assert us.purchase_day == date(2026, 3, 7)  # 23:30 PST, the evening before
    assert us.local(now).utcoffset() == timedelta(hours=-8)
    assert jp.purchase_day == date(2026, 3, 8)  # 16:30 JST
    assert marketplace_day(now, US) == date(2026, 3, 7)
    later = now + timedelta(hours=3)  # 03:30 PDT: the clocks went forward at 02:00
    assert us.local(later).utcoffset() == timedelta(hours=-7)
    assert us.local(later).hour == 3


@freeze_time("2026-11-01T08:59:00Z", ignore=FREEZE_IGNORE)
def test_import_window_is_computed_in_utc_across_the_fall_back_hour() -> None:
    window = plan_window(None, datetime.now(UTC), ImportPolicy())
    assert window is not None
    assert window.before == datetime(2026, 11, 1, 8, 56, tzinfo=UTC)
    local = to_marketplace_local(window.before, US)
    assert (local.hour, local.minute, local.utcoffset()) == (1, 56, timedelta(hours=-7))
    start, end = marketplace_day_bounds_utc(marketplace_day(datetime.now(UTC), US), US)
    assert start <= datetime.now(UTC) < end
    assert end - start == timedelta(hours=25)
