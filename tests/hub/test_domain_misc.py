"""Pure parts: business day, seq tracking and resend timing, catalog rows, event plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from hub.domain.business_day import UnknownTimeZone, business_day, day_bounds_utc
from hub.domain.catalog import CatalogRow, RowError, check_header, parse_row
from hub.domain.downlink import AckKey, DownKind, acks_for_event
from hub.domain.effects import OpKind, plan_event
from hub.domain.seqtrack import SeqState, advance, announce, resend_due

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "tz", "start", "expected"),
    [
        (datetime(2026, 11, 27, 23, 30, tzinfo=UTC), "Europe/Berlin", time(0), date(2026, 11, 28)),
        (datetime(2026, 11, 28, 2, 30, tzinfo=UTC), "Europe/Berlin", time(4), date(2026, 11, 27)),
        (
            datetime(2026, 11, 28, 2, 30, tzinfo=UTC),
            "America/New_York",
            time(0),
            date(2026, 11, 27),
        ),
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Europe/London", time(0), date(2026, 3, 29)),
    ],
)
def test_business_day(at: datetime, tz: str, start: time, expected: date) -> None:
    assert business_day(at, tz, day_start=start) == expected


def test_business_day_on_a_dst_day_is_23_hours() -> None:
    start, end = day_bounds_utc(date(2026, 3, 29), "Europe/Berlin")
    assert end - start == timedelta(hours=23)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(UnknownTimeZone):
        business_day(T0, "Mars/Olympus")


def test_contiguous_seq_advances_over_reordered_arrivals_and_stops_at_gaps() -> None:
    state = advance(SeqState(), [3, 1], now=T0)
    assert (state.contiguous, state.highest_seen, state.gap_since) == (1, 3, T0)
    state = advance(state, [2, 3], now=T0 + timedelta(seconds=5))
    assert (state.contiguous, state.has_gap, state.gap_since) == (3, False, None)


def test_resend_is_due_only_after_the_gap_stays_open() -> None:
    state = advance(SeqState(), [1, 2, 5], now=T0)
    after = timedelta(seconds=30)
    assert resend_due(state, now=T0 + timedelta(seconds=29), after=after) is None
    assert resend_due(state, now=T0 + timedelta(seconds=30), after=after) == 3
    asked = SeqState(
        state.contiguous, state.highest_seen, state.gap_since, T0 + timedelta(seconds=30)
    )
    assert resend_due(asked, now=T0 + timedelta(seconds=40), after=after) is None
    assert resend_due(asked, now=T0 + timedelta(seconds=60), after=after) == 3


def test_birth_last_seq_opens_a_gap_for_a_silent_tail() -> None:
    state = advance(SeqState(), [1, 2], now=T0)
    state = announce(state, 4, now=T0)
    assert state.has_gap
    assert state.highest_seen == 4
    assert announce(state, 3, now=T0) == state


def test_catalog_row_valid() -> None:
    row = parse_row(
        {
            "sku": "TEA-1",
            "name": "Green tea",
            "price": "3.50",
            "barcodes": "4006381333931; 96385074",
        },
        line=2,
        default_currency="EUR",
    )
    assert row == CatalogRow(
        sku="TEA-1",
        name="Green tea",
        price_minor=350,
        currency="EUR",
        price_list="default",
        barcodes=("04006381333931", "00000096385074"),
        tax_class="standard",
        cost_minor=None,
        active=True,
    )


def test_catalog_row_collects_every_reason() -> None:
    row = parse_row(
        {"sku": "bad sku!", "name": "", "price": "1.234", "barcodes": "123", "active": "maybe"},
        line=7,
        default_currency="EUR",
    )
    assert isinstance(row, RowError)
    assert row.line == 7
    assert len(row.reasons) == 5
    assert any("price" in r for r in row.reasons)


def test_catalog_header_needs_required_columns() -> None:
    with pytest.raises(ValueError, match="price"):
        check_header(["sku", "name"])


def test_acks_for_order_events() -> None:
    assert acks_for_event("order.rejected", {"order_id": "o1"}) == [
        AckKey(DownKind.ORDER_ROUTED, "o1"),
        AckKey(DownKind.ORDER_CANCELLED, "o1"),
    ]
    assert acks_for_event("stock.counted", {"sku": "A"}) == [AckKey(DownKind.CMD_STOCK_COUNT, "A")]
    assert acks_for_event("sale.voided", {}) == []


def test_plan_sale_and_return() -> None:
    sale = plan_event(
        "sale.completed",
        {
            "sale_id": "6f1c1c1e-9c1a-4f0e-8d52-2d1d2b6c1a01",
            "receipt_no": "R1",
            "cashier_id": "c7",
            "business_day": "2026-11-27",
            "currency": "EUR",
            "lines": [
                {"line_no": 1, "sku": "A", "qty": 2, "total_minor": 500, "tax_minor": 83},
                {"line_no": 2, "sku": "B", "qty": 1, "total_minor": 100, "tax_minor": 17},
            ],
        },
    )
    assert [(op.op, op.sku, op.qty) for op in sale.stock] == [
        (OpKind.DELTA, "A", -2),
        (OpKind.DELTA, "B", -1),
    ]
    assert [f.amount_minor for f in sale.facts] == [500, 100]
    assert sale.cashier_id == "c7"
    ret = plan_event(
        "return.completed",
        {
            "return_id": "6f1c1c1e-9c1a-4f0e-8d52-2d1d2b6c1a02",
            "receipt_no": "R2",
            "cashier_id": "c7",
            "business_day": "2026-11-27",
            "currency": "EUR",
            "lines": [
                {"sku": "A", "qty": 1, "refund_minor": 250, "restock": True},
                {"sku": "B", "qty": 1, "refund_minor": 100, "restock": False},
            ],
        },
    )
    assert [(op.sku, op.qty) for op in ret.stock] == [("A", 1)]
    assert [(f.qty, f.amount_minor) for f in ret.facts] == [(-1, -250), (-1, -100)]


@pytest.mark.parametrize(
    ("price", "currency", "minor"),
    [
        ("12.99", "EUR", 1299),
        ("12.9", "EUR", 1290),
        ("7", "EUR", 700),
        ("100", "JPY", 100),
        ("0.001", "BHD", 1),
        ("0.00", "EUR", 0),
    ],
)
def test_catalog_prices_to_minor_units(price: str, currency: str, minor: int) -> None:
    row = parse_row(
        {"sku": "A", "name": "A", "price": price, "currency": currency},
        line=2,
        default_currency="EUR",
    )
    assert isinstance(row, CatalogRow)
    assert row.price_minor == minor


@pytest.mark.parametrize("price", ["12.999", "1e3", "-1", "1,50", " "])
def test_catalog_prices_refused(price: str) -> None:
    assert isinstance(
        parse_row({"sku": "A", "name": "A", "price": price}, line=2, default_currency="EUR"),
        RowError,
    )
