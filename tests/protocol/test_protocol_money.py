"""Money: integer minor units, per-currency exponents, exact parsing and allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import MoneyError
from protocol.money import (
    CURRENCY_EXPONENTS,
    ROUNDING_HALF_EVEN,
    ROUNDING_HALF_UP,
    Money,
    check_currency,
    minor_unit_exponent,
)


@pytest.mark.parametrize(("currency", "exponent"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("BHD", 3)])
def test_exponents(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent
    assert CURRENCY_EXPONENTS[currency] == exponent


@pytest.mark.parametrize(
    ("text", "currency", "amount_minor", "formatted"),
    [
        ("1234", "JPY", 1234, "1234"),
        ("1234.00", "JPY", 1234, "1234"),
        ("11.01", "USD", 1101, "11.01"),
        ("11.1", "USD", 1110, "11.10"),
        ("-3.5", "USD", -350, "-3.50"),
        ("0.005", "BHD", 5, "0.005"),
        ("1.5", "BHD", 1500, "1.500"),
        (".5", "EUR", 50, "0.50"),
        ("+7.", "EUR", 700, "7.00"),
        ("  2.00 ", "GBP", 200, "2.00"),
        ("12345678901234567890123456789.01", "USD", 1234567890123456789012345678901, None),
    ],
)
def test_parse_and_format(
    text: str, currency: str, amount_minor: int, formatted: str | None
) -> None:
    money = Money.parse(text, currency)
    assert money == Money(amount_minor, currency)
    assert money.format() == (formatted or text)
    assert money.to_decimal() == Decimal(text.strip())


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.5", "JPY"), ("11.011", "USD"), ("0.0001", "BHD"), ("0.001", "EUR")],
)
def test_parse_refuses_too_many_places(text: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="more decimal places") as info:
        Money.parse(text, currency)
    assert info.value.reason == "invalid_money"


@pytest.mark.parametrize(
    "text", ["", "abc", "1,50", "1e2", "1_000", "NaN", "Infinity", "--1", "1.2.3", "$5"]
)
def test_parse_refuses_what_is_not_a_plain_decimal(text: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, "USD")


def test_parse_refuses_floats_unknown_currencies_and_absurd_sizes() -> None:
    with pytest.raises(MoneyError, match="got float"):
        Money.parse(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="unknown or unsupported currency code 'XYZ'"):
        Money.parse("1", "XYZ")
    with pytest.raises(MoneyError, match="currency must be"):
        check_currency(None)  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="too large"):
        Money.parse(Decimal("1E999999999"), "USD")
    with pytest.raises(MoneyError, match="decimal places"):
        Money.parse(Decimal("1E-999999999"), "USD")
    with pytest.raises(MoneyError, match="not a finite amount"):
        Money.parse(Decimal("NaN"), "USD")


def test_amount_must_be_an_int() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(True, "USD")


def test_from_decimal_rounds_to_the_currency() -> None:
    assert Money.from_decimal(Decimal("2.345"), "USD") == Money(235, "USD")
    assert Money.from_decimal(Decimal("2.345"), "USD", rounding=ROUNDING_HALF_EVEN) == Money(
        234, "USD"
    )
    assert Money.from_decimal(Decimal("2.5"), "JPY", rounding=ROUNDING_HALF_UP) == Money(3, "JPY")
    assert Money.from_decimal(Decimal("-2.5"), "JPY") == Money(-3, "JPY")
    assert Money.from_decimal(Decimal("0.0005"), "BHD") == Money(1, "BHD")
    big = Decimal("12345678901234567890123456789.015")
    assert Money.from_decimal(big, "USD") == Money(1234567890123456789012345678902, "USD")
    with pytest.raises(MoneyError):
        Money.from_decimal(Decimal("Infinity"), "USD")


def test_arithmetic_and_comparison() -> None:
    a, b = Money(150, "EUR"), Money(275, "EUR")
    assert a + b == Money(425, "EUR")
    assert b - a == Money(125, "EUR")
    assert -a == Money(-150, "EUR")
    assert a * 3 == 3 * a == Money(450, "EUR")
    assert a < b
    assert b >= a
    assert Money.total([a, b, a], "EUR") == Money(575, "EUR")
    assert Money.total([], "JPY") == Money.zero("JPY")
    assert Money.zero("USD").is_zero()
    with pytest.raises(MoneyError, match="multiplied by an integer"):
        a * 1.5  # type: ignore[operator]


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: Money.total([a, b], "EUR"),
    ],
)
def test_mixed_currencies_are_refused(operation: object) -> None:
    assert callable(operation)
    with pytest.raises(MoneyError, match="cannot combine"):
        operation(Money(100, "EUR"), Money(100, "USD"))


def test_equal_amounts_in_different_currencies_are_not_equal() -> None:
    assert Money(100, "EUR") != Money(100, "USD")


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_allocate_always_sums_exactly(amount: int, currency: str, weights: list[int]) -> None:
    money = Money(amount, currency)
    parts = money.allocate(weights)
    assert len(parts) == len(weights)
    assert sum(p.amount_minor for p in parts) == amount
    assert all(p.currency == currency for p in parts)
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(amount) * weight / total
        assert abs(Decimal(part.amount_minor) - exact) < 1  # no part is off by a whole unit
        if weight == 0:
            assert part.amount_minor == 0


def test_allocate_refuses_bad_weights() -> None:
    for weights in ([], [0, 0], [1, -1]):
        with pytest.raises(MoneyError):
            Money(100, "USD").allocate(weights)
    assert Money(100, "USD").allocate([1, 1, 1]) == [
        Money(34, "USD"),
        Money(33, "USD"),
        Money(33, "USD"),
    ]


@given(
    amount=st.integers(min_value=-(10**20), max_value=10**20),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_format_parse_round_trip(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.parse(money.format(), currency) == money
    assert Money.parse(money.to_decimal(), currency) == money
