"""Money in integer minor units with an ISO 4217 currency.

Amounts never travel or live as floats. The exponent of a currency (how many
minor units make a major unit) decides how decimal strings are parsed and how
amounts are formatted and rounded: JPY 0, USD 2, BHD 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from typing import Final

from protocol.errors import MoneyError

# ISO 4217 minor-unit exponents for the currencies Acorn trades in. A currency
# that is not listed is refused rather than guessed, because a wrong exponent
# misprices by a factor of 10 or 100.
# fmt: off
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "AED": 2, "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2,
    "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2,
    "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2,
    "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "SAR": 2, "SEK": 2,
    "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
}
# fmt: on

ROUNDING_HALF_UP: Final = ROUND_HALF_UP
ROUNDING_HALF_EVEN: Final = ROUND_HALF_EVEN

# A plain decimal: optional sign, digits, optional fraction. No exponents, no
# thousands separators, no underscores: "1e2" or "1_000" in a price column is a
# mistake to report, not a number to guess.
_DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

# Largest power of ten accepted from text or Decimal input (|amount| < 10**40
# major units): far beyond any real amount, and it keeps "1E999999999" from
# building a billion-digit integer.
MAX_MAJOR_DIGITS: Final = 40
MAX_DECIMAL_PLACES: Final = 40


def minor_unit_exponent(currency: str) -> int:
    """Return how many decimal places the currency's minor unit has."""
    if not isinstance(currency, str):
        raise MoneyError(f"currency must be a 3-letter ISO 4217 code, got {currency!r}")
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unknown or unsupported currency code {currency!r}") from None


def check_currency(currency: str) -> str:
    """Return the currency code if it is a supported ISO 4217 code, else raise MoneyError."""
    minor_unit_exponent(currency)
    return currency


def _checked_decimal(amount: object) -> Decimal:
    if isinstance(amount, str):
        text = amount.strip()
        if _DECIMAL_TEXT.fullmatch(text) is None:
            raise MoneyError(f"not a decimal amount: {amount!r}")
        value = Decimal(text)
    elif isinstance(amount, Decimal):
        value = amount
    else:
        # Floats are refused on purpose: 0.1 + 0.2 is not 0.3.
        raise MoneyError(f"amount must be a decimal string or Decimal, got {type(amount).__name__}")
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {amount!r}")
    if not value.is_zero() and value.adjusted() >= MAX_MAJOR_DIGITS:
        raise MoneyError(f"amount {amount!r} is too large")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise MoneyError(f"amount {amount!r} has more than {MAX_DECIMAL_PLACES} decimal places")
    return value


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in integer minor units of one currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise MoneyError(f"amount_minor must be an integer, got {self.amount_minor!r}")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return zero in the given currency."""
        return cls(0, currency)

    @classmethod
    def total(cls, amounts: Iterable[Money], currency: str) -> Money:
        """Add up amounts of one currency (zero when there are none)."""
        result = cls.zero(currency)
        for amount in amounts:
            result = result + amount
        return result

    @classmethod
    def parse(cls, amount: str | Decimal, currency: str) -> Money:
        """Parse "11.01" exactly; refuse more decimal places than the currency has."""
        exp = minor_unit_exponent(currency)
        value = _checked_decimal(amount)
        # Exact integer arithmetic: Decimal.scaleb would round to the context's
        # 28 digits and could silently drop places.
        sign, digits, exponent = value.as_tuple()
        if not isinstance(exponent, int):  # only NaN/Infinity have a letter here
            raise MoneyError(f"not a finite amount: {amount!r}")
        coefficient = int("".join(map(str, digits)) or "0")
        shift = exponent + exp
        if shift >= 0:
            minor = coefficient * 10**shift
        else:
            minor, rest = divmod(coefficient, 10**-shift)
            if rest:
                raise MoneyError(
                    f"{amount!r} has more decimal places than {currency} allows ({exp})"
                )
        return cls(-minor if sign else minor, currency)

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str, *, rounding: str = ROUND_HALF_UP) -> Money:
        """Round a Decimal major-unit amount to the currency's minor unit."""
        exp = minor_unit_exponent(currency)
        checked = _checked_decimal(value)
        with localcontext() as ctx:
            # Enough precision that scaling and rounding are exact.
            ctx.prec = max(28, len(checked.as_tuple().digits) + exp + MAX_MAJOR_DIGITS)
            minor = checked.scaleb(exp).to_integral_value(rounding=rounding)
        return cls(int(minor), currency)

    def to_decimal(self) -> Decimal:
        """Return the amount in major units as an exact Decimal."""
        exp = minor_unit_exponent(self.currency)
        digits = tuple(int(d) for d in str(abs(self.amount_minor)))
        return Decimal((1 if self.amount_minor < 0 else 0, digits, -exp))

    def format(self) -> str:
        """Format as a plain decimal string with the currency's places, e.g. "-3.50"."""
        exp = minor_unit_exponent(self.currency)
        sign = "-" if self.amount_minor < 0 else ""
        major, minor = divmod(abs(self.amount_minor), 10**exp)
        return f"{sign}{major}.{minor:0{exp}d}" if exp else f"{sign}{major}"

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise MoneyError("money can only be multiplied by an integer; use allocate or rates")
        return Money(self.amount_minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor >= other.amount_minor

    def is_zero(self) -> bool:
        """Return True when the amount is zero."""
        return self.amount_minor == 0

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to weights; the parts always add up to self exactly.

        Remainders go one minor unit at a time to the parts with the largest
        fractional share (largest-remainder method), so no unit is created or lost.
        """
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise MoneyError("allocate needs non-negative weights with a positive sum")
        total = sum(weights)
        sign = -1 if self.amount_minor < 0 else 1
        amount = abs(self.amount_minor)
        shares = [amount * w // total for w in weights]
        remainders = [amount * w % total for w in weights]
        left = amount - sum(shares)
        for i in sorted(range(len(weights)), key=lambda k: (-remainders[k], k))[:left]:
            shares[i] += 1
        return [Money(sign * s, self.currency) for s in shares]
