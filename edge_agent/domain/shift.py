"""Shifts: a cashier's drawer from opening float to counted cash, and its Z report.

A shift belongs to the business day in which it was opened, even when it is
closed after the day rolled over; its Z report covers every sale, return and
void stamped with its id, whichever day they fell on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from edge_agent.domain.business_day import ensure_utc
from edge_agent.domain.errors import CurrencyMismatch, ShiftError, format_money
from edge_agent.domain.returns import CompletedReturn
from edge_agent.domain.sale import CompletedSale, VoidRecord
from edge_agent.domain.zreport import ZReport, build_z_report, expected_cash
from protocol.money import Money


@dataclass(frozen=True, slots=True)
class Shift:
    """An open shift: who, when, which business day, and the cash float the drawer started with."""

    shift_id: str
    cashier_id: str
    business_day: date
    opened_at: datetime
    opening_float: Money

    @property
    def currency(self) -> str:
        """The drawer's currency."""
        return self.opening_float.currency


@dataclass(frozen=True, slots=True)
class ShiftClosure:
    """A closed shift: the cash counted and the Z report with expected cash and over/short."""

    shift: Shift
    closed_at: datetime
    counted_cash: Money
    expected_cash: Money  # float + cash taken - cash refunded
    over_short: Money  # counted - expected: positive when the drawer holds more than expected
    report: ZReport


def _not_negative(what: str, amount: Money) -> None:
    if amount.amount_minor < 0:
        raise ShiftError(f"The {what} cannot be negative ({format_money(amount)}).")


def open_shift(
    *,
    shift_id: str,
    cashier_id: str,
    opening_float: Money,
    now_utc: datetime,
    business_day: date,
) -> Shift:
    """Open a shift with the cash float counted into the drawer."""
    _not_negative("opening float", opening_float)
    return Shift(
        shift_id=shift_id,
        cashier_id=cashier_id,
        business_day=business_day,
        opened_at=ensure_utc("now_utc", now_utc),
        opening_float=opening_float,
    )


def close_shift(
    shift: Shift,
    *,
    counted_cash: Money,
    now_utc: datetime,
    sales: Iterable[CompletedSale],
    returns: Iterable[CompletedReturn],
    voids: Iterable[VoidRecord],
) -> ShiftClosure:
    """Close a shift with the cash counted in the drawer; records of other shifts are left out."""
    if counted_cash.currency != shift.currency:
        raise CurrencyMismatch(shift.currency, counted_cash.currency)
    _not_negative("counted cash", counted_cash)
    closed_at = ensure_utc("now_utc", now_utc)
    if closed_at < shift.opened_at:
        raise ShiftError(
            f"A shift cannot close ({closed_at.isoformat()}) before it opened "
            f"({shift.opened_at.isoformat()}); check the till's clock."
        )
    report = build_z_report(
        shift.currency,
        sales=[s for s in sales if s.shift_id == shift.shift_id],
        returns=[r for r in returns if r.shift_id == shift.shift_id],
        voids=[v for v in voids if v.shift_id == shift.shift_id],
        shift_id=shift.shift_id,
        business_day=shift.business_day,
        period_start_utc=shift.opened_at,
        period_end_utc=closed_at,
        opening_float=shift.opening_float,
        counted_cash=counted_cash,
    )
    expected = expected_cash(shift.opening_float, report.tenders)
    return ShiftClosure(
        shift=shift,
        closed_at=closed_at,
        counted_cash=counted_cash,
        expected_cash=expected,
        over_short=counted_cash - expected,
        report=report,
    )
