"""Reservation lifecycle and its stock deltas, out-of-order events, and the walk-in rule."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.ledger import StockPosition
from hub.domain.ledger import hand_over as ledger_hand_over
from hub.domain.ledger import release as ledger_release
from hub.domain.ledger import reserve as ledger_reserve
from hub.domain.reservations import (
    ReleaseReason,
    Reservation,
    ReservationError,
    ReservationState,
    StockDelta,
    Transition,
    accept,
    check_walk_in_sale,
    hand_over,
    pack,
    pick,
    release,
    reserve,
)
from hub.domain.routing import OrderLine

LINES = [("SKU-1", 2), ("SKU-2", 1)]


def reserved() -> Reservation:
    return reserve("A-1", "s-001", LINES).reservation


def test_reserve_holds_each_line() -> None:
    t = reserve("A-1", "s-001", LINES)
    assert t.reservation.state is ReservationState.RESERVED
    assert t.deltas == (
        StockDelta("s-001", "SKU-1", reserved=2),
        StockDelta("s-001", "SKU-2", reserved=1),
    )
    assert t.reservation.is_open


def test_reserve_merges_repeated_skus() -> None:
    t = reserve("A-1", "s-001", [("SKU-1", 1), ("SKU-1", 2)])
    assert t.reservation.lines == (OrderLine("SKU-1", 3),)


@pytest.mark.parametrize("lines", [[], [("SKU-1", 0)], [("SKU-1", -2)], [("", 1)]])
def test_reserve_refuses_bad_lines(lines: list[tuple[str, int]]) -> None:
    with pytest.raises(ReservationError):
        reserve("A-1", "s-001", lines)


def test_happy_path_to_hand_over_consumes_the_units() -> None:
    r = reserved()
    states = []
    for step in (accept, pick, pack):
        t = step(r)
        assert t.changed
        assert t.deltas == ()
        r = t.reservation
        states.append(r.state)
    assert states == [ReservationState.ACCEPTED, ReservationState.PICKED, ReservationState.PACKED]
    done = hand_over(r)
    assert done.reservation.state is ReservationState.HANDED_OVER
    assert done.deltas == (
        StockDelta("s-001", "SKU-1", on_hand=-2, reserved=-2),
        StockDelta("s-001", "SKU-2", on_hand=-1, reserved=-1),
    )
    assert not done.reservation.is_open
    assert done.warning is None
    assert not done.reroute


@pytest.mark.parametrize(
    ("reason", "reroute"),
    [
        (ReleaseReason.REJECTED, True),
        (ReleaseReason.CANCELLED, False),
        (ReleaseReason.TIMED_OUT, True),
        (ReleaseReason.STORE_OFFLINE, True),
    ],
)
def test_release_gives_the_units_back(reason: ReleaseReason, reroute: bool) -> None:
    t = release(reserved(), reason)
    assert t.reservation.state is ReservationState.RELEASED
    assert t.reservation.release_reason is reason
    assert t.deltas == (
        StockDelta("s-001", "SKU-1", reserved=-2),
        StockDelta("s-001", "SKU-2", reserved=-1),
    )
    assert t.reroute is reroute


@pytest.mark.parametrize("reason", [ReleaseReason.TIMED_OUT, ReleaseReason.STORE_OFFLINE])
def test_timeout_or_last_will_after_acceptance_changes_nothing(reason: ReleaseReason) -> None:
    accepted = accept(reserved()).reservation
    t = release(accepted, reason)
    assert not t.changed
    assert t.reservation.state is ReservationState.ACCEPTED
    assert t.deltas == ()
    assert not t.reroute


@pytest.mark.parametrize("step", [accept, pick, pack])
def test_reject_and_cancel_work_until_hand_over(step: object) -> None:
    r = step(reserved()).reservation  # type: ignore[operator]
    assert release(r, ReleaseReason.REJECTED).reroute
    assert release(r, ReleaseReason.CANCELLED).reservation.state is ReservationState.RELEASED


def test_events_out_of_order_are_monotonic() -> None:
    # picked arrives before accepted (the hub applies store events in any order).
    picked = pick(reserved())
    assert picked.reservation.state is ReservationState.PICKED
    late_accept = accept(picked.reservation)
    assert not late_accept.changed
    assert late_accept.reservation.state is ReservationState.PICKED


def test_duplicates_are_no_ops() -> None:
    r = reserved()
    a = accept(r).reservation
    assert accept(a) == Transition(a, changed=False)
    gone = release(a, ReleaseReason.REJECTED).reservation
    again = release(gone, ReleaseReason.REJECTED)
    assert not again.changed
    assert again.deltas == ()
    shipped = hand_over(reserved()).reservation
    assert hand_over(shipped).deltas == ()


def test_late_store_events_after_release_tell_the_store_to_stop() -> None:
    gone = release(reserved(), ReleaseReason.TIMED_OUT).reservation
    for step in (accept, pick, pack):
        t = step(gone)
        assert not t.changed
        assert t.cancel_at_store
        assert t.warning is not None
        assert "already released" in t.warning


def test_late_hand_over_still_moves_on_hand_and_flags_a_double_shipment() -> None:
    gone = release(reserved(), ReleaseReason.TIMED_OUT).reservation
    t = hand_over(gone)
    assert t.reservation.state is ReservationState.HANDED_OVER
    # The reservation was already released: only on-hand moves.
    assert t.deltas == (
        StockDelta("s-001", "SKU-1", on_hand=-2),
        StockDelta("s-001", "SKU-2", on_hand=-1),
    )
    assert t.cancel_reroute
    assert t.warning is not None
    assert "ships twice" in t.warning


def test_short_hand_over_consumes_what_shipped_and_releases_the_rest() -> None:
    t = hand_over(reserved(), [("SKU-1", 1)])
    assert t.deltas == (
        StockDelta("s-001", "SKU-1", on_hand=-1, reserved=-2),
        StockDelta("s-001", "SKU-2", on_hand=0, reserved=-1),
    )
    assert t.warning is not None
    assert "different lines" in t.warning


def test_release_after_hand_over_is_refused_softly() -> None:
    shipped = hand_over(reserved()).reservation
    t = release(shipped, ReleaseReason.CANCELLED)
    assert not t.changed
    assert t.deltas == ()
    assert t.warning is not None
    assert "already handed over" in t.warning


OPS = st.sampled_from(
    ["accept", "pick", "pack", "hand_over", "rejected", "cancelled", "timed_out", "store_offline"]
)


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(OPS, max_size=8))
def test_deltas_applied_to_the_ledger_keep_it_consistent(ops: list[str]) -> None:
    """Whatever arrives, in any order and repeated: reserved never goes below zero, it is
    back to zero once the reservation is closed, and on-hand moves once at most."""
    t = reserve("A-1", "s-001", [("SKU-1", 3)])
    position = StockPosition(last_count=10, count_key=0)
    totals: dict[str, int] = defaultdict(int)

    def apply(tr: Transition) -> None:
        nonlocal position
        for d in tr.deltas:
            totals["on_hand"] += d.on_hand
            totals["reserved"] += d.reserved
            # Apply through the hub ledger the way the adapter will.
            if d.reserved > 0:
                position = ledger_reserve(position, d.reserved).position
            elif d.on_hand < 0 and d.reserved < 0:
                position = ledger_hand_over(position, -d.on_hand, key=None).position
            elif d.reserved < 0:
                position = ledger_release(position, -d.reserved).position
            elif d.on_hand < 0:
                position = ledger_hand_over(position, -d.on_hand, key=None).position
        assert totals["reserved"] >= 0
        assert position.reserved == totals["reserved"]

    apply(t)
    r = t.reservation
    for op in ops:
        if op in ("accept", "pick", "pack", "hand_over"):
            tr = {"accept": accept, "pick": pick, "pack": pack, "hand_over": hand_over}[op](r)
        else:
            tr = release(r, ReleaseReason(op))
        apply(tr)
        r = tr.reservation
    assert totals["reserved"] == (3 if r.is_open else 0)
    assert totals["on_hand"] in (0, -3)
    assert (totals["on_hand"] == -3) == (r.state is ReservationState.HANDED_OVER)
    assert position.on_hand == 10 + totals["on_hand"]


# --------------------------------------------------------------------------- walk-in rule


def _res(
    order_id: str, qty: int, state: ReservationState = ReservationState.RESERVED
) -> Reservation:
    return Reservation(order_id, "s-001", (OrderLine("SKU-1", qty),), state)


def test_walk_in_sale_of_a_free_unit_is_quiet() -> None:
    check = check_walk_in_sale("SKU-1", 1, on_hand=3, reservations=[_res("A-1", 2)])
    assert check.allowed
    assert check.warning is None
    assert (check.on_hand_after, check.reserved, check.shortfall) == (2, 2, 0)
    assert check.reroute_order_ids == ()


def test_walk_in_sale_of_the_last_reserved_unit_warns_and_reroutes() -> None:
    check = check_walk_in_sale("SKU-1", 1, on_hand=1, reservations=[_res("A-1", 1)])
    assert check.allowed
    assert check.shortfall == 1
    assert check.reroute_order_ids == ("A-1",)
    assert check.warning == (
        "1 unit(s) of SKU-1 are reserved for online order(s) A-1; this sale leaves 0 on hand: "
        "order(s) A-1 will be sent to another location"
    )


def test_walk_in_reroutes_the_newest_unpicked_orders_first() -> None:
    reservations = [
        _res("A-1", 1, ReservationState.ACCEPTED),  # oldest
        _res("A-2", 1, ReservationState.PICKED),  # set aside, cannot be on the counter
        _res("A-3", 1),
        _res("A-4", 1),  # newest
    ]
    check = check_walk_in_sale("SKU-1", 2, on_hand=4, reservations=reservations)
    assert (check.reserved, check.on_hand_after, check.shortfall) == (4, 2, 2)
    assert check.reroute_order_ids == ("A-4", "A-3")


def test_walk_in_ignores_closed_reservations_and_other_skus() -> None:
    reservations = [
        _res("A-1", 1, ReservationState.HANDED_OVER),
        _res("A-2", 1, ReservationState.RELEASED),
        Reservation("A-3", "s-001", (OrderLine("SKU-9", 5),)),
    ]
    check = check_walk_in_sale("SKU-1", 1, on_hand=1, reservations=reservations)
    assert check.warning is None
    assert check.reserved == 0


def test_walk_in_when_only_picked_orders_hold_the_units() -> None:
    check = check_walk_in_sale(
        "SKU-1", 1, on_hand=1, reservations=[_res("A-1", 1, ReservationState.PICKED)]
    )
    assert check.allowed
    assert check.reroute_order_ids == ()
    assert check.warning is not None
    assert "count the shelf" in check.warning


def test_walk_in_quantity_must_be_positive() -> None:
    with pytest.raises(ReservationError):
        check_walk_in_sale("SKU-1", 0, on_hand=1, reservations=[])
