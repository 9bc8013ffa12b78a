"""/api/v1/finance: ledger summary, profit, order and shift reconciliation, tax by rate, CSVs.

Every route needs a principal whose roles grant the finance permission (finance, hq,
operator, admin; hub.dashboard.permissions). Periods are business days, both ends
included (``from``, ``to``; default the last 28 days); money is in minor units.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from hub.api.deps import NowDep, PrincipalDep, SessionDep
from hub.auth import Principal
from hub.dashboard.permissions import Perm, can
from hub.finance import exports, queries, reports
from hub.finance.reconcile import DEFAULT_REFERRAL_RATE_PPM

DEFAULT_DAYS = 28


def require_finance(principal: PrincipalDep) -> Principal:
    """A dependency that demands the finance permission."""
    if not can(principal, Perm.FINANCE):
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail="this needs the finance, hq or admin role",
        )
    return principal


router = APIRouter(prefix="/finance", tags=["finance"], dependencies=[Depends(require_finance)])
DayFrom = Annotated[date | None, Query(alias="from", description="first business day")]
DayTo = Annotated[date | None, Query(alias="to", description="last business day (included)")]


def _period(now_day: date, day_from: date | None, day_to: date | None) -> queries.Period:
    day_to = day_to or now_day
    day_from = day_from or day_to - timedelta(days=DEFAULT_DAYS - 1)
    try:
        return queries.Period(day_from, day_to)
    except ValueError as err:
        raise HTTPException(422, str(err)) from err


def _csv(kind: str, text: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="acorn-finance-{kind}.csv"'},
    )


@router.get("/ledger")
def ledger(
    session: SessionDep,
    now: NowDep,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    group_by: Annotated[list[str] | None, Query(description="day, store, channel")] = None,
    store: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """Gross, discounts, refunds, tax, fees, other and net per day, store, channel, currency."""
    period = _period(now.date(), day_from, day_to)
    try:
        rows = queries.ledger(
            session,
            period,
            group_by=group_by or reports.GROUPS,
            store_id=store,
            channel=channel,
        )
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    return {
        "from": period.day_from.isoformat(),
        "to": period.day_to.isoformat(),
        "rows": [exports.ledger_json(r) for r in rows],
        "totals": [exports.ledger_json(r) for r in reports.totals(rows)],
    }


@router.get("/profit")
def profit(
    session: SessionDep,
    now: NowDep,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    store: str | None = None,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """Profit by store and channel; ``profit_minor`` is null while a SKU's cost is unknown."""
    period = _period(now.date(), day_from, day_to)
    rows = queries.profit(session, period, store_id=store, channel=channel)
    return [exports.profit_json(r) for r in rows]


@router.get("/orders")
def orders(
    session: SessionDep,
    now: NowDep,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    account: int | None = None,
    discrepancies: bool = False,
    referral_rate_ppm: Annotated[int, Query(ge=0, le=1_000_000)] = DEFAULT_REFERRAL_RATE_PPM,
) -> list[dict[str, Any]]:
    """Marketplace orders bought in the period against their settlements, with the reasons."""
    period = _period(now.date(), day_from, day_to)
    rows = queries.order_reconciliations(
        session, period, account_id=account, referral_rate_ppm=referral_rate_ppm
    )
    return [exports.order_json(r) for r in rows if r.has_discrepancy or not discrepancies]


@router.get("/shifts")
def shifts(
    session: SessionDep,
    now: NowDep,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    store: str | None = None,
    discrepancies: bool = False,
) -> list[dict[str, Any]]:
    """Each shift's Z report against its synced sales, and its cash over/short."""
    period = _period(now.date(), day_from, day_to)
    rows = queries.shift_reconciliations(session, period, store_id=store)
    return [exports.shift_json(r) for r in rows if r.has_discrepancy or not discrepancies]


@router.get("/tax")
def tax_by_rate(
    session: SessionDep,
    now: NowDep,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    store: str | None = None,
) -> list[dict[str, Any]]:
    """Net, tax and gross per store, pricing mode and rate: sales, returns, the period."""
    period = _period(now.date(), day_from, day_to)
    return [exports.tax_json(r) for r in queries.tax_by_rate(session, period, store_id=store)]


@router.get("/export/{kind}.csv")
def export_csv(
    session: SessionDep,
    now: NowDep,
    kind: str,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    store: str | None = None,
    channel: str | None = None,
    account: int | None = None,
    discrepancies: bool = False,
) -> Response:
    """CSV of ``ledger``, ``profit``, ``orders``, ``shifts`` or ``tax`` (money in major units)."""
    if kind not in exports.KINDS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no finance export {kind!r}")
    period = _period(now.date(), day_from, day_to)
    text, _rows = exports.render(
        session,
        kind,
        period,
        store_id=store,
        channel=channel,
        account_id=account,
        discrepancies_only=discrepancies,
    )
    return _csv(kind, text)
