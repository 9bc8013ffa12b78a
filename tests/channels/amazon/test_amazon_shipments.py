"""Shipment confirmation: request building, retries until Amazon accepts, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest

from hub.channels.amazon.client import RetryPolicy
from hub.channels.amazon.sandbox import spec as model_spec
from hub.channels.amazon.shipments import (
    ConfirmOutcome,
    ShipmentConfirmation,
    ShipmentConfirmer,
    ShipmentError,
    ShippedItem,
    build_confirm_request,
    next_attempt_at,
)
from tests.channels.amazon.conftest import ClientFactory, Scenario

US = "ATVPDKIKX0DER"
T0 = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)


def confirmation(
    order_id: str, lines: list[tuple[str, int]], **overrides: Any
) -> ShipmentConfirmation:
    base: dict[str, Any] = {
        "order_id": order_id,
        "marketplace_id": US,
        "package_reference_id": "1",
        "carrier_code": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "ship_date": T0,
        "items": tuple(ShippedItem(i, q) for i, q in lines),
        "shipping_method": "Ground",
    }
    return ShipmentConfirmation(**{**base, **overrides})


def test_request_body_follows_the_model() -> None:
    body = build_confirm_request(confirmation("111-0000001-0000001", [("7903976527", 2)]))
    assert body == {
        "marketplaceId": US,
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-11-27T15:30:00Z",
            "shippingMethod": "Ground",
            "orderItems": [{"orderItemId": "7903976527", "quantity": 2}],
        },
    }
    schema = model_spec.definitions_schema("ordersV0.json", "ConfirmShipmentRequest")
    jsonschema.Draft4Validator(schema).validate(body)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"carrier_code": "Other"}, "carrier name"),
        ({"package_reference_id": "0"}, "packageReferenceId"),
        ({"tracking_number": ""}, "tracking number"),
        ({"items": ()}, "at least one item"),
        ({"ship_date": datetime(2026, 11, 27)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_incomplete_confirmations_are_refused_before_sending(
    overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ShipmentError, match=fragment):
        build_confirm_request(confirmation("111-0000001-0000001", [("1", 1)], **overrides))


def test_retry_schedule_grows_then_stays() -> None:
    assert [next_attempt_at(n, T0) - T0 for n in (1, 2, 3, 4, 9)] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


def _items(client: Any, order_id: str) -> list[tuple[str, int]]:
    return [(i["OrderItemId"], i["QuantityOrdered"]) for i in client.get_order_items(order_id)]


def test_confirmation_is_retried_through_server_errors_until_accepted(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    order = scenario.add_orders(seller["seller_id"], items=[{"seller_sku": "A", "quantity": 2}])[0][
        "AmazonOrderId"
    ]
    client = make_client(seller)
    scenario.fault(
        kind="error", operation="ordersV0/confirmShipment", seller_id=seller["seller_id"], count=2
    )
    result = ShipmentConfirmer(client).confirm(confirmation(order, _items(client, order)), now=T0)
    assert result.outcome is ConfirmOutcome.CONFIRMED
    assert result.request_id
    shipped = scenario.call("GET", f"/sellers/{seller['seller_id']}/shipments")["shipments"]
    assert [(s["order_id"], s["tracking_number"], s["order_status"]) for s in shipped] == [
        (order, "1Z999AA10123456784", "Shipped")
    ]
    assert client.get_order(order)["OrderStatus"] == "Shipped"
    # the same package confirmed again (a retry after a lost answer) is accepted
    again = ShipmentConfirmer(client).confirm(confirmation(order, _items(client, order)), now=T0)
    assert again.outcome is ConfirmOutcome.CONFIRMED


def test_a_confirmation_that_keeps_failing_is_rescheduled(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    order = scenario.add_orders(seller["seller_id"])[0]["AmazonOrderId"]
    client = make_client(seller, retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
    items = _items(client, order)
    scenario.fault(
        kind="error",
        operation="ordersV0/confirmShipment",
        seller_id=seller["seller_id"],
        count=2,
        status=503,
    )
    result = ShipmentConfirmer(client).confirm(
        confirmation(order, items), now=T0, attempts_before=1
    )
    assert result.outcome is ConfirmOutcome.RETRY
    assert result.retry_at == T0 + timedelta(minutes=5)
    assert (
        ShipmentConfirmer(client).confirm(confirmation(order, items), now=T0).outcome
        is ConfirmOutcome.CONFIRMED
    )


def test_amazon_refusals_are_rejected_not_retried(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    order = scenario.add_orders(seller["seller_id"])[0]["AmazonOrderId"]
    client = make_client(seller)
    wrong_item = ShipmentConfirmer(client).confirm(
        confirmation(order, [("99999999999999", 1)]), now=T0
    )
    assert wrong_item.outcome is ConfirmOutcome.REJECTED
    assert "not part of order" in wrong_item.message
    scenario.call("POST", f"/orders/{order}/cancel")
    cancelled = ShipmentConfirmer(client).confirm(
        confirmation(order, _items(client, order)), now=T0
    )
    assert cancelled.outcome is ConfirmOutcome.REJECTED
    assert "canceled" in cancelled.message
