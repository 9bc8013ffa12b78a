"""Tenders: how a sale is paid (cash with change, card with the terminal's reference, split).

Tenders are applied in the order given, each against what is still due:

* a card (or other non-cash) tender may not exceed what is still due, because
  change is only ever given in cash;
* a cash tender may exceed it; the difference is the change, and it ends the
  payment: a tender after the sale is fully paid is refused;
* the tenders must cover the amount due, else InsufficientTender says how much
  is missing.

So change always comes from the last tender, which is cash. A sale whose total
is zero (fully discounted) is settled with one zero cash tender, so every sale
carries at least one tender.

Cash rounding (Swiss 0.05 CHF, Swedish, Canadian cent-less cash) is out of
scope: cash is taken to the currency's minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from edge_agent.domain.errors import (
    CurrencyMismatch,
    InsufficientTender,
    InvalidTender,
    NonCashOverDue,
    RefundMismatch,
    TenderReferenceRequired,
)
from edge_agent.domain.rounding import sum_money
from protocol.money import Money


class TenderKind(StrEnum):
    """A kind of payment (the wire's ``kind``)."""

    CASH = "cash"
    CARD = "card"  # taken on an external payment terminal; we record its reference
    OTHER = "other"  # voucher, gift card, cheque: no change given


@dataclass(frozen=True, slots=True)
class Tender:
    """A payment as the cashier enters it, before it is checked against the amount due."""

    kind: TenderKind
    amount: Money
    reference: str | None = None

    @classmethod
    def cash(cls, amount: Money) -> Tender:
        """Cash handed over by the customer (may be more than due; change is given)."""
        return cls(TenderKind.CASH, amount)

    @classmethod
    def card(cls, amount: Money, reference: str) -> Tender:
        """A card payment approved on the terminal, with the terminal's reference."""
        return cls(TenderKind.CARD, amount, reference)

    @classmethod
    def other(cls, amount: Money, reference: str | None = None) -> Tender:
        """A voucher or other non-cash payment, optionally with its number."""
        return cls(TenderKind.OTHER, amount, reference)


@dataclass(frozen=True, slots=True)
class AppliedTender:
    """A checked tender: what was handed over (``amount``) and the change given back on it."""

    kind: TenderKind
    amount: Money
    reference: str | None
    change: Money

    @property
    def taken(self) -> Money:
        """What the tender actually paid: amount less change."""
        return self.amount - self.change


@dataclass(frozen=True, slots=True)
class Settlement:
    """The checked tenders of a sale, what they add up to and the change to give."""

    due: Money
    tenders: tuple[AppliedTender, ...]
    tendered: Money
    change: Money


def _checked(tender: Tender, currency: str) -> str | None:
    if tender.amount.currency != currency:
        raise CurrencyMismatch(currency, tender.amount.currency)
    if tender.amount.amount_minor <= 0:
        raise InvalidTender(f"A {tender.kind} payment must be more than zero.")
    reference = tender.reference.strip() if tender.reference is not None else None
    if tender.kind is TenderKind.CARD and not reference:
        raise TenderReferenceRequired(tender.kind.value)
    return reference or None


def _zero_cash(currency: str) -> AppliedTender:
    zero = Money.zero(currency)
    return AppliedTender(TenderKind.CASH, zero, None, zero)


def settle(due: Money, tenders: Sequence[Tender]) -> Settlement:
    """Check the tenders against the amount due and work out the change (see the module doc)."""
    currency = due.currency
    if due.amount_minor < 0:
        raise ValueError("the amount due of a sale is never negative")
    if not tenders and due.is_zero():
        return Settlement(due, (_zero_cash(currency),), due, due)
    remaining = due
    applied: list[AppliedTender] = []
    for tender in tenders:
        reference = _checked(tender, currency)
        if remaining.is_zero():
            raise InvalidTender("The sale is already paid; remove the extra payment.")
        if tender.kind is not TenderKind.CASH and tender.amount > remaining:
            raise NonCashOverDue(tender.kind.value, tender.amount, remaining)
        change = Money(max(0, tender.amount.amount_minor - remaining.amount_minor), currency)
        remaining = remaining - (tender.amount - change)
        applied.append(AppliedTender(tender.kind, tender.amount, reference, change))
    tendered = sum_money((t.amount for t in applied), currency)
    if not remaining.is_zero():
        raise InsufficientTender(due, tendered)
    change_total = sum_money((t.change for t in applied), currency)
    return Settlement(due, tuple(applied), tendered, change_total)


def settle_refund(refund_total: Money, tenders: Sequence[Tender]) -> tuple[AppliedTender, ...]:
    """Check refund payments: they must add up to the refund exactly; no change on a refund."""
    currency = refund_total.currency
    if refund_total.amount_minor < 0:
        raise ValueError("a refund total is never negative")
    if not tenders and refund_total.is_zero():
        return (_zero_cash(currency),)
    zero = Money.zero(currency)
    applied = tuple(AppliedTender(t.kind, t.amount, _checked(t, currency), zero) for t in tenders)
    paid = sum_money((t.amount for t in applied), currency)
    if paid != refund_total:
        raise RefundMismatch(refund_total, paid)
    return applied
