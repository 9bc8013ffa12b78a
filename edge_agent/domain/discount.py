"""Discounts: a percentage (in basis points) or a fixed amount, always with a reason.

A discount applies to a base (a line after its price, or the sale after its line
discounts) and may never exceed it: a line or a sale is never negative.
Percentages round half-up to the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from edge_agent.domain.errors import CurrencyMismatch, DiscountTooLarge, InvalidDiscount
from edge_agent.domain.rounding import BP_PER_WHOLE, percent_of
from protocol.money import Money


class DiscountKind(StrEnum):
    """How a discount's value is expressed (the wire's ``kind``)."""

    PERCENT = "percent"
    AMOUNT = "amount"


class DiscountScope(StrEnum):
    """What a discount applies to."""

    LINE = "line"
    CART = "cart"


def _check_reason(reason: str) -> None:
    if not reason.strip():
        raise InvalidDiscount("Every discount needs a reason (for example 'damaged box').")


@dataclass(frozen=True, slots=True)
class PercentDiscount:
    """A discount of ``bp`` basis points (1000 = 10 %) of its base."""

    bp: int
    reason: str

    def __post_init__(self) -> None:
        if not 0 < self.bp <= BP_PER_WHOLE:
            raise InvalidDiscount(
                f"A percentage discount must be above 0 % and at most 100 %; got {self.bp} bp."
            )
        _check_reason(self.reason)

    @property
    def kind(self) -> DiscountKind:
        """Always PERCENT."""
        return DiscountKind.PERCENT

    @property
    def value(self) -> int:
        """The wire's ``value``: basis points."""
        return self.bp

    def amount_on(self, base: Money) -> Money:
        """Return the discount on ``base``, rounded half-up to the minor unit."""
        return percent_of(base, self.bp)


@dataclass(frozen=True, slots=True)
class AmountDiscount:
    """A discount of a fixed amount."""

    amount: Money
    reason: str

    def __post_init__(self) -> None:
        if self.amount.amount_minor <= 0:
            raise InvalidDiscount("An amount discount must be more than zero.")
        _check_reason(self.reason)

    @property
    def kind(self) -> DiscountKind:
        """Always AMOUNT."""
        return DiscountKind.AMOUNT

    @property
    def value(self) -> int:
        """The wire's ``value``: minor units."""
        return self.amount.amount_minor

    def amount_on(self, base: Money) -> Money:
        """Return the fixed amount (in the base's currency, else CurrencyMismatch)."""
        if base.currency != self.amount.currency:
            raise CurrencyMismatch(base.currency, self.amount.currency)
        return self.amount


Discount: TypeAlias = PercentDiscount | AmountDiscount


def discount_amount(discount: Discount, base: Money, *, line_no: int | None = None) -> Money:
    """Return what ``discount`` takes off ``base``; DiscountTooLarge if it is more than the base."""
    amount = discount.amount_on(base)
    if amount > base:
        raise DiscountTooLarge(amount, base, line_no=line_no)
    return amount


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    """A discount as given on a sale: where it applied, its spec, and what it took off."""

    scope: DiscountScope
    line_no: int | None
    discount: Discount
    amount: Money

    @property
    def kind(self) -> DiscountKind:
        """The wire's ``kind``."""
        return self.discount.kind

    @property
    def value(self) -> int:
        """The wire's ``value`` (bp or minor units)."""
        return self.discount.value

    @property
    def reason(self) -> str:
        """Why the discount was given."""
        return self.discount.reason
