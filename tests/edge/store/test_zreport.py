"""Z reports across midnight and DST changes, with the clock frozen (freezegun).

Sales are rung through the store layer at chosen instants; the business day
stamped on each sale decides the day's Z report, and a shift's Z report covers
everything rung in the shift whichever day it fell on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from edge_agent.domain.tax import StoreTaxPolicy, TaxRate
from edge_agent.store.facade import EdgeStore, open_store
from edge_agent.store.models import Stock
from tests.edge.store.helpers import cart_of, cash, seed_catalog

LONDON = ZoneInfo("Europe/London")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def _store(tmp_path: Path, tz: ZoneInfo, policy: StoreTaxPolicy) -> EdgeStore:
    store = open_store(tmp_path / "edge.db", "s-001", policy=policy, tz=tz)
    seed_catalog(store)
    Stock.update(on_hand=100).execute()
    return store


def _ring(store: EdgeStore, at_local: datetime, shift_id: str | None) -> str:
    with freeze_time(at_local.astimezone(UTC)):
        cart = cart_of(store, ("SOAP", 1))
        result = store.sales.complete(
            cart, cashier_id="c1", tenders=[cash(store, 10_000)], shift_id=shift_id
        )
    return result.completed.receipt_no


GBP_VAT = StoreTaxPolicy(
    currency="GBP",
    prices_include_tax=True,
    rates={"standard": TaxRate.from_bp(2000), "zero": TaxRate(0)},
)
USD_SALES_TAX = StoreTaxPolicy(
    currency="USD",
    prices_include_tax=False,
    rates={"standard": TaxRate.from_percent("9.5"), "zero": TaxRate(0)},
)


def test_london_autumn_change_repeated_hour_stays_in_one_day(tmp_path: Path) -> None:
    """GIVEN a London till on the night BST ends (25 Oct 2026, 01:00-02:00 happens twice)
    WHEN sales are rung before midnight, after it, and in both passes of 01:30
    THEN the 24 Oct report has the first, the 25 Oct report the other three, and the
    shift's report (opened on the 24th) has all four."""
    store = _store(tmp_path, LONDON, GBP_VAT)
    with freeze_time(datetime(2026, 10, 24, 21, 0, tzinfo=UTC)):  # 22:00 BST
        shift = store.shifts.open("c1", 5000)
    before_midnight = datetime(2026, 10, 24, 23, 30, tzinfo=LONDON)
    first_pass = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON, fold=0)  # BST
    second_pass = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON, fold=1)  # GMT
    assert second_pass.astimezone(UTC) - first_pass.astimezone(UTC) == timedelta(hours=1)
    late = datetime(2026, 10, 25, 23, 59, tzinfo=LONDON)
    receipts = [
        _ring(store, t, shift.shift_id) for t in (before_midnight, first_pass, second_pass, late)
    ]

    day1 = store.shifts.z_report_for_day(date(2026, 10, 24))
    day2 = store.shifts.z_report_for_day(date(2026, 10, 25))
    assert (day1.sales_count, day2.sales_count) == (1, 3)
    assert day2.period_end_utc - day2.period_start_utc == timedelta(hours=25)
    assert day2.sales_total.amount_minor == 3 * 350
    assert day2.sales_tax.amount_minor == 3 * 58  # 20 % VAT inside 3.50 is 0.58
    assert [s.receipt_no for s in store.sales.sales_of_day(date(2026, 10, 25))] == receipts[1:]

    with freeze_time(datetime(2026, 10, 26, 0, 30, tzinfo=UTC)):
        closure = store.shifts.close(shift.shift_id, counted_cash_minor=5000 + 4 * 350)
    assert closure.report.sales_count == 4
    assert closure.report.business_day == date(2026, 10, 24)
    assert closure.over_short.amount_minor == 0
    store.close()


def test_los_angeles_spring_change_short_day(tmp_path: Path) -> None:
    """GIVEN a Los Angeles till on 8 Mar 2026 (02:00 PST jumps to 03:00 PDT)
    WHEN sales are rung at 23:30 on the 7th, 01:30 and 03:30 on the 8th
    THEN the 8 Mar day is 23 hours long and holds the last two sales, with sales tax added."""
    store = _store(tmp_path, LOS_ANGELES, USD_SALES_TAX)
    with freeze_time(datetime(2026, 3, 8, 5, 0, tzinfo=UTC)):  # 21:00 PST on the 7th
        shift = store.shifts.open("c1", 10_000)
    times = [
        datetime(2026, 3, 7, 23, 30, tzinfo=LOS_ANGELES),
        datetime(2026, 3, 8, 1, 30, tzinfo=LOS_ANGELES),
        datetime(2026, 3, 8, 3, 30, tzinfo=LOS_ANGELES),
    ]
    for t in times:
        _ring(store, t, shift.shift_id)
    day7 = store.shifts.z_report_for_day(date(2026, 3, 7))
    day8 = store.shifts.z_report_for_day(date(2026, 3, 8))
    assert (day7.sales_count, day8.sales_count) == (1, 2)
    assert day8.period_end_utc - day8.period_start_utc == timedelta(hours=23)
    # 3.50 net + 9.5 % = 0.3325 -> 0.33 tax per sale; exclusive pricing adds it.
    assert day8.sales_net.amount_minor == 700
    assert day8.sales_tax.amount_minor == 66
    assert day8.sales_total.amount_minor == 766
    with freeze_time(datetime(2026, 3, 8, 12, 0, tzinfo=UTC)):
        closure = store.shifts.close(shift.shift_id, counted_cash_minor=10_000 + 3 * 383)
    assert closure.report.sales_count == 3
    assert closure.over_short.amount_minor == 0
    store.close()


@pytest.mark.parametrize(
    ("policy", "price_minor", "total_minor", "tax_minor"),
    [
        (GBP_VAT, 350, 350, 58),
        (USD_SALES_TAX, 350, 383, 33),
        (
            StoreTaxPolicy(
                currency="EUR", prices_include_tax=True, rates={"standard": TaxRate.from_bp(1900)}
            ),
            350,
            350,
            56,
        ),
        (
            StoreTaxPolicy(
                currency="JPY", prices_include_tax=True, rates={"standard": TaxRate.from_bp(1000)}
            ),
            350,
            350,
            32,
        ),
    ],
)
def test_sale_event_carries_the_currencys_minor_units(
    tmp_path: Path, policy: StoreTaxPolicy, price_minor: int, total_minor: int, tax_minor: int
) -> None:
    store = open_store(tmp_path / "edge.db", "s-001", policy=policy)
    store.catalog.upsert("SOAP", "Soap", price_minor, "standard")
    cart = cart_of(store, ("SOAP", 1))
    sale = store.sales.complete(cart, cashier_id="c1", tenders=[cash(store, 1000)]).completed
    record = store.sales.get(sale.sale_id)
    assert record is not None
    assert record.body["currency"] == policy.currency
    assert (record.body["total_minor"], record.body["tax_minor"]) == (total_minor, tax_minor)
    assert record.change_minor == 1000 - total_minor
    store.close()
