"""Pure stock arithmetic: deltas, counts out of order, reservations, sellable quantity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.ledger import (
    LocationStock,
    MovementKind,
    StockPosition,
    apply_count,
    apply_delta,
    hand_over,
    release,
    reserve,
    sellable_quantity,
)


def test_deltas_accumulate_on_top_of_the_last_count() -> None:
    pos = apply_count(StockPosition(), 10, key=1).position
    pos = apply_delta(pos, -3, kind=MovementKind.SALE, key=2).position
    pos = apply_delta(pos, 5, kind=MovementKind.RECEIVED, key=3).position
    assert (pos.last_count, pos.deltas_since_count, pos.on_hand) == (10, 2, 12)


def test_a_delta_older_than_the_count_is_recorded_stale_and_changes_nothing() -> None:
    pos = apply_count(StockPosition(), 10, key=5).position
    change = apply_delta(pos, -2, kind=MovementKind.SALE, key=4)
    assert change.stale
    assert change.delta == 0
    assert change.position.on_hand == 10


def test_a_count_arriving_after_younger_deltas_keeps_them_on_top() -> None:
    # Sales 6 and 7 were applied before the count taken at seq 5 arrived.
    pos = apply_delta(StockPosition(), -1, kind=MovementKind.SALE, key=6).position
    pos = apply_delta(pos, -1, kind=MovementKind.SALE, key=7).position
    change = apply_count(pos, 20, key=5, younger_deltas=-2)
    assert change.position.on_hand == 18
    assert change.delta == 18 - (-2)


def test_an_older_count_than_the_last_one_is_stale() -> None:
    pos = apply_count(StockPosition(), 7, key=10).position
    change = apply_count(pos, 99, key=9)
    assert change.stale
    assert change.position.on_hand == 7


def test_a_count_is_read_net_of_open_reservations() -> None:
    pos = reserve(apply_count(StockPosition(), 10, key=1).position, 3).position
    counted = apply_count(pos, 8, key=2).position
    assert counted.on_hand == 8
    assert counted.reserved == 3, "a count never replaces or releases a reservation"
    assert counted.available == 5


def test_hand_over_ships_and_releases() -> None:
    pos = reserve(apply_count(StockPosition(), 10, key=1).position, 2).position
    change = hand_over(pos, 2, key=2)
    assert (change.position.on_hand, change.position.reserved) == (8, 0)
    assert (change.delta, change.reserved_delta) == (-2, -2)


def test_release_never_goes_below_zero() -> None:
    change = release(reserve(StockPosition(), 1).position, 5)
    assert change.position.reserved == 0
    assert change.reserved_delta == -1


def test_count_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        apply_count(StockPosition(), -1, key=1)


@pytest.mark.parametrize(
    ("stocks", "kwargs", "expected"),
    [
        ([LocationStock("a", 10, 2, 1), LocationStock("b", 5, 0, 0)], {}, 12),
        ([LocationStock("a", 1, 3, 0), LocationStock("b", 5, 0, 0)], {}, 5),
        (
            [LocationStock("a", 10, 0, 0), LocationStock("b", 5, 0, 0)],
            {"allowed_locations": ["b"]},
            5,
        ),
        ([LocationStock("a", 10, 0, 0)], {"share_bp": 5000}, 5),
        ([LocationStock("a", 10, 0, 0)], {"share_bp": 5000, "buffer": 7}, 0),
        ([LocationStock("a", 9, 0, 0)], {"share_bp": 3333}, 2),
    ],
)
def test_sellable_quantity(stocks: list[LocationStock], kwargs: dict, expected: int) -> None:
    assert sellable_quantity(stocks, **kwargs) == expected


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 10)), max_size=6),
    st.integers(0, 10_000),
    st.integers(0, 20),
)
def test_sellable_is_never_negative_nor_above_the_free_stock(
    figures: list[tuple[int, int, int]], share: int, buffer: int
) -> None:
    stocks = [LocationStock(str(i), *f) for i, f in enumerate(figures)]
    free = sum(max(0, s.on_hand - s.reserved - s.safety_stock) for s in stocks)
    assert 0 <= sellable_quantity(stocks, share_bp=share, buffer=buffer) <= free


@given(
    st.integers(0, 100),
    st.lists(st.integers(-5, 5), min_size=1, max_size=20),
    st.randoms(use_true_random=False),
)
def test_order_of_arrival_does_not_change_the_result(counted: int, deltas: list[int], rnd) -> None:
    """GIVEN a count at seq 1 followed by deltas at seq 2.. WHEN applied in any order THEN
    the on-hand is the count plus every delta."""
    ops = [("count", 1, counted)] + [("delta", i + 2, d) for i, d in enumerate(deltas)]
    rnd.shuffle(ops)
    pos = StockPosition()
    applied: dict[int, int] = {}
    for op, key, value in ops:
        if op == "count":
            younger = sum(v for k, v in applied.items() if k > key)
            pos = apply_count(pos, value, key=key, younger_deltas=younger).position
        else:
            change = apply_delta(pos, value, kind=MovementKind.ADJUSTED, key=key)
            pos = change.position
            if not change.stale:
                applied[key] = value
    assert pos.on_hand == counted + sum(deltas)
