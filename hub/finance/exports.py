"""Finance CSV exports and JSON shapes, shared by the REST API and the finance page.

CSV: UTF-8, comma-separated, CRLF, money in major units with the currency in its own
column (amounts keep their sign; other text that a spreadsheet would run as a formula
gets a leading apostrophe). JSON: money in minor units (``*_minor``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from hub.finance import queries
from hub.finance.reconcile import OrderReconciliation, ShiftReconciliation
from hub.finance.reports import LedgerRow, ProfitRow, ledger_csv, major, to_csv
from hub.finance.tax import TAX_CSV_HEADER, TaxRateRow

KINDS = ("ledger", "profit", "orders", "shifts", "tax")


# --- JSON --------------------------------------------------------------------------------------


def ledger_json(row: LedgerRow) -> dict[str, Any]:
    """A ledger row in minor units."""
    return {
        "day": row.day.isoformat() if row.day else None,
        "store": row.store_id,
        "channel": row.channel,
        "currency": row.currency,
        "gross_minor": row.gross,
        "discounts_minor": row.discounts,
        "refunds_minor": row.refunds,
        "tax_minor": row.tax,
        "fees_minor": row.fees,
        "other_minor": row.other,
        "net_minor": row.net,
    }


def profit_json(row: ProfitRow) -> dict[str, Any]:
    """A profit row; ``profit_minor`` is null while a cost is unknown."""
    return {
        "store": row.store_id,
        "channel": row.channel,
        "currency": row.currency,
        "net_minor": row.net,
        "units": row.units,
        "cost_of_goods_minor": row.cost_of_goods,
        "cost_known": row.cost_known,
        "profit_minor": row.profit,
        "costed_margin_minor": row.costed_margin,
        "units_cost_unknown": row.units_cost_unknown,
        "revenue_cost_unknown_minor": row.revenue_cost_unknown,
        "skus_cost_unknown": sorted(row.skus_cost_unknown),
    }


def _flags(flags: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "code": str(f.code),
            "severity": str(f.severity),
            "message": f.message,
            "amount_minor": f.amount_minor,
        }
        for f in flags
    ]


def order_json(rec: OrderReconciliation) -> dict[str, Any]:
    """An order's reconciliation in minor units."""
    return {
        "marketplace_order_id": rec.marketplace_order_id,
        "order_pk": rec.order_pk,
        "account": rec.account,
        "store": rec.store_id,
        "status": rec.status,
        "currency": rec.currency,
        "outcome": rec.outcome,
        "discrepancy": rec.has_discrepancy,
        "expected_minor": rec.expected_minor,
        "charged_minor": rec.charged_minor,
        "difference_minor": rec.difference_minor,
        "fees_minor": rec.fees_minor,
        "withheld_tax_minor": rec.withheld_tax_minor,
        "refunds_minor": rec.refunds_minor,
        "other_minor": rec.other_minor,
        "net_minor": rec.net_minor,
        "settled_components_minor": dict(rec.settled_components),
        "settlements": list(rec.settlements),
        "flags": _flags(rec.flags),
    }


def shift_json(rec: ShiftReconciliation) -> dict[str, Any]:
    """A shift's reconciliation in minor units."""
    z = rec.z
    return {
        "store": z.store_id,
        "shift_id": z.shift_id,
        "cashier_id": z.cashier_id,
        "business_day": z.business_day.isoformat(),
        "currency": z.currency,
        "outcome": rec.outcome,
        "discrepancy": rec.has_discrepancy,
        "expected_cash_minor": z.expected_cash_minor,
        "counted_cash_minor": z.counted_cash_minor,
        "over_short_minor": z.over_short_minor,
        "synced_sales": rec.synced.sales_count,
        "synced_returns": rec.synced.returns_count,
        "checks": [
            {
                "figure": c.name,
                "z": c.z_minor,
                "synced": c.synced_minor,
                "difference": c.difference,
                "money": c.is_money,
            }
            for c in rec.checks
        ],
        "flags": _flags(rec.flags),
    }


def tax_json(row: TaxRateRow) -> dict[str, Any]:
    """A tax-by-rate row in minor units."""
    return {
        "store": row.store_id,
        "currency": row.currency,
        "pricing": row.mode,
        "rate": row.rate,
        "rate_ppm": row.rate_ppm,
        "sales_net_minor": row.sales_net_minor,
        "sales_tax_minor": row.sales_tax_minor,
        "sales_gross_minor": row.sales_gross_minor,
        "returns_net_minor": row.returns_net_minor,
        "returns_tax_minor": row.returns_tax_minor,
        "returns_gross_minor": row.returns_gross_minor,
        "net_minor": row.net_minor,
        "tax_minor": row.tax_minor,
        "gross_minor": row.gross_minor,
        "lines": row.lines,
    }


# --- CSV ---------------------------------------------------------------------------------------


def profit_csv(rows: Iterable[ProfitRow]) -> tuple[str, int]:
    """Profit rows as CSV; an unknown cost is written as "cost unknown", never as 0."""
    header = [
        "store",
        "channel",
        "currency",
        "net",
        "units",
        "cost_of_goods",
        "profit",
        "costed_margin",
        "units_cost_unknown",
        "skus_cost_unknown",
    ]
    return to_csv(
        header,
        (
            [
                r.store_id,
                r.channel,
                r.currency,
                major(r.net, r.currency),
                r.units,
                major(r.cost_of_goods, r.currency),
                major(r.profit, r.currency) if r.profit is not None else "cost unknown",
                major(r.costed_margin, r.currency),
                r.units_cost_unknown,
                ";".join(sorted(r.skus_cost_unknown)),
            ]
            for r in rows
        ),
    )


def orders_csv(rows: Iterable[OrderReconciliation]) -> tuple[str, int]:
    """Order reconciliations as CSV, one row per order with its flags joined."""
    header = [
        "marketplace_order_id",
        "account",
        "store",
        "currency",
        "outcome",
        "expected",
        "charged",
        "difference",
        "fees",
        "withheld_tax",
        "refunds",
        "other",
        "net",
        "settlements",
        "reasons",
    ]
    return to_csv(
        header,
        (
            [
                r.marketplace_order_id,
                r.account,
                r.store_id or "",
                r.currency,
                r.outcome,
                major(r.expected_minor, r.currency),
                major(r.charged_minor, r.currency),
                major(r.difference_minor, r.currency),
                major(r.fees_minor, r.currency),
                major(r.withheld_tax_minor, r.currency),
                major(r.refunds_minor, r.currency),
                major(r.other_minor, r.currency),
                major(r.net_minor, r.currency),
                ";".join(r.settlements),
                " | ".join(f.message for f in r.flags),
            ]
            for r in rows
        ),
    )


def shifts_csv(rows: Iterable[ShiftReconciliation]) -> tuple[str, int]:
    """Shift reconciliations as CSV: the Z report's figures, the synced ones, the flags."""
    names = ("sales_count", "gross", "discounts", "tax", "returns", "expected_cash")
    header = ["store", "shift_id", "cashier", "business_day", "currency", "outcome"]
    for name in names:
        header += [f"z_{name}", f"synced_{name}"]
    header += ["counted_cash", "over_short", "reasons"]

    def row(r: ShiftReconciliation) -> list[Any]:
        cur = r.z.currency
        checks = {c.name: c for c in r.checks}
        out: list[Any] = [
            r.z.store_id,
            r.z.shift_id,
            r.z.cashier_id,
            r.z.business_day,
            cur,
            r.outcome,
        ]
        for name in names:
            check = checks.get(name)
            if check is None:
                out += ["", ""]
            elif check.is_money:
                out += [major(check.z_minor, cur), major(check.synced_minor, cur)]
            else:
                out += [check.z_minor, check.synced_minor]
        out += [
            major(r.z.counted_cash_minor, cur),
            major(r.z.over_short_minor, cur),
            " | ".join(f.message for f in r.flags),
        ]
        return out

    return to_csv(header, (row(r) for r in rows))


def tax_csv(rows: Iterable[TaxRateRow]) -> tuple[str, int]:
    """Tax by rate as CSV."""
    return to_csv(
        TAX_CSV_HEADER,
        (
            [
                r.store_id,
                r.currency,
                r.mode,
                r.rate,
                "" if r.rate_ppm is None else r.rate_ppm,
                *(
                    major(v, r.currency)
                    for v in (
                        r.sales_net_minor,
                        r.sales_tax_minor,
                        r.sales_gross_minor,
                        r.returns_net_minor,
                        r.returns_tax_minor,
                        r.returns_gross_minor,
                        r.net_minor,
                        r.tax_minor,
                        r.gross_minor,
                    )
                ),
                r.lines,
            ]
            for r in rows
        ),
    )


def render(
    session: Session,
    kind: str,
    period: queries.Period,
    *,
    store_id: str | None = None,
    channel: str | None = None,
    account_id: int | None = None,
    discrepancies_only: bool = False,
) -> tuple[str, int]:
    """One finance export as CSV text and its row count; ValueError for an unknown kind."""
    if kind == "ledger":
        return ledger_csv(queries.ledger(session, period, store_id=store_id, channel=channel))
    if kind == "profit":
        return profit_csv(queries.profit(session, period, store_id=store_id, channel=channel))
    if kind == "orders":
        orders = queries.order_reconciliations(session, period, account_id=account_id)
        if discrepancies_only:
            orders = [o for o in orders if o.has_discrepancy]
        return orders_csv(orders)
    if kind == "shifts":
        shifts = queries.shift_reconciliations(session, period, store_id=store_id)
        if discrepancies_only:
            shifts = [s for s in shifts if s.has_discrepancy]
        return shifts_csv(shifts)
    if kind == "tax":
        return tax_csv(queries.tax_by_rate(session, period, store_id=store_id))
    raise ValueError(f"no finance export {kind!r}; exports are {', '.join(KINDS)}")
