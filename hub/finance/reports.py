"""The ledger summary and profit (pure): per day, store, channel and currency.

Columns, all in minor units of the row's currency (positive numbers; ``net`` is signed):

* ``gross``: goods and shipping sold at their price before discounts, tax included;
* ``discounts``: discounts and promotions given;
* ``refunds``: money paid back on returns and marketplace refunds, tax included;
* ``tax``: tax on sales less tax refunded (tax the marketplace withholds and remits
  itself is tax too: it was never ours);
* ``fees``: marketplace fees, net of fee refunds;
* ``other``: marketplace adjustments and reimbursements (signed, added to net);
* ``net`` = gross - discounts - refunds - tax - fees + other: what the business keeps
  before the cost of the goods.

Sources: the stores' ``sale.completed`` and ``return.completed`` events (channel
``store``, the store's business day), and the marketplace settlement lines (channel
``amazon``, the day the line was posted, in the time zone of the store that shipped
the order, else UTC). Marketplace orders are booked when they are settled, so the
ledger shows money that was actually reported, not orders still open. Reserves and
transfers to the bank move money without earning it and are left out.

Profit per store, channel and currency: ``net`` less the cost of the units sold (less
the cost of units returned). The cost is the catalog's ``cost`` per SKU, used only in
the currency it was given in. When a unit's cost is unknown the profit is unknown too,
and the row says how many units and which SKUs lack a cost, with the margin of the
costed units alone; it never counts a missing cost as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from hub import csvout
from hub.finance.reconcile import return_tax_minor
from protocol.money import Money

STORE_CHANNEL = "store"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One contribution to the ledger (any field may be zero)."""

    day: date
    store_id: str
    channel: str
    currency: str
    gross: int = 0
    discounts: int = 0
    refunds: int = 0
    tax: int = 0
    fees: int = 0
    other: int = 0


@dataclass(frozen=True, slots=True)
class SkuEntry:
    """Units of a SKU sold (positive) or returned (negative) and their revenue without tax."""

    store_id: str
    channel: str
    currency: str
    sku: str
    qty: int
    revenue_minor: int


@dataclass(slots=True)
class LedgerRow:
    """The ledger for one group (day, store, channel, currency, or a subset of them)."""

    day: date | None
    store_id: str | None
    channel: str | None
    currency: str
    gross: int = 0
    discounts: int = 0
    refunds: int = 0
    tax: int = 0
    fees: int = 0
    other: int = 0

    @property
    def net(self) -> int:
        """gross - discounts - refunds - tax - fees + other."""
        return self.gross - self.discounts - self.refunds - self.tax - self.fees + self.other

    def add(self, entry: LedgerEntry) -> None:
        """Add one entry."""
        self.gross += entry.gross
        self.discounts += entry.discounts
        self.refunds += entry.refunds
        self.tax += entry.tax
        self.fees += entry.fees
        self.other += entry.other


GROUPS = ("day", "store", "channel")


def summarise(entries: Iterable[LedgerEntry], group_by: Iterable[str] = GROUPS) -> list[LedgerRow]:
    """Add entries up by the chosen dimensions (always per currency), sorted."""
    dims = set(group_by)
    unknown = dims - set(GROUPS)
    if unknown:
        raise ValueError(f"cannot group by {', '.join(sorted(unknown))}; use {', '.join(GROUPS)}")
    rows: dict[tuple[Any, ...], LedgerRow] = {}
    for e in entries:
        key = (
            e.day if "day" in dims else None,
            e.store_id if "store" in dims else None,
            e.channel if "channel" in dims else None,
            e.currency,
        )
        row = rows.get(key)
        if row is None:
            row = rows[key] = LedgerRow(*key)
        row.add(e)
    return sorted(
        rows.values(),
        key=lambda r: (r.day or date.min, r.store_id or "", r.channel or "", r.currency),
    )


def totals(rows: Iterable[LedgerRow]) -> list[LedgerRow]:
    """One total row per currency."""
    out: dict[str, LedgerRow] = {}
    for row in rows:
        total = out.setdefault(row.currency, LedgerRow(None, None, None, row.currency))
        total.gross += row.gross
        total.discounts += row.discounts
        total.refunds += row.refunds
        total.tax += row.tax
        total.fees += row.fees
        total.other += row.other
    return [out[c] for c in sorted(out)]


# --- store events ------------------------------------------------------------------------------


def sale_entry(store_id: str, body: Mapping[str, Any]) -> LedgerEntry:
    """The ledger entry of a ``sale.completed`` body."""
    discounts = (
        int(body["discounts_minor"])
        if body.get("discounts_minor") is not None
        else sum(int(d.get("amount_minor", 0)) for d in body.get("discounts") or [])
    )
    return LedgerEntry(
        day=date.fromisoformat(str(body["business_day"])),
        store_id=store_id,
        channel=STORE_CHANNEL,
        currency=str(body["currency"]),
        # total = gross - discounts in both pricing modes (tax is in the total), so:
        gross=int(body["total_minor"]) + discounts,
        discounts=discounts,
        tax=int(body["tax_minor"]),
    )


def return_entry(store_id: str, body: Mapping[str, Any]) -> LedgerEntry:
    """The ledger entry of a ``return.completed`` body (refund, and its tax when sent)."""
    return LedgerEntry(
        day=date.fromisoformat(str(body["business_day"])),
        store_id=store_id,
        channel=STORE_CHANNEL,
        currency=str(body["currency"]),
        refunds=int(body["refund_total_minor"]),
        tax=-(return_tax_minor(body) or 0),
    )


def sale_sku_entries(store_id: str, body: Mapping[str, Any]) -> list[SkuEntry]:
    """Units and revenue without tax per line of a ``sale.completed`` body."""
    currency = str(body["currency"])
    return [
        SkuEntry(
            store_id,
            STORE_CHANNEL,
            currency,
            str(line["sku"]),
            int(line["qty"]),
            int(line["total_minor"]) - int(line["tax_minor"]),
        )
        for line in body["lines"]
    ]


def return_sku_entries(store_id: str, body: Mapping[str, Any]) -> list[SkuEntry]:
    """Units and revenue without tax (negative) per line of a ``return.completed`` body."""
    currency = str(body["currency"])
    return [
        SkuEntry(
            store_id,
            STORE_CHANNEL,
            currency,
            str(line["sku"]),
            -int(line["qty"]),
            -(int(line["refund_minor"]) - int(line.get("tax_minor") or 0)),
        )
        for line in body["lines"]
    ]


# --- settlements -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookedLine:
    """A settlement line with where it belongs: its day, store and canonical SKU."""

    day: date
    store_id: str
    channel: str
    currency: str
    kind: str
    component: str
    amount_minor: int
    sku: str | None = None
    quantity: int | None = None


_SALE_COMPONENTS = frozenset({"principal", "shipping", "tax", "shipping_tax"})
_TAX_COMPONENTS = frozenset({"tax", "shipping_tax"})
_REVENUE_COMPONENTS = frozenset({"principal", "shipping", "promotion"})
_LEDGER_KINDS = frozenset({"order", "refund", "fee", "adjustment", "other"})


def settlement_entry(line: BookedLine) -> LedgerEntry | None:
    """The ledger entry of one settlement line (None for reserves and transfers)."""
    if line.kind not in _LEDGER_KINDS:
        return None
    base = LedgerEntry(line.day, line.store_id, line.channel, line.currency)
    amount = line.amount_minor
    if line.component == "fee":
        return replace(base, fees=-amount)
    if line.component == "withheld_tax":
        # The marketplace keeps tax it remits itself: already counted in ``tax``.
        return base
    if line.kind == "order":
        if line.component in _SALE_COMPONENTS:
            tax = amount if line.component in _TAX_COMPONENTS else 0
            return replace(base, gross=amount, tax=tax)
        if line.component == "promotion":
            return replace(base, discounts=-amount)
        return replace(base, other=amount)
    if line.kind == "refund":
        tax = amount if line.component in _TAX_COMPONENTS else 0
        return replace(base, refunds=-amount, tax=tax)
    return replace(base, other=amount)


def settlement_sku_entry(line: BookedLine) -> SkuEntry | None:
    """Units and revenue without tax of an order or refund line that names a SKU."""
    if line.sku is None or line.kind not in ("order", "refund"):
        return None
    if line.component not in _REVENUE_COMPONENTS:
        return None
    qty = 0
    if line.component == "principal" and line.quantity:
        qty = line.quantity if line.kind == "order" else -abs(line.quantity)
    return SkuEntry(line.store_id, line.channel, line.currency, line.sku, qty, line.amount_minor)


# --- profit ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductCost:
    """A SKU's cost per unit in the currency it was given in."""

    cost_minor: int
    currency: str


@dataclass(slots=True)
class ProfitRow:
    """Profit of one store and channel in one currency; ``profit`` None while a cost is unknown."""

    store_id: str
    channel: str
    currency: str
    net: int = 0
    """The ledger's net (after tax, discounts, refunds and fees)."""
    units: int = 0
    cost_of_goods: int = 0
    """The cost of the units whose cost is known."""
    costed_revenue: int = 0
    units_cost_unknown: int = 0
    revenue_cost_unknown: int = 0
    skus_cost_unknown: set[str] = field(default_factory=set)

    @property
    def cost_known(self) -> bool:
        """True when every unit sold or returned has a cost in this currency."""
        return not self.skus_cost_unknown

    @property
    def profit(self) -> int | None:
        """net - cost of goods; None when a cost is unknown."""
        return self.net - self.cost_of_goods if self.cost_known else None

    @property
    def costed_margin(self) -> int:
        """Revenue without tax of the costed units less their cost (fees not included)."""
        return self.costed_revenue - self.cost_of_goods


def profit_rows(
    ledger_rows: Iterable[LedgerRow],
    sku_entries: Iterable[SkuEntry],
    costs: Mapping[str, ProductCost],
) -> list[ProfitRow]:
    """Profit per (store, channel, currency) from ledger rows grouped by store and channel."""
    out: dict[tuple[str, str, str], ProfitRow] = {}
    for row in ledger_rows:
        key = (row.store_id or "", row.channel or "", row.currency)
        out.setdefault(key, ProfitRow(*key)).net += row.net
    for e in sku_entries:
        key = (e.store_id, e.channel, e.currency)
        prow = out.setdefault(key, ProfitRow(*key))
        prow.units += e.qty
        cost = costs.get(e.sku)
        if cost is not None and cost.currency == e.currency:
            prow.cost_of_goods += cost.cost_minor * e.qty
            prow.costed_revenue += e.revenue_minor
        elif e.qty or e.revenue_minor:
            prow.units_cost_unknown += e.qty
            prow.revenue_cost_unknown += e.revenue_minor
            prow.skus_cost_unknown.add(e.sku)
    return [out[k] for k in sorted(out)]


# --- CSV ---------------------------------------------------------------------------------------


def major(amount_minor: int | None, currency: str) -> Amount:
    """Minor units as a decimal in the currency's major unit ("" for None)."""
    if amount_minor is None or not currency:
        return Amount("")
    return Amount(Money(int(amount_minor), currency).format())


class Amount(csvout.Verbatim):
    """A formatted amount: written as is (its leading minus is a sign, not a formula)."""

    __slots__ = ()


to_csv = csvout.to_csv


LEDGER_CSV_HEADER = [
    "day",
    "store",
    "channel",
    "currency",
    "gross",
    "discounts",
    "refunds",
    "tax",
    "fees",
    "other",
    "net",
]


def ledger_csv(rows: Iterable[LedgerRow]) -> tuple[str, int]:
    """The ledger as CSV, money in major units (a money column like "-3.50" stays a number)."""
    return to_csv(
        LEDGER_CSV_HEADER,
        (
            [
                r.day,
                r.store_id or "",
                r.channel or "",
                r.currency,
                *(
                    major(v, r.currency)
                    for v in (r.gross, r.discounts, r.refunds, r.tax, r.fees, r.other, r.net)
                ),
            ]
            for r in rows
        ),
    )
