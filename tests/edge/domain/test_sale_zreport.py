"""Shifts and Z reports: totals, cash reconciliation, local midnight and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from edge_sale_kit import UK, US_NYC, cart, item, m, paid_in_cash
from freezegun import freeze_time

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.business_day import business_day, utc_now
from edge_agent.domain.discount import AmountDiscount, PercentDiscount
from edge_agent.domain.errors import CurrencyMismatch, ShiftError
from edge_agent.domain.returns import (
    BlindReturnLine,
    CompletedReturn,
    Disposition,
    ReturnRequestLine,
    blind_return,
    return_against_sale,
)
from edge_agent.domain.sale import Cart, CompletedSale, VoidRecord
from edge_agent.domain.shift import close_shift, open_shift
from edge_agent.domain.tax import StoreTaxPolicy
from edge_agent.domain.tender import Tender, TenderKind
from edge_agent.domain.zreport import build_z_report, z_report_for_business_day

LONDON = ZoneInfo("Europe/London")
LA = ZoneInfo("America/Los_Angeles")
MANAGER = ManagerApproval("m-7")
OPENED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
DAY = date(2026, 11, 27)


def _at(minutes: int) -> datetime:
    return OPENED + timedelta(minutes=minutes)


def _shift_records() -> tuple[list[CompletedSale], list[CompletedReturn], list[VoidRecord]]:
    """One shift (sh-1) of a UK store, plus one sale of another shift."""

    def sale(c: Cart, n: int, tenders: list[Tender], shift: str = "sh-1") -> CompletedSale:
        return paid_in_cash(
            c, receipt_no=f"R-{n}", at_utc=_at(n), business_day=DAY, shift_id=shift, tenders=tenders
        )

    s1 = sale(cart().add(item("A", "12.30")), 1, [Tender.cash(m("20.00"))])
    s2 = sale(cart().add(item("B", "25.00")), 2, [Tender.card(m("25.00"), "AUTH1")])
    s3 = sale(
        cart()
        .add(item("C", "10.00", "reduced"), qty=2)
        .discount_cart(PercentDiscount(1000, "staff")),
        3,
        [Tender.cash(m("8.00")), Tender.card(m("10.00"), "AUTH2")],
    )
    s4 = sale(
        cart()
        .add(item("D", "9.99", "zero"))
        .override_price(1, m("5.00"), MANAGER, "label")
        .discount_line(1, AmountDiscount(m("1.00"), "damaged")),
        4,
        [Tender.cash(m("4.00"))],
    )
    other = sale(cart().add(item("Z", "99.00")), 5, [Tender.cash(m("99.00"))], shift="sh-2")
    void = (
        cart()
        .add(item("E", "3.00"))
        .void(
            reason="walked out", cashier_id="c-1", now_utc=_at(6), business_day=DAY, shift_id="sh-1"
        )
    )
    r1 = return_against_sale(
        s2,
        [ReturnRequestLine(1, 1)],
        prior_returns=[],
        refund_tenders=[Tender.cash(m("25.00"))],
        return_id=uuid4(),
        receipt_no="RT-1",
        cashier_id="c-1",
        now_utc=_at(7),
        business_day=DAY,
        shift_id="sh-1",
    )
    r2 = blind_return(
        UK,
        [BlindReturnLine("F", "F", 1, m("6.00"), "standard", disposition=Disposition.WRITE_OFF)],
        approval=MANAGER,
        reason="no receipt",
        refund_tenders=[Tender.card(m("6.00"), "REF1")],
        return_id=uuid4(),
        receipt_no="RT-2",
        cashier_id="c-1",
        now_utc=_at(8),
        business_day=DAY,
        shift_id="sh-1",
    )
    return [s1, s2, s3, s4, other], [r1, r2], [void]


def test_shift_close_z_report_figures() -> None:
    sales, returns, voids = _shift_records()
    shift = open_shift(
        shift_id="sh-1",
        cashier_id="c-1",
        opening_float=m("100.00"),
        now_utc=OPENED,
        business_day=DAY,
    )
    closure = close_shift(
        shift, counted_cash=m("99.00"), now_utc=_at(480), sales=sales, returns=returns, voids=voids
    )
    z = closure.report
    assert (z.shift_id, z.business_day, z.period_start_utc, z.period_end_utc) == (
        "sh-1",
        DAY,
        OPENED,
        _at(480),
    )
    assert (z.sales_count, z.items_sold, z.price_overrides_count) == (4, 5, 1)
    assert z.gross_sales == m("62.30")  # 12.30 + 25.00 + 20.00 + 5.00 (overridden price)
    assert z.discounts == m("3.00")
    assert [(r.reason, r.count, r.amount) for r in z.discounts_by_reason] == [
        ("damaged", 1, m("1.00")),
        ("staff", 1, m("2.00")),
    ]
    assert (z.sales_total, z.sales_tax, z.sales_net) == (m("59.30"), m("7.08"), m("52.22"))
    assert (z.returns_count, z.blind_returns_count) == (2, 1)
    assert (z.items_returned, z.items_restocked, z.items_written_off) == (2, 1, 1)
    assert (z.returns_total, z.returns_tax) == (m("31.00"), m("5.17"))
    assert (z.voids_count, z.voids_total) == (1, m("3.00"))
    assert z.net_total == m("28.30")
    assert z.tax_total == m("1.91")
    assert [
        (r.rate.percent_text(), r.net.format(), r.tax.format(), r.gross.format())
        for r in z.tax_by_rate
    ] == [
        ("20%", "5.25", "1.05", "6.30"),
        ("5%", "17.14", "0.86", "18.00"),
        ("0%", "4.00", "0.00", "4.00"),
    ]
    cash, card = z.tenders[TenderKind.CASH], z.tenders[TenderKind.CARD]
    assert (cash.sales_count, cash.taken, cash.refunded, cash.net) == (
        3,
        m("24.30"),
        m("25.00"),
        m("-0.70"),
    )
    assert (card.sales_count, card.taken, card.refunded, card.net) == (
        2,
        m("35.00"),
        m("6.00"),
        m("29.00"),
    )
    assert z.tenders_net_minor() == {"cash": -70, "card": 2900, "other": 0}
    assert z.change_given == m("7.70")
    # Expected cash = float 100.00 + cash taken 24.30 - cash refunded 25.00.
    assert closure.expected_cash == z.expected_cash == m("99.30")
    assert closure.over_short == z.over_short == m("-0.30")
    assert z.counted_cash == m("99.00")


def test_shift_refusals() -> None:
    with pytest.raises(ShiftError, match="opening float cannot be negative"):
        open_shift(
            shift_id="s", cashier_id="c", opening_float=m("-1.00"), now_utc=OPENED, business_day=DAY
        )
    shift = open_shift(
        shift_id="s", cashier_id="c", opening_float=m("50.00"), now_utc=OPENED, business_day=DAY
    )
    with pytest.raises(ShiftError, match="before it opened"):
        close_shift(shift, counted_cash=m("50.00"), now_utc=_at(-1), sales=[], returns=[], voids=[])
    with pytest.raises(CurrencyMismatch):
        close_shift(
            shift, counted_cash=m("50.00", "EUR"), now_utc=_at(1), sales=[], returns=[], voids=[]
        )
    empty = close_shift(
        shift, counted_cash=m("50.00"), now_utc=_at(1), sales=[], returns=[], voids=[]
    )
    assert (empty.report.sales_count, empty.over_short) == (0, m("0.00"))


def test_a_business_day_report_has_no_drawer_and_refuses_mixed_currencies() -> None:
    sales, returns, voids = _shift_records()
    z = z_report_for_business_day(
        DAY, tz=LONDON, currency="GBP", sales=sales, returns=returns, voids=voids
    )
    assert z.sales_count == 5  # both shifts
    assert (z.opening_float, z.expected_cash, z.over_short) == (None, None, None)
    usd_sale = paid_in_cash(cart(US_NYC).add(item("U", "1.00", currency="USD")))
    with pytest.raises(CurrencyMismatch):
        build_z_report("GBP", sales=[*sales, usd_sale], returns=[], voids=[])


def _ring(policy: StoreTaxPolicy, tz: ZoneInfo, at: str, price: str) -> CompletedSale:
    """Ring a sale the way the shell does: read the clock once, stamp the business day."""
    with freeze_time(at):
        now = utc_now()
        return paid_in_cash(
            cart(policy).add(item("X", price, currency=policy.currency)),
            receipt_no=at,
            at_utc=now,
            business_day=business_day(now, tz),
        )


DST_DAYS = [
    pytest.param(
        LONDON,
        date(2026, 3, 29),
        "2026-03-28T23:59:59Z",  # 23:59:59 GMT, the day before
        ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T22:59:59Z"],
        "2026-03-29T23:00:00Z",  # 00:00 BST, the day after
        23,
        id="london-spring-forward",
    ),
    pytest.param(
        LONDON,
        date(2026, 10, 25),
        "2026-10-24T22:59:59Z",
        [
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-25T23:59:59Z",
        ],
        "2026-10-26T00:00:00Z",
        25,
        id="london-fall-back-both-01:30s",
    ),
    pytest.param(
        LA,
        date(2026, 3, 8),
        "2026-03-08T07:59:59Z",
        [
            "2026-03-08T08:00:00Z",
            "2026-03-08T09:59:59Z",
            "2026-03-08T10:00:00Z",
            "2026-03-09T06:59:59Z",
        ],
        "2026-03-09T07:00:00Z",
        23,
        id="los-angeles-spring-forward",
    ),
    pytest.param(
        LA,
        date(2026, 11, 1),
        "2026-11-01T06:59:59Z",
        [
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:30:00Z",
            "2026-11-01T09:30:00Z",
            "2026-11-02T07:59:59Z",
        ],
        "2026-11-02T08:00:00Z",
        25,
        id="los-angeles-fall-back-both-01:30s",
    ),
]


@pytest.mark.parametrize(("tz", "day", "before", "inside", "after", "hours"), DST_DAYS)
def test_z_report_across_midnight_and_dst(
    tz: ZoneInfo, day: date, before: str, inside: list[str], after: str, hours: int
) -> None:
    policy = UK if tz is LONDON else US_NYC
    price = "1.00"
    sales = [_ring(policy, tz, at, price) for at in [before, *inside, after]]
    z = z_report_for_business_day(
        day, tz=tz, currency=policy.currency, sales=sales, returns=[], voids=[]
    )
    assert z.sales_count == len(inside)
    assert z.gross_sales == m(price, policy.currency) * len(inside)
    assert z.period_start_utc is not None
    assert z.period_end_utc is not None
    assert z.period_end_utc - z.period_start_utc == timedelta(hours=hours)
    included = {s.receipt_no for s in sales if s.business_day == day}
    assert included == set(inside)
    for s in sales:
        assert s.completed_at.tzinfo is UTC
    day_before = z_report_for_business_day(
        day - timedelta(days=1), tz=tz, currency=policy.currency, sales=sales, returns=[], voids=[]
    )
    day_after = z_report_for_business_day(
        day + timedelta(days=1), tz=tz, currency=policy.currency, sales=sales, returns=[], voids=[]
    )
    assert (day_before.sales_count, day_after.sales_count) == (1, 1)


def test_a_shift_across_local_midnight_keeps_all_its_sales() -> None:
    # Los Angeles: the shift opens 22:00 PST on 2026-11-27 and closes 02:00 on the 28th.
    with freeze_time("2026-11-28T06:00:00Z"):
        opened = utc_now()
        shift = open_shift(
            shift_id="late",
            cashier_id="c-1",
            opening_float=m("200.00", "USD"),
            now_utc=opened,
            business_day=business_day(opened, LA),
        )
    sales = []
    for at in ("2026-11-28T07:59:00Z", "2026-11-28T08:01:00Z"):  # 23:59 and 00:01 local
        with freeze_time(at):
            now = utc_now()
            c = cart(US_NYC).add(item("X", "10.00", currency="USD"))
            sales.append(
                paid_in_cash(
                    c,
                    receipt_no=at,
                    at_utc=now,
                    business_day=business_day(now, LA),
                    shift_id="late",
                )
            )
    assert [s.business_day for s in sales] == [date(2026, 11, 27), date(2026, 11, 28)]
    with freeze_time("2026-11-28T10:00:00Z"):
        closure = close_shift(
            shift,
            counted_cash=m("221.78", "USD"),
            now_utc=utc_now(),
            sales=sales,
            returns=[],
            voids=[],
        )
    assert shift.business_day == date(2026, 11, 27)
    assert closure.report.sales_count == 2
    assert closure.report.sales_total == m("21.78", "USD")  # 2 x (10.00 + 0.89)
    assert closure.over_short == m("0.00", "USD")
    first_day = z_report_for_business_day(
        date(2026, 11, 27), tz=LA, currency="USD", sales=sales, returns=[], voids=[]
    )
    assert first_day.sales_count == 1
