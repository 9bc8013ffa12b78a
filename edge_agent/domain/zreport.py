"""The Z report: the totals of a shift or a business day, built from its sales, returns and voids.

Definitions (every figure in the store's currency, integer minor units):

* ``gross_sales``: the shelf-price value of the goods sold, before discounts
  (tax included when the store's prices include tax);
* ``discounts``: line and cart discounts given, also broken down by reason;
* ``sales_total``: what customers paid for sales (after discounts, with tax);
  ``sales_net`` and ``sales_tax`` split it;
* ``returns_total``: refunds paid (tax included); ``returns_tax`` their tax;
* ``net_total`` = ``sales_total`` - ``returns_total``;
* ``tax_by_rate``: per rate, sales minus returns (the tax owed for the period);
* ``tenders``: per tender kind, what sales took (cash net of change), what
  refunds paid out, and the difference;
* ``voids_count`` / ``voids_total``: carts abandoned before payment (audit only);
* cash reconciliation for a shift: ``expected_cash`` = opening float + cash
  taken (tendered - change) - cash refunded; ``over_short`` = counted - expected
  (positive: more cash in the drawer than expected).

Returns reduce the period in which they are made, not the period of the
original sale, as a till's Z report does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from edge_agent.domain.business_day import DEFAULT_DAY_START, business_day_bounds
from edge_agent.domain.errors import CurrencyMismatch
from edge_agent.domain.returns import CompletedReturn
from edge_agent.domain.rounding import sum_money
from edge_agent.domain.sale import CompletedSale, VoidRecord
from edge_agent.domain.tax import TaxSummaryRow, sum_tax_summaries
from edge_agent.domain.tender import AppliedTender, TenderKind
from protocol.money import Money


@dataclass(frozen=True, slots=True)
class TenderTotal:
    """One tender kind's movement: taken by sales (net of change), paid out by refunds, and net."""

    kind: TenderKind
    sales_count: int
    taken: Money
    refunded: Money

    @property
    def net(self) -> Money:
        """Taken less refunded."""
        return self.taken - self.refunded


@dataclass(frozen=True, slots=True)
class ReasonTotal:
    """How often a discount reason was used and how much it took off."""

    reason: str
    count: int
    amount: Money


@dataclass(frozen=True, slots=True)
class ZReport:
    """The totals of a shift or business day (see the module doc for each figure)."""

    currency: str
    shift_id: str | None
    business_day: date | None
    period_start_utc: datetime | None
    period_end_utc: datetime | None
    sales_count: int
    items_sold: int
    gross_sales: Money
    discounts: Money
    discounts_by_reason: tuple[ReasonTotal, ...]
    price_overrides_count: int
    sales_net: Money
    sales_tax: Money
    sales_total: Money
    returns_count: int
    blind_returns_count: int
    items_returned: int
    items_restocked: int
    items_written_off: int
    returns_total: Money
    returns_tax: Money
    voids_count: int
    voids_total: Money
    tax_by_rate: tuple[TaxSummaryRow, ...]
    tenders: Mapping[TenderKind, TenderTotal]
    change_given: Money
    opening_float: Money | None
    expected_cash: Money | None
    counted_cash: Money | None
    over_short: Money | None

    @property
    def net_total(self) -> Money:
        """Sales total less refunds: what the period took, all tenders together."""
        return self.sales_total - self.returns_total

    @property
    def tax_total(self) -> Money:
        """Tax on sales less tax refunded."""
        return self.sales_tax - self.returns_tax

    def tenders_net_minor(self) -> dict[str, int]:
        """Net per tender kind in minor units, keyed by the wire's kind names."""
        return {kind.value: total.net.amount_minor for kind, total in self.tenders.items()}


def _check_currency(
    currency: str, records: Iterable[CompletedSale | CompletedReturn | VoidRecord]
) -> None:
    for record in records:
        if record.currency != currency:
            raise CurrencyMismatch(currency, record.currency)


def _tender_totals(
    currency: str, sales: Sequence[CompletedSale], returns: Sequence[CompletedReturn]
) -> Mapping[TenderKind, TenderTotal]:
    def taken(tenders: Iterable[AppliedTender], kind: TenderKind) -> Money:
        return sum_money((t.taken for t in tenders if t.kind is kind), currency)

    totals = {}
    for kind in TenderKind:
        totals[kind] = TenderTotal(
            kind=kind,
            sales_count=sum(
                1
                for s in sales
                if any(t.kind is kind and not t.amount.is_zero() for t in s.tenders)
            ),
            taken=sum_money((taken(s.tenders, kind) for s in sales), currency),
            refunded=sum_money((taken(r.tenders, kind) for r in returns), currency),
        )
    return totals


def expected_cash(opening_float: Money, tenders: Mapping[TenderKind, TenderTotal]) -> Money:
    """Cash that should be in the drawer: float + cash taken (net of change) - cash refunded."""
    return opening_float + tenders[TenderKind.CASH].net


def _discounts_by_reason(currency: str, sales: Iterable[CompletedSale]) -> tuple[ReasonTotal, ...]:
    counts: dict[str, int] = {}
    amounts: dict[str, Money] = {}
    for sale in sales:
        for applied in sale.discounts_applied:
            reason = applied.reason
            counts[reason] = counts.get(reason, 0) + 1
            amounts[reason] = amounts.get(reason, Money.zero(currency)) + applied.amount
    return tuple(ReasonTotal(r, counts[r], amounts[r]) for r in sorted(counts))


def build_z_report(
    currency: str,
    *,
    sales: Sequence[CompletedSale],
    returns: Sequence[CompletedReturn],
    voids: Sequence[VoidRecord],
    shift_id: str | None = None,
    business_day: date | None = None,
    period_start_utc: datetime | None = None,
    period_end_utc: datetime | None = None,
    opening_float: Money | None = None,
    counted_cash: Money | None = None,
) -> ZReport:
    """Add up the given records (no filtering); cash is reconciled when a float is given."""
    _check_currency(currency, [*sales, *returns, *voids])
    tenders = _tender_totals(currency, sales, returns)
    expected = over_short = None
    if opening_float is not None:
        if opening_float.currency != currency:
            raise CurrencyMismatch(currency, opening_float.currency)
        expected = expected_cash(opening_float, tenders)
        if counted_cash is not None:
            over_short = counted_cash - expected
    tax_rows = [row for s in sales for row in s.tax_summary]
    tax_rows += [row.negated() for r in returns for row in r.tax_summary]
    return ZReport(
        currency=currency,
        shift_id=shift_id,
        business_day=business_day,
        period_start_utc=period_start_utc,
        period_end_utc=period_end_utc,
        sales_count=len(sales),
        items_sold=sum(s.items_count for s in sales),
        gross_sales=sum_money((s.subtotal for s in sales), currency),
        discounts=sum_money((s.discounts for s in sales), currency),
        discounts_by_reason=_discounts_by_reason(currency, sales),
        price_overrides_count=sum(
            1 for s in sales for line in s.lines if line.price_override is not None
        ),
        sales_net=sum_money((s.net for s in sales), currency),
        sales_tax=sum_money((s.tax for s in sales), currency),
        sales_total=sum_money((s.total for s in sales), currency),
        returns_count=len(returns),
        blind_returns_count=sum(1 for r in returns if r.is_blind),
        items_returned=sum(r.items_count for r in returns),
        items_restocked=sum(line.qty for r in returns for line in r.lines if line.restock),
        items_written_off=sum(line.qty for r in returns for line in r.lines if not line.restock),
        returns_total=sum_money((r.refund_total for r in returns), currency),
        returns_tax=sum_money((r.tax for r in returns), currency),
        voids_count=len(voids),
        voids_total=sum_money((v.total for v in voids), currency),
        tax_by_rate=sum_tax_summaries(currency, tax_rows),
        tenders=tenders,
        change_given=sum_money((s.change for s in sales), currency),
        opening_float=opening_float,
        expected_cash=expected,
        counted_cash=counted_cash if opening_float is not None else None,
        over_short=over_short,
    )


def z_report_for_business_day(
    day: date,
    *,
    tz: ZoneInfo,
    currency: str,
    sales: Iterable[CompletedSale],
    returns: Iterable[CompletedReturn],
    voids: Iterable[VoidRecord],
    day_start: time = DEFAULT_DAY_START,
) -> ZReport:
    """Build the Z report of one business day from records stamped with that day.

    Records of other days are left out, so the shell may pass a wider window.
    The business day stamped at completion is authoritative (it is what the hub
    received); the report also states the day's UTC bounds. A business day's
    report has no cash reconciliation: a shift may straddle two business days,
    so the drawer is reconciled per shift (see :mod:`edge_agent.domain.shift`).
    """
    start, end = business_day_bounds(day, tz, day_start)
    return build_z_report(
        currency,
        sales=[s for s in sales if s.business_day == day],
        returns=[r for r in returns if r.business_day == day],
        voids=[v for v in voids if v.business_day == day],
        business_day=day,
        period_start_utc=start,
        period_end_utc=end,
    )
