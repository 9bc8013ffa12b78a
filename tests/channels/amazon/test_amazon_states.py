"""The routing state an imported order gets (pure table test)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.channels.amazon.model import AmazonOrder, FulfillmentChannel, OrderStatus
from hub.channels.amazon.states import RoutingState, needs_routing, routing_state_after_import

T = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
S = OrderStatus
R = RoutingState


def order(
    status: OrderStatus, channel: FulfillmentChannel = FulfillmentChannel.MERCHANT
) -> AmazonOrder:
    return AmazonOrder("111-1", "ATVPDKIKX0DER", status, channel, T, T)


@pytest.mark.parametrize(
    ("current", "status", "expected"),
    [
        (None, S.PENDING, R.NEW),
        (None, S.UNSHIPPED, R.TO_ROUTE),
        (None, S.PARTIALLY_SHIPPED, R.TO_ROUTE),
        (R.NEW, S.UNSHIPPED, R.TO_ROUTE),
        (R.NEW, S.PENDING, R.NEW),
        (None, S.CANCELED, R.CANCELLED),
        (R.ROUTED, S.CANCELED, R.CANCELLED),
        (R.HANDED_OVER, S.CANCELED, R.CANCELLED),
        (R.CONFIRMED, S.CANCELED, R.CONFIRMED),
        # states routing and the confirmation own are never moved by an import
        (R.TO_ROUTE, S.UNSHIPPED, R.TO_ROUTE),
        (R.ROUTED, S.UNSHIPPED, R.ROUTED),
        (R.MANUAL_REVIEW, S.UNSHIPPED, R.MANUAL_REVIEW),
        (R.UNROUTABLE, S.UNSHIPPED, R.UNROUTABLE),
        (R.HANDED_OVER, S.SHIPPED, R.HANDED_OVER),
        (R.CONFIRMED, S.SHIPPED, R.CONFIRMED),
    ],
)
def test_merchant_orders(
    current: RoutingState | None, status: OrderStatus, expected: RoutingState
) -> None:
    assert routing_state_after_import(current, order(status)) is expected


@pytest.mark.parametrize("status", list(OrderStatus))
def test_fba_orders_are_recorded_only(status: OrderStatus) -> None:
    state = routing_state_after_import(None, order(status, FulfillmentChannel.AMAZON))
    assert state is R.FBA_RECORDED
    assert not needs_routing(state)


def test_only_to_route_needs_routing() -> None:
    assert [s for s in RoutingState if needs_routing(s)] == [R.TO_ROUTE]
