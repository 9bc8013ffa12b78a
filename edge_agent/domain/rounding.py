"""Exact money arithmetic: ratios of minor units rounded once, never through floats, and sums."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from protocol.money import Money

BP_PER_WHOLE = 10_000  # basis points in 100 %


class RoundingMode(StrEnum):
    """How a fraction of a minor unit is settled."""

    HALF_UP = "half_up"  # 0.5 and above away from zero: the default for tax and discounts
    DOWN = "down"  # towards zero (truncate): an option some Japanese retailers use for tax


def round_ratio(numerator: int, denominator: int, mode: RoundingMode = RoundingMode.HALF_UP) -> int:
    """Return numerator / denominator rounded to an integer (half-up: halves away from zero)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    n = abs(numerator)
    if mode is RoundingMode.DOWN:
        return sign * (n // denominator)
    return sign * ((2 * n + denominator) // (2 * denominator))


def percent_of(amount: Money, bp: int, mode: RoundingMode = RoundingMode.HALF_UP) -> Money:
    """Return ``bp`` basis points of ``amount``, rounded to the currency's minor unit."""
    return Money(round_ratio(amount.amount_minor * bp, BP_PER_WHOLE, mode), amount.currency)


def pro_rata_part(total: Money, part: int, whole: int) -> Money:
    """Return the share of ``total`` for ``part`` of ``whole`` units, half-up (``whole`` > 0).

    Callers that take several parts of one whole in turn compute each part as the
    difference of two cumulative shares, so the parts always add up to ``total``.
    """
    return Money(round_ratio(total.amount_minor * part, whole), total.currency)


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """Add amounts of one currency; an empty iterable gives zero in ``currency``."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total
