"""Shifts and Z reports: open with a float, close with the counted drawer and shift.closed."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from edge_agent.domain.business_day import business_day, utc_now
from edge_agent.domain.shift import Shift, ShiftClosure, close_shift, open_shift
from edge_agent.domain.zreport import ZReport, z_report_for_business_day
from edge_agent.store.db import write_transaction
from edge_agent.store.errors import Conflict, NotFound
from edge_agent.store.models import Shift as ShiftRow
from edge_agent.store.outbox import Outbox
from edge_agent.store.returns import ReturnsRepository
from edge_agent.store.sales import SalesRepository
from protocol import messages as wire
from protocol.money import Money

_LOGGER = logging.getLogger(__name__)


def z_report_dict(report: ZReport) -> dict[str, Any]:
    """Return a Z report as plain JSON (minor units), for the API, the screen and the archive."""

    def m(amount: Money | None) -> int | None:
        return None if amount is None else amount.amount_minor

    return {
        "currency": report.currency,
        "shift_id": report.shift_id,
        "business_day": report.business_day.isoformat() if report.business_day else None,
        "period_start_utc": report.period_start_utc.isoformat()
        if report.period_start_utc
        else None,
        "period_end_utc": report.period_end_utc.isoformat() if report.period_end_utc else None,
        "sales_count": report.sales_count,
        "items_sold": report.items_sold,
        "gross_sales_minor": m(report.gross_sales),
        "discounts_minor": m(report.discounts),
        "discounts_by_reason": [
            {"reason": r.reason, "count": r.count, "amount_minor": m(r.amount)}
            for r in report.discounts_by_reason
        ],
        "price_overrides_count": report.price_overrides_count,
        "sales_net_minor": m(report.sales_net),
        "sales_tax_minor": m(report.sales_tax),
        "sales_total_minor": m(report.sales_total),
        "returns_count": report.returns_count,
        "blind_returns_count": report.blind_returns_count,
        "items_returned": report.items_returned,
        "items_restocked": report.items_restocked,
        "items_written_off": report.items_written_off,
        "returns_total_minor": m(report.returns_total),
        "returns_tax_minor": m(report.returns_tax),
        "net_total_minor": m(report.net_total),
        "tax_total_minor": m(report.tax_total),
        "voids_count": report.voids_count,
        "voids_total_minor": m(report.voids_total),
        "tax_by_rate": [
            {
                "rate": row.rate.percent_text(),
                "rate_ppm": row.rate.ppm,
                "tax_classes": list(row.tax_classes),
                "net_minor": m(row.net),
                "tax_minor": m(row.tax),
                "gross_minor": m(row.gross),
            }
            for row in report.tax_by_rate
        ],
        "tenders": {
            str(kind): {
                "sales_count": t.sales_count,
                "taken_minor": m(t.taken),
                "refunded_minor": m(t.refunded),
                "net_minor": m(t.net),
            }
            for kind, t in report.tenders.items()
        },
        "change_given_minor": m(report.change_given),
        "opening_float_minor": m(report.opening_float),
        "expected_cash_minor": m(report.expected_cash),
        "counted_cash_minor": m(report.counted_cash),
        "over_short_minor": m(report.over_short),
    }


@dataclass(frozen=True, slots=True)
class ShiftView:
    """A shift as the screen lists it."""

    shift: Shift
    closed: bool
    report: dict[str, Any] | None


def _domain_shift(row: ShiftRow) -> Shift:
    return Shift(
        shift_id=row.id,
        cashier_id=row.cashier_id,
        business_day=date.fromisoformat(row.business_day),
        opened_at=row.opened_at,
        opening_float=Money(row.opening_float_minor, row.currency),
    )


class ShiftRepository:
    """Opens and closes the till's shifts and builds Z reports."""

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        outbox: Outbox,
        sales: SalesRepository,
        returns: ReturnsRepository,
        *,
        currency: str,
        tz: ZoneInfo,
        day_start: time = time(0, 0),
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._sales = sales
        self._returns = returns
        self._currency = currency
        self._tz = tz
        self._day_start = day_start

    def current(self) -> Shift | None:
        """Return the open shift of this till, if any."""
        row = ShiftRow.get_or_none(ShiftRow.closed_at.is_null())
        return None if row is None else _domain_shift(row)

    def closed_count(self) -> int:
        """How many shifts this till has closed (the Z number of the last one)."""
        return int(ShiftRow.select().where(ShiftRow.closed_at.is_null(False)).count())

    def get(self, shift_id: str) -> ShiftView:
        """Return one shift with its Z report once closed."""
        row = ShiftRow.get_or_none(ShiftRow.id == shift_id)
        if row is None:
            raise NotFound(f"no shift {shift_id!r}")
        report = json.loads(row.report) if row.report else None
        return ShiftView(_domain_shift(row), row.closed_at is not None, report)

    def open(self, cashier_id: str, opening_float_minor: int) -> Shift:
        """Open the till's shift; Conflict if one is open already."""
        now = utc_now()
        shift = open_shift(
            shift_id=str(uuid.uuid4()),
            cashier_id=cashier_id,
            opening_float=Money(opening_float_minor, self._currency),
            now_utc=now,
            business_day=business_day(now, self._tz, self._day_start),
        )
        with write_transaction(self._db):
            current = self.current()
            if current is not None:
                raise Conflict(
                    f"a shift is already open (opened by {current.cashier_id}); close it first"
                )
            ShiftRow.create(
                id=shift.shift_id,
                cashier_id=shift.cashier_id,
                business_day=shift.business_day.isoformat(),
                opened_at=shift.opened_at,
                currency=self._currency,
                opening_float_minor=opening_float_minor,
            )
        _LOGGER.info("shift %s opened by %s", shift.shift_id, cashier_id)
        return shift

    def close(self, shift_id: str, counted_cash_minor: int) -> ShiftClosure:
        """Close a shift with the counted drawer; writes its Z report and shift.closed."""
        now = utc_now()
        with write_transaction(self._db):
            row = ShiftRow.get_or_none(ShiftRow.id == shift_id)
            if row is None:
                raise NotFound(f"no shift {shift_id!r}")
            if row.closed_at is not None:
                raise Conflict(f"shift {shift_id} is already closed")
            shift = _domain_shift(row)
            closure = close_shift(
                shift,
                counted_cash=Money(counted_cash_minor, self._currency),
                now_utc=now,
                sales=self._sales.sales_of_shift(shift_id),
                returns=self._returns.returns_of_shift(shift_id),
                voids=self._sales.voids_of_shift(shift_id),
            )
            report = z_report_dict(closure.report)
            ShiftRow.update(
                closed_at=closure.closed_at,
                counted_cash_minor=counted_cash_minor,
                report=json.dumps(report),
            ).where(ShiftRow.id == shift_id).execute()
            z = closure.report
            self._outbox.append(
                "shift.closed",
                wire.ShiftClosed(
                    shift_id=shift.shift_id,
                    cashier_id=shift.cashier_id,
                    business_day=shift.business_day,
                    opened_at=shift.opened_at,
                    closed_at=closure.closed_at,
                    currency=self._currency,
                    sales_count=z.sales_count,
                    gross_minor=z.gross_sales.amount_minor,
                    discounts_minor=z.discounts.amount_minor,
                    tax_minor=z.tax_total.amount_minor,
                    returns_minor=z.returns_total.amount_minor,
                    voids_count=z.voids_count,
                    tenders=z.tenders_net_minor(),
                    expected_cash_minor=closure.expected_cash.amount_minor,
                    counted_cash_minor=counted_cash_minor,
                    over_short_minor=closure.over_short.amount_minor,
                    sales_total_minor=z.sales_total.amount_minor,
                    opening_float_minor=shift.opening_float.amount_minor,
                ),
                at=now,
            )
        _LOGGER.info(
            "shift %s closed: %d sales, over/short %d",
            shift_id,
            closure.report.sales_count,
            closure.over_short.amount_minor,
        )
        return closure

    def z_report_for_day(self, day: date) -> ZReport:
        """Build the Z report of one business day from the records stamped with it."""
        return z_report_for_business_day(
            day,
            tz=self._tz,
            currency=self._currency,
            sales=self._sales.sales_of_day(day),
            returns=self._returns.returns_of_day(day),
            voids=self._sales.voids_of_day(day),
            day_start=self._day_start,
        )
