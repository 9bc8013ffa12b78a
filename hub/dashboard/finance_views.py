"""The finance page: ledger summary, profit, discrepancies (orders and shifts), tax by rate, CSVs.

For the roles with the finance permission (finance, hq, admin). The figures come from
hub.finance (docs/finance.md); this module only reads the filters and renders.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from hub.dashboard.app import _audit, page, router
from hub.dashboard.permissions import Perm
from hub.dashboard.security import Viewer, need, now_utc, secure, sessions_of
from hub.db.models import Store
from hub.finance import exports, queries, reports
from hub.finance.reconcile import OrderReconciliation, ShiftReconciliation
from hub.finance.reports import LedgerRow, ProfitRow
from hub.finance.tax import TaxRateRow

_LOGGER = logging.getLogger(__name__)
CanFinance = Annotated[Viewer, Depends(need(Perm.FINANCE))]
DEFAULT_DAYS = 28
LIST_LIMIT = 300


@dataclass(frozen=True, slots=True)
class FinancePage:
    """Everything the finance page shows."""

    period: queries.Period
    store: str
    channel: str
    stores: list[str]
    by_store: list[LedgerRow]
    by_day: list[LedgerRow]
    totals: list[LedgerRow]
    profit: list[ProfitRow]
    orders: list[OrderReconciliation]
    orders_total: int
    orders_notes: int
    shifts: list[ShiftReconciliation]
    shifts_total: int
    tax: list[TaxRateRow]


def _period(day_from: date | None, day_to: date | None) -> queries.Period:
    day_to = day_to or now_utc().date()
    day_from = day_from or day_to - timedelta(days=DEFAULT_DAYS - 1)
    if day_from > day_to or (day_to - day_from).days >= queries.MAX_DAYS:
        day_from = day_to - timedelta(days=DEFAULT_DAYS - 1)
    return queries.Period(day_from, day_to)


def finance_page(request: Request, period: queries.Period, store: str, channel: str) -> FinancePage:
    """Load the page's figures (one read-only session)."""
    store_id = store or None
    ch = channel or None
    with sessions_of(request)() as session:
        stores = sorted(session.scalars(select(Store.id)))
        events = queries.sales_events(session, period, store_id=store_id)
        entries, skus = queries.ledger_inputs(
            session, period, store_id=store_id, channel=ch, events=events
        )
        by_store = reports.summarise(entries, ("store", "channel"))
        by_day = reports.summarise(entries, ("day", "store", "channel"))
        profit = reports.profit_rows(by_store, skus, queries.product_costs(session))
        orders = queries.order_reconciliations(session, period)
        shifts = queries.shift_reconciliations(session, period, store_id=store_id)
        tax = queries.tax_by_rate(session, period, store_id=store_id, events=events)
    if store_id:
        orders = [o for o in orders if o.store_id == store_id]
    flagged = [o for o in orders if o.has_discrepancy]
    notes = sum(1 for o in orders if o.flags and not o.has_discrepancy)
    bad_shifts = [s for s in shifts if s.has_discrepancy]
    return FinancePage(
        period=period,
        store=store,
        channel=channel,
        stores=stores,
        by_store=by_store,
        by_day=by_day,
        totals=reports.totals(by_store),
        profit=profit,
        orders=flagged[:LIST_LIMIT],
        orders_total=len(orders),
        orders_notes=notes,
        shifts=bad_shifts[:LIST_LIMIT],
        shifts_total=len(shifts),
        tax=tax,
    )


@router.get("/finance")
def finance(
    request: Request,
    viewer: CanFinance,
    day_from: Annotated[date | None, Query(alias="from")] = None,
    day_to: Annotated[date | None, Query(alias="to")] = None,
    store: str = "",
    channel: str = "",
) -> Response:
    """Ledger summary, profit, order and shift discrepancies, tax by rate, with CSV exports."""
    period = _period(day_from, day_to)
    view = finance_page(request, period, store.strip(), channel.strip())
    return page(request, viewer, "finance.html", view=view, kinds=exports.KINDS)


@router.get("/finance/export/{kind}.csv")
def finance_export(
    request: Request,
    viewer: CanFinance,
    kind: str,
    day_from: Annotated[date | None, Query(alias="from")] = None,
    day_to: Annotated[date | None, Query(alias="to")] = None,
    store: str = "",
    channel: str = "",
    discrepancies: bool = False,
) -> Response:
    """A finance CSV (ledger, profit, orders, shifts, tax) for the page's filters; audited."""
    if not viewer.can(Perm.EXPORT):
        return page(request, viewer, "error.html", 403, message="Exports need the export right.")
    if kind not in exports.KINDS:
        return page(request, viewer, "error.html", 404, message=f"No finance export {kind!r}.")
    period = _period(day_from, day_to)
    with sessions_of(request)() as session:
        body, rows = exports.render(
            session,
            kind,
            period,
            store_id=store.strip() or None,
            channel=channel.strip() or None,
            discrepancies_only=discrepancies,
        )
    with sessions_of(request).begin() as session:
        _audit(
            request,
            session,
            viewer,
            "export",
            f"finance-{kind}",
            rows=rows,
            filters={
                "from": period.day_from.isoformat(),
                "to": period.day_to.isoformat(),
                "store": store,
                "channel": channel,
                "discrepancies": discrepancies,
            },
        )
    stamp = now_utc().strftime("%Y%m%d-%H%M%S")
    response = Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="acorn-finance-{kind}-{stamp}.csv"'},
    )
    return secure(response)
