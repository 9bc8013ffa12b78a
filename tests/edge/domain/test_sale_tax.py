"""Tax and rounding tables for USD (exclusive), GBP, EUR and JPY (inclusive), and invariants."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from edge_sale_kit import DE, JP, UK, US_NYC
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.errors import CurrencyMismatch, UnknownTaxClass
from edge_agent.domain.rounding import RoundingMode, percent_of, pro_rata_part, round_ratio
from edge_agent.domain.tax import (
    StoreTaxPolicy,
    TaxableLine,
    TaxRate,
    TaxRounding,
    compute_tax,
    sum_tax_summaries,
)
from protocol.money import Money


def _lines(policy: StoreTaxPolicy, spec: list[tuple[str, str]]) -> list[TaxableLine]:
    return [
        TaxableLine(i, tax_class, Money.parse(amount, policy.currency))
        for i, (tax_class, amount) in enumerate(spec)
    ]


@pytest.mark.parametrize(
    ("numerator", "denominator", "mode", "expected"),
    [
        (5, 2, RoundingMode.HALF_UP, 3),
        (-5, 2, RoundingMode.HALF_UP, -3),
        (7, 2, RoundingMode.HALF_UP, 4),
        (4, 3, RoundingMode.HALF_UP, 1),
        (5, 3, RoundingMode.HALF_UP, 2),
        (0, 7, RoundingMode.HALF_UP, 0),
        (5, 2, RoundingMode.DOWN, 2),
        (-5, 2, RoundingMode.DOWN, -2),
        (99, 100, RoundingMode.DOWN, 0),
    ],
)
def test_round_ratio(numerator: int, denominator: int, mode: RoundingMode, expected: int) -> None:
    assert round_ratio(numerator, denominator, mode) == expected


def test_percent_and_pro_rata_round_half_up_at_the_minor_unit() -> None:
    assert percent_of(Money.parse("0.05", "GBP"), 1000) == Money(1, "GBP")  # 0.5p -> 1p
    assert percent_of(Money(1234, "JPY"), 1000) == Money(123, "JPY")  # 123.4 yen -> 123
    assert pro_rata_part(Money(1000, "USD"), 1, 3) == Money(333, "USD")
    assert pro_rata_part(Money(1000, "USD"), 2, 3) == Money(667, "USD")


@pytest.mark.parametrize(
    ("text", "ppm", "shown", "bp"),
    [
        ("20", 200_000, "20%", Decimal(2000)),
        ("8.875", 88_750, "8.875%", Decimal("887.5")),
        ("7", 70_000, "7%", Decimal(700)),
        ("0", 0, "0%", Decimal(0)),
        ("10.25", 102_500, "10.25%", Decimal(1025)),
    ],
)
def test_tax_rate_units(text: str, ppm: int, shown: str, bp: Decimal) -> None:
    rate = TaxRate.from_percent(text)
    assert rate.ppm == ppm
    assert rate.percent_text() == shown
    assert rate.bp == bp
    assert rate.is_whole_bp == (bp == bp.to_integral_value())


def test_tax_rate_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="four decimal"):
        TaxRate.from_percent("8.87501")
    with pytest.raises(ValueError, match="between 0 and 100"):
        TaxRate.from_bp(10_000)
    assert TaxRate.from_bp(2000) == TaxRate(200_000)


# (policy, [(tax class, amount after discounts)], line taxes, [(rate, net, tax, gross)], total)
TAX_TABLE = [
    pytest.param(
        US_NYC, [("standard", "10.00")], ["0.89"],
        [("8.875%", "10.00", "0.89", "10.89")], "10.89", id="usd-nyc-8.875",
    ),
    pytest.param(
        US_NYC, [("standard", "12.00")], ["1.07"],
        [("8.875%", "12.00", "1.07", "13.07")], "13.07", id="usd-exact-half-rounds-up",
    ),
    pytest.param(
        US_NYC, [("standard", "0.05")] * 3, ["0.01", "0.00", "0.00"],
        [("8.875%", "0.15", "0.01", "0.16")], "0.16", id="usd-invoice-not-line-rounding",
    ),
    pytest.param(
        US_NYC, [("standard", "19.99"), ("exempt", "5.00")], ["1.77", "0.00"],
        [("8.875%", "19.99", "1.77", "21.76"), ("0%", "5.00", "0.00", "5.00")], "26.76",
        id="usd-exempt-groceries",
    ),
    pytest.param(
        UK, [("standard", "1.00")], ["0.17"],
        [("20%", "0.83", "0.17", "1.00")], "1.00", id="gbp-20-inclusive",
    ),
    pytest.param(
        UK, [("standard", "0.99")] * 3, ["0.17", "0.17", "0.16"],
        [("20%", "2.47", "0.50", "2.97")], "2.97", id="gbp-20-invoice-half-up",
    ),
    pytest.param(
        UK, [("standard", "12.00"), ("reduced", "10.50"), ("zero", "4.99")],
        ["2.00", "0.50", "0.00"],
        [
            ("20%", "10.00", "2.00", "12.00"),
            ("5%", "10.00", "0.50", "10.50"),
            ("0%", "4.99", "0.00", "4.99"),
        ],
        "27.49", id="gbp-20-5-0",
    ),
    pytest.param(
        DE, [("standard", "9.99"), ("reduced", "2.49")], ["1.60", "0.16"],
        [("19%", "8.39", "1.60", "9.99"), ("7%", "2.33", "0.16", "2.49")], "12.48",
        id="eur-de-19-7",
    ),
    pytest.param(
        DE, [("standard", "11.90"), ("reduced", "1.07")], ["1.90", "0.07"],
        [("19%", "10.00", "1.90", "11.90"), ("7%", "1.00", "0.07", "1.07")], "12.97",
        id="eur-de-exact",
    ),
    pytest.param(
        JP, [("standard", "1100")], ["100"], [("10%", "1000", "100", "1100")], "1100",
        id="jpy-10",
    ),
    pytest.param(
        JP, [("standard", "1000")], ["91"], [("10%", "909", "91", "1000")], "1000",
        id="jpy-10-rounds-half-up",
    ),
    pytest.param(
        JP, [("reduced", "980"), ("standard", "2980")], ["73", "271"],
        [("10%", "2709", "271", "2980"), ("8%", "907", "73", "980")], "3960",
        id="jpy-8-food-and-10",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("policy", "spec", "line_taxes", "summary", "total"), TAX_TABLE)
def test_tax_table(
    policy: StoreTaxPolicy,
    spec: list[tuple[str, str]],
    line_taxes: list[str],
    summary: list[tuple[str, str, str, str]],
    total: str,
) -> None:
    cur = policy.currency
    result = compute_tax(policy, _lines(policy, spec))
    assert [lt.tax for lt in result.lines] == [Money.parse(t, cur) for t in line_taxes]
    assert [
        (row.rate.percent_text(), row.net.format(), row.tax.format(), row.gross.format())
        for row in result.summary
    ] == summary
    assert result.gross == Money.parse(total, cur)
    # Every figure reconciles to the minor unit.
    assert result.tax == sum((lt.tax for lt in result.lines), Money.zero(cur))
    assert result.net + result.tax == result.gross
    for lt in result.lines:
        assert lt.net + lt.tax == lt.gross


@pytest.mark.parametrize(
    ("rounding", "expected_tax"),
    [(TaxRounding.INVOICE, "0.50"), (TaxRounding.LINE, "0.51")],
)
def test_line_rounding_is_an_option(rounding: TaxRounding, expected_tax: str) -> None:
    policy = dataclasses.replace(UK, rounding=rounding)
    result = compute_tax(policy, _lines(policy, [("standard", "0.99")] * 3))
    assert result.tax == Money.parse(expected_tax, "GBP")


@pytest.mark.parametrize(
    ("tax_class", "gross", "half_up", "truncated"),
    [("standard", 1000, 91, 90), ("reduced", 980, 73, 72), ("standard", 1100, 100, 100)],
)
def test_jpy_truncation_option(tax_class: str, gross: int, half_up: int, truncated: int) -> None:
    line = [TaxableLine(0, tax_class, Money(gross, "JPY"))]
    assert compute_tax(JP, line).tax == Money(half_up, "JPY")
    down = dataclasses.replace(JP, rounding_mode=RoundingMode.DOWN)
    assert compute_tax(down, line).tax == Money(truncated, "JPY")


def test_unknown_class_and_currency_are_refused() -> None:
    with pytest.raises(UnknownTaxClass, match="'luxury' is not set up") as err:
        compute_tax(UK, [TaxableLine(0, "luxury", Money(100, "GBP"))])
    assert err.value.known == ("exempt", "reduced", "standard", "zero")
    with pytest.raises(CurrencyMismatch):
        compute_tax(UK, [TaxableLine(0, "standard", Money(100, "EUR"))])


def test_summaries_add_and_refunds_subtract() -> None:
    sale = compute_tax(UK, _lines(UK, [("standard", "12.00"), ("zero", "4.99")]))
    refund = compute_tax(UK, _lines(UK, [("standard", "6.00")]))
    rows = sum_tax_summaries("GBP", [*sale.summary, *(r.negated() for r in refund.summary)])
    assert [(r.rate.percent_text(), r.net.format(), r.tax.format()) for r in rows] == [
        ("20%", "5.00", "1.00"),
        ("0%", "4.99", "0.00"),
    ]


def test_empty_and_zero_lines() -> None:
    assert compute_tax(UK, []).gross == Money.zero("GBP")
    result = compute_tax(UK, _lines(UK, [("standard", "0.00"), ("standard", "0.00")]))
    assert result.tax.is_zero()
    assert len(result.lines) == 2


POLICIES = [US_NYC, UK, DE, JP]


@given(
    policy_index=st.integers(0, len(POLICIES) - 1),
    amounts=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 2_000_000)), min_size=1, max_size=12
    ),
    line_rounding=st.booleans(),
)
def test_line_taxes_always_reconcile(
    policy_index: int, amounts: list[tuple[int, int]], line_rounding: bool
) -> None:
    policy = POLICIES[policy_index]
    if line_rounding:
        policy = dataclasses.replace(policy, rounding=TaxRounding.LINE)
    classes = sorted(policy.rates)
    lines = [
        TaxableLine(i, classes[c % len(classes)], Money(a, policy.currency))
        for i, (c, a) in enumerate(amounts)
    ]
    result = compute_tax(policy, lines)
    cur = policy.currency
    assert result.tax == sum((lt.tax for lt in result.lines), Money.zero(cur))
    assert result.tax == sum((row.tax for row in result.summary), Money.zero(cur))
    for lt, line in zip(result.lines, lines, strict=True):
        assert lt.tax.amount_minor >= 0
        assert lt.net + lt.tax == lt.gross
        assert (lt.gross if policy.prices_include_tax else lt.net) == line.amount
    if not line_rounding:
        # Invoice rounding: each rate's tax is the rate applied once to its total.
        for row in result.summary:
            base = row.gross if policy.prices_include_tax else row.net
            assert row.tax.amount_minor == policy.tax_in(base.amount_minor, row.rate)
