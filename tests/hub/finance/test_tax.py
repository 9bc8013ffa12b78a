"""Tax by rate: inclusive (JP 10 % / 8 %, VAT) and exclusive (US sales tax), with returns.

Pure tests of the formulas and the rate inference, then the report from real till sales
applied by the hub (SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from hub.finance import queries
from hub.finance.tax import (
    nearest_rate,
    rate_text,
    return_tax_lines,
    sale_tax_lines,
    split_exclusive,
    split_inclusive,
    summarise_tax,
)
from tests.hub.finance.till_kit import BH, DAY, JP, US_NYC, Till, create_store

PERIOD = queries.Period(DAY, DAY)


@pytest.mark.parametrize(
    ("gross", "rate_ppm", "net", "tax"),
    [
        (1100, 100_000, 1000, 100),  # JPY 1,100 at 10 %: no minor unit
        (1080, 80_000, 1000, 80),  # JPY 1,080 at the reduced 8 %
        (1199, 190_000, 1008, 191),  # EUR 11.99 at 19 %: 191.4 -> 1.91
        (1050, 100_000, 955, 95),  # BHD 1.050 at 10 %: 95.45 fils -> 95
        (0, 200_000, 0, 0),
        (-1200, 200_000, -1000, -200),  # a refund splits like a sale
    ],
)
def test_split_inclusive(gross: int, rate_ppm: int, net: int, tax: int) -> None:
    assert split_inclusive(gross, rate_ppm) == (net, tax)


@pytest.mark.parametrize(
    ("net", "rate_ppm", "tax", "gross"),
    [
        (1000, 88_750, 89, 1089),  # USD 10.00 at NYC's 8.875 %: 88.75 cents -> 89
        (400, 88_750, 36, 436),  # 35.5 -> 36 (half up)
        (999, 0, 0, 999),  # exempt
    ],
)
def test_split_exclusive(net: int, rate_ppm: int, tax: int, gross: int) -> None:
    assert split_exclusive(net, rate_ppm) == (tax, gross)


@given(gross=st.integers(-(10**9), 10**9), rate=st.integers(0, 999_999))
def test_inclusive_split_adds_up(gross: int, rate: int) -> None:
    net, tax = split_inclusive(gross, rate)
    assert net + tax == gross
    assert abs(tax * 1_000_000 - net * rate) <= 1_000_000 + rate  # within one minor unit


def test_rate_text_and_nearest_rate() -> None:
    assert [rate_text(r) for r in (100_000, 80_000, 88_750, 0, None)] == [
        "10%",
        "8%",
        "8.875%",
        "0%",
        "unknown",
    ]
    # JPY 540 refunded with 40 tax: 40/500 = 8 %, not 10 %.
    assert nearest_rate(500, 40, [100_000, 80_000]) == 80_000
    assert nearest_rate(1000, 100, [100_000, 80_000]) == 100_000
    assert nearest_rate(1000, 100, []) is None


def test_a_return_without_its_sale_gets_the_nearest_store_rate() -> None:
    body = {
        "currency": "JPY",
        "lines": [
            {"sku": "RICE", "qty": 1, "refund_minor": 540, "tax_minor": 40, "restock": True},
            {"sku": "SAKE", "qty": 1, "refund_minor": 1100, "tax_minor": 100, "restock": True},
            {"sku": "OLD", "qty": 1, "refund_minor": 300, "restock": True},
        ],
    }
    lines = return_tax_lines(
        "s-jp", body, inclusive=True, original_rates=None, known_rates=[100_000, 80_000]
    )
    assert [(x.rate_ppm, x.gross_minor, x.tax_minor) for x in lines] == [
        (80_000, -540, -40),
        (100_000, -1100, -100),
        (None, -300, 0),  # the till sent no tax for it: rate unknown, not guessed
    ]


def test_jp_sales_and_returns_by_rate_pure() -> None:
    """GIVEN a JP till (inclusive, 10 % and 8 % reduced) WHEN it sells and takes one back
    THEN each rate has its own net, tax and gross, and the return comes off its rate."""
    till = Till("s-jp", JP)
    sale = till.sell([(till.item("SAKE", "1100"), 2), (till.item("RICE", "540", "reduced"), 3)])
    ret = till.give_back(sale, 2, 1)
    sale_body, return_body = till.pending[0][1], till.pending[1][1]
    lines = sale_tax_lines("s-jp", sale_body) + return_tax_lines(
        "s-jp",
        return_body,
        inclusive=True,
        original_rates={"SAKE": 100_000, "RICE": 80_000},
        known_rates=[],
    )
    rows = {r.rate_ppm: r for r in summarise_tax(lines)}
    assert set(rows) == {100_000, 80_000}
    ten, eight = rows[100_000], rows[80_000]
    assert (ten.sales_gross_minor, ten.sales_tax_minor, ten.sales_net_minor) == (2200, 200, 2000)
    assert (eight.sales_gross_minor, eight.sales_tax_minor) == (1620, 120)
    assert (eight.returns_gross_minor, eight.returns_tax_minor) == (-540, -40)
    assert (eight.gross_minor, eight.tax_minor, eight.net_minor) == (1080, 80, 1000)
    assert ret.tax.amount_minor == 40
    assert ten.mode == "inclusive"
    assert eight.rate == "8%"
    assert sale.tax.amount_minor == 320


def test_tax_report_from_applied_sales(sessions: sessionmaker[Session]) -> None:
    """GIVEN a Tokyo store (inclusive), a New York store (exclusive sales tax) and a Bahrain
    store (three-decimal currency) whose tills' sales and returns reached the hub
    WHEN the tax report for the day is read THEN each store's rates add up to what the tills
    charged, returns taken off at the rate of the original sale."""
    create_store(sessions, "s-jp", "JPY", "Asia/Tokyo")
    create_store(sessions, "s-ny", "USD", "America/New_York")
    create_store(sessions, "s-bh", "BHD", "Asia/Bahrain")
    jp = Till("s-jp", JP)
    sake, rice = jp.item("SAKE", "1100"), jp.item("RICE", "540", "reduced")
    s1 = jp.sell([(sake, 1), (rice, 2)])
    jp.sell([(rice, 1)], discount_bp=1000)  # 540 - 54 = 486 at 8 %
    jp.give_back(s1, 1, 1)  # the sake comes back at 10 %
    jp.sync(sessions)
    ny = Till("s-ny", US_NYC)
    ny.sell([(ny.item("MUG", "10.00"), 1), (ny.item("BREAD", "4.00", "exempt"), 1)])
    ny.sell([(ny.item("MUG", "10.00"), 3)])
    ny.sync(sessions)
    bh = Till("s-bh", BH)
    bh.sell([(bh.item("DATES", "1.050"), 1)])
    bh.sync(sessions)

    with sessions() as session:
        rows = queries.tax_by_rate(session, PERIOD)
    got = {
        (r.store_id, r.rate): (r.mode, r.net_minor, r.tax_minor, r.gross_minor, r.returns_tax_minor)
        for r in rows
    }
    assert got == {
        # 1100 sold and returned at 10 %: nothing left, but the row shows the movement.
        ("s-jp", "10%"): ("inclusive", 0, 0, 0, -100),
        # 1080 + 486 at 8 %: tax 80 + 36.
        ("s-jp", "8%"): ("inclusive", 1566 - 116, 116, 1566, 0),
        # 40.00 net at 8.875 % = 3.55 tax; tax rounds once per sale and rate (0.89 + 2.66).
        ("s-ny", "8.875%"): ("exclusive", 4000, 355, 4355, 0),
        ("s-ny", "0%"): ("exclusive", 400, 0, 400, 0),
        ("s-bh", "10%"): ("inclusive", 955, 95, 1050, 0),
    }
    with sessions() as session:
        only_ny = queries.tax_by_rate(session, PERIOD, store_id="s-ny")
        next_day = queries.tax_by_rate(
            session, queries.Period(DAY + timedelta(1), DAY + timedelta(1))
        )
    assert {r.store_id for r in only_ny} == {"s-ny"}
    assert next_day == []


def test_a_return_of_an_earlier_sale_takes_its_rate_and_pricing(
    sessions: sessionmaker[Session],
) -> None:
    """GIVEN a New York sale (exclusive sales tax) on one day and its return the next day,
    the only taxed event of that day, WHEN the second day's tax is read THEN the return is
    at the sale's 8.875 % with exclusive pricing, found in the earlier day's sales."""
    create_store(sessions, "s-ny", "USD", "America/New_York")
    ny = Till("s-ny", US_NYC)
    sale = ny.sell([(ny.item("MUG", "10.00"), 2)])
    ny.business_day = DAY + timedelta(days=1)
    ny.clock += timedelta(days=1)
    ny.give_back(sale, 1, 1)
    ny.sync(sessions)
    with sessions() as session:
        (row,) = queries.tax_by_rate(session, queries.Period(ny.business_day, ny.business_day))
    assert (row.rate, row.mode) == ("8.875%", "exclusive")
    # 10.00 + its share of the 1.78 tax (0.89) refunded
    assert (row.returns_gross_minor, row.returns_tax_minor, row.sales_gross_minor) == (
        -1089,
        -89,
        0,
    )
