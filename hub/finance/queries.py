"""The finance reports' database shell: load rows, hand them to the pure modules.

Store figures come from ``applied_events`` (the bodies of ``sale.completed``,
``return.completed`` and ``shift.closed`` as the tills sent them), because
``sales_facts`` keeps neither discounts, the tax of returns nor the shift. Events are
selected by their time with a two-day margin around the requested business days and
then kept by the business day they carry, so a store in any time zone (and with any
day start) gets exactly its days. Marketplace figures come from ``settlement_lines``
(hub.db.models_finance) and ``marketplace_orders``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeAlias

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from hub.channels.amazon.states import RoutingState
from hub.db.models import AppliedEvent, Price, PriceList, Product, Store
from hub.db.models_channels import (
    ChannelAccount,
    ChannelSkuMapping,
    MarketplaceOrder,
    MarketplaceOrderLine,
)
from hub.db.models_finance import Settlement, SettlementLine
from hub.domain.business_day import business_day
from hub.finance import reconcile, reports, tax

_LOGGER = logging.getLogger(__name__)
MARGIN = timedelta(days=2)
IN_CHUNK = 500
MAX_DAYS = 366
FBA_STORE = "fba"
"""The store column of orders Amazon shipped from its own warehouses."""


@dataclass(frozen=True, slots=True)
class Period:
    """A range of business days, both ends included."""

    day_from: date
    day_to: date

    def __post_init__(self) -> None:
        if self.day_from > self.day_to:
            raise ValueError("the period ends before it starts")
        if (self.day_to - self.day_from).days >= MAX_DAYS:
            raise ValueError(f"a period is at most {MAX_DAYS} days")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.day_from <= day <= self.day_to

    @property
    def utc_window(self) -> tuple[datetime, datetime]:
        """Instants that surely hold every local business day of the period."""
        start = datetime.combine(self.day_from, time(0), tzinfo=UTC) - MARGIN
        end = datetime.combine(self.day_to + timedelta(days=1), time(0), tzinfo=UTC) + MARGIN
        return start, end

    @property
    def utc_days(self) -> tuple[datetime, datetime]:
        """The period's days in UTC, [start, end)."""
        start = datetime.combine(self.day_from, time(0), tzinfo=UTC)
        return start, datetime.combine(self.day_to + timedelta(days=1), time(0), tzinfo=UTC)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), IN_CHUNK):
        yield items[i : i + IN_CHUNK]


# --- store events ------------------------------------------------------------------------------


def store_events(
    session: Session,
    types: Iterable[str],
    *,
    start: datetime,
    end: datetime,
    store_id: str | None = None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """(store, type, body) of applied events of ``types`` stamped in [start, end), in seq order."""
    stmt = (
        select(AppliedEvent.store_id, AppliedEvent.type, AppliedEvent.body)
        .where(AppliedEvent.type.in_(sorted(set(types))))
        .where(AppliedEvent.at >= start, AppliedEvent.at < end)
        .order_by(AppliedEvent.store_id, AppliedEvent.seq)
    )
    if store_id:
        stmt = stmt.where(AppliedEvent.store_id == store_id)
    return [(s, t, b) for s, t, b in session.execute(stmt.execution_options(yield_per=2000))]


def _day_of(body: dict[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(body.get("business_day")))
    except ValueError:
        return None


StoreEvent: TypeAlias = tuple[str, str, dict[str, Any]]
SALE_TYPES = ("sale.completed", "return.completed")


def _period_events(
    session: Session, period: Period, types: Iterable[str], store_id: str | None
) -> list[StoreEvent]:
    start, end = period.utc_window
    return [
        e
        for e in store_events(session, types, start=start, end=end, store_id=store_id)
        if _day_of(e[2]) in period
    ]


def sales_events(
    session: Session, period: Period, *, store_id: str | None = None
) -> list[StoreEvent]:
    """The sales and returns of the period's business days (read once, used by several reports)."""
    return _period_events(session, period, SALE_TYPES, store_id)


# --- the ledger and profit ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _StoreZone:
    timezone: str
    day_start: time


def _zones(session: Session) -> dict[str, _StoreZone]:
    out = {}
    for store in session.scalars(select(Store)):
        minutes = store.day_start_minutes or 0
        out[store.id] = _StoreZone(store.timezone, time(minutes // 60, minutes % 60))
    return out


def booked_settlement_lines(
    session: Session,
    period: Period,
    *,
    store_id: str | None = None,
    channel: str | None = None,
) -> list[reports.BookedLine]:
    """Settlement lines posted in the period, each given its day, store and canonical SKU."""
    start, end = period.utc_window
    posted = func.coalesce(SettlementLine.posted_at, Settlement.end_at)
    stmt = (
        select(
            SettlementLine,
            Settlement.channel,
            Settlement.currency,
            Settlement.account_id,
            Settlement.marketplace_id,
            MarketplaceOrder.routed_location,
            MarketplaceOrder.fulfillment_channel,
            MarketplaceOrder.account_id,
            MarketplaceOrder.marketplace_id,
            posted,
        )
        .join(Settlement, Settlement.id == SettlementLine.settlement_pk)
        .join(
            MarketplaceOrder,
            MarketplaceOrder.id == SettlementLine.marketplace_order_pk,
            isouter=True,
        )
        .where(posted >= start, posted < end)
        .order_by(SettlementLine.id)
    )
    if channel:
        stmt = stmt.where(Settlement.channel == channel)
    rows = session.execute(stmt).all()
    zones = _zones(session)
    sku_of_item = _canonical_by_item(session, [r[0].order_item_code for r in rows])
    sku_of_seller = _canonical_by_seller_sku(session)
    out = []
    for row in rows:
        line: SettlementLine = row[0]
        ch, currency, s_account, s_mid, routed, fulfilment, o_account, o_mid, at = row[1:]
        store = ""
        if line.marketplace_order_pk is not None:
            store = FBA_STORE if fulfilment == "AFN" else (routed or "")
        if store_id is not None and store != store_id:
            continue
        zone = zones.get(store)
        day = (
            business_day(at, zone.timezone, day_start=zone.day_start)
            if zone is not None
            else at.astimezone(UTC).date()
        )
        if day not in period:
            continue
        sku = sku_of_item.get(line.order_item_code or "")
        if sku is None and line.sku:
            account = o_account if o_account is not None else s_account
            mid = o_mid or s_mid
            sku = sku_of_seller.get((account, mid, line.sku)) or sku_of_seller.get(
                (account, None, line.sku)
            )
        out.append(
            reports.BookedLine(
                day=day,
                store_id=store,
                channel=ch,
                currency=currency,
                kind=line.kind,
                component=line.component,
                amount_minor=int(line.amount_minor),
                sku=sku or line.sku,
                quantity=line.quantity,
            )
        )
    return out


def _canonical_by_item(session: Session, item_codes: Iterable[str | None]) -> dict[str, str]:
    codes = sorted({c for c in item_codes if c})
    out: dict[str, str] = {}
    for part in _chunks(codes):
        stmt = select(MarketplaceOrderLine.order_item_id, MarketplaceOrderLine.canonical_sku).where(
            MarketplaceOrderLine.order_item_id.in_(part),
            MarketplaceOrderLine.canonical_sku.is_not(None),
        )
        for code, sku in session.execute(stmt):
            if sku is not None:
                out[code] = sku
    return out


def _canonical_by_seller_sku(
    session: Session,
) -> dict[tuple[int | None, str | None, str], str]:
    out: dict[tuple[int | None, str | None, str], str] = {}
    stmt = select(
        ChannelSkuMapping.account_id,
        ChannelSkuMapping.marketplace_id,
        ChannelSkuMapping.seller_sku,
        ChannelSkuMapping.canonical_sku,
    )
    for account, mid, seller_sku, sku in session.execute(stmt):
        out[(account, mid, seller_sku)] = sku
        out.setdefault((account, None, seller_sku), sku)
    return out


def ledger_inputs(
    session: Session,
    period: Period,
    *,
    store_id: str | None = None,
    channel: str | None = None,
    events: list[StoreEvent] | None = None,
) -> tuple[list[reports.LedgerEntry], list[reports.SkuEntry]]:
    """Every ledger entry and SKU entry of the period (stores' events and settlements).

    ``events``: the period's sales and returns when the caller has read them already
    (:func:`sales_events` with the same store).
    """
    entries: list[reports.LedgerEntry] = []
    skus: list[reports.SkuEntry] = []
    if channel in (None, reports.STORE_CHANNEL):
        if events is None:
            events = sales_events(session, period, store_id=store_id)
        for store, kind, body in events:
            if kind == "sale.completed":
                entries.append(reports.sale_entry(store, body))
                skus.extend(reports.sale_sku_entries(store, body))
            else:
                entries.append(reports.return_entry(store, body))
                skus.extend(reports.return_sku_entries(store, body))
    if channel != reports.STORE_CHANNEL:
        for line in booked_settlement_lines(session, period, store_id=store_id, channel=channel):
            entry = reports.settlement_entry(line)
            if entry is not None:
                entries.append(entry)
            sku_entry = reports.settlement_sku_entry(line)
            if sku_entry is not None:
                skus.append(sku_entry)
    return entries, skus


def ledger(
    session: Session,
    period: Period,
    *,
    group_by: Iterable[str] = reports.GROUPS,
    store_id: str | None = None,
    channel: str | None = None,
) -> list[reports.LedgerRow]:
    """The ledger summary of the period, grouped by day, store and/or channel (and currency)."""
    entries, _ = ledger_inputs(session, period, store_id=store_id, channel=channel)
    return reports.summarise(entries, group_by)


def product_costs(session: Session) -> dict[str, reports.ProductCost]:
    """Each SKU's cost and the currency it is in.

    The catalog keeps one ``cost`` per SKU, parsed in the currency of the CSV row that
    gave it, and does not store that currency. A SKU priced in one currency only has
    its cost in that currency; a SKU priced in several currencies has a cost whose
    currency cannot be told, so it counts as unknown (see docs/finance.md).
    """
    currencies: dict[str, set[str]] = defaultdict(set)
    stmt = select(Price.sku, PriceList.currency).join(
        PriceList, PriceList.id == Price.price_list_id
    )
    for sku, currency in session.execute(stmt):
        currencies[sku].add(currency)
    out = {}
    for sku, cost in session.execute(
        select(Product.sku, Product.cost_minor).where(Product.cost_minor.is_not(None))
    ):
        found = currencies.get(sku, set())
        if cost is not None and len(found) == 1:
            out[sku] = reports.ProductCost(int(cost), next(iter(found)))
    return out


def profit(
    session: Session,
    period: Period,
    *,
    store_id: str | None = None,
    channel: str | None = None,
) -> list[reports.ProfitRow]:
    """Profit by store and channel (per currency); unknown costs are reported, not zeroed."""
    entries, skus = ledger_inputs(session, period, store_id=store_id, channel=channel)
    rows = reports.summarise(entries, ("store", "channel"))
    return reports.profit_rows(rows, skus, product_costs(session))


# --- tax ---------------------------------------------------------------------------------------


def tax_by_rate(
    session: Session,
    period: Period,
    *,
    store_id: str | None = None,
    events: list[StoreEvent] | None = None,
) -> list[tax.TaxRateRow]:
    """Tax by rate per store for the period: sales and returns, inclusive and exclusive."""
    if events is None:
        events = sales_events(session, period, store_id=store_id)
    rates_of_sale: dict[str, dict[str, int]] = {}
    store_rates: dict[str, set[int]] = defaultdict(set)
    store_mode: dict[str, bool] = {}
    lines: list[tax.TaxLine] = []
    for store, kind, body in events:
        if kind != "sale.completed":
            continue
        rates = tax.sale_rates_by_sku(body)
        rates_of_sale[str(body["sale_id"])] = rates
        store_rates[store].update(rates.values())
        store_mode.setdefault(store, bool(body.get("prices_include_tax")))
        lines.extend(tax.sale_tax_lines(store, body))
    missing: dict[str, set[str]] = defaultdict(set)
    for store, kind, body in events:
        original = body.get("original_sale_id")
        if kind == "return.completed" and original and str(original) not in rates_of_sale:
            missing[store].add(str(original))
    for store, sale_ids in sorted(missing.items()):
        found = _original_sales(session, store, sale_ids, period)
        for sale_id, (rates, inclusive) in found.items():
            rates_of_sale[sale_id] = rates
            store_mode.setdefault(store, inclusive)
    for store, kind, body in events:
        if kind != "return.completed":
            continue
        original = body.get("original_sale_id")
        lines.extend(
            tax.return_tax_lines(
                store,
                body,
                inclusive=store_mode.get(store, True),
                original_rates=rates_of_sale.get(str(original)) if original else None,
                known_rates=store_rates[store],
            )
        )
    return tax.summarise_tax(lines)


def _original_sales(
    session: Session, store_id: str, sale_ids: set[str], period: Period
) -> dict[str, tuple[dict[str, int], bool]]:
    """Rates and pricing mode of a store's earlier sales returned in the period (90 days back)."""
    start, end = period.utc_window
    out: dict[str, tuple[dict[str, int], bool]] = {}
    for _store, _kind, body in store_events(
        session,
        ("sale.completed",),
        start=start - timedelta(days=90),
        end=end,
        store_id=store_id,
    ):
        sale_id = str(body.get("sale_id"))
        if sale_id in sale_ids:
            out[sale_id] = (tax.sale_rates_by_sku(body), bool(body.get("prices_include_tax")))
    return out


# --- reconciliation ----------------------------------------------------------------------------


_SHIPPED_STATES = frozenset({RoutingState.HANDED_OVER.value, RoutingState.CONFIRMED.value})


def _shipped_at(order: MarketplaceOrder) -> datetime | None:
    if order.handed_over_at is not None:
        return order.handed_over_at
    if order.shipment_confirmed_at is not None:
        return order.shipment_confirmed_at
    if order.routing_state in _SHIPPED_STATES or order.status in ("Shipped", "PartiallyShipped"):
        return order.last_updated_at
    return None


def _expected(order: MarketplaceOrder, account: str) -> reconcile.ExpectedOrder:
    data = order.data or {}
    return reconcile.ExpectedOrder(
        order_pk=order.id,
        account=account,
        account_id=order.account_id,
        marketplace_id=order.marketplace_id,
        marketplace_order_id=order.marketplace_order_id,
        currency=order.currency,
        total_minor=order.total_minor,
        components=reconcile.expected_components(data.get("lines")),
        cancelled=order.status == "Canceled" or order.routing_state == RoutingState.CANCELLED.value,
        shipped_at=_shipped_at(order),
        store_id=FBA_STORE if order.fulfillment_channel == "AFN" else order.routed_location,
        purchased_at=order.purchased_at,
        status=order.status,
    )


def _settled_line(row: Any) -> reconcile.SettledLine:
    line: SettlementLine = row[0]
    return reconcile.SettledLine(
        settlement_id=row[1],
        currency=row[2],
        kind=line.kind,
        component=line.component,
        description=line.amount_description,
        amount_minor=int(line.amount_minor),
        order_id=line.order_id,
        order_pk=line.marketplace_order_pk,
        posted_at=line.posted_at,
        account_id=row[3],
        marketplace_id=row[4],
    )


def order_reconciliations(
    session: Session,
    period: Period,
    *,
    account_id: int | None = None,
    referral_rate_ppm: int = reconcile.DEFAULT_REFERRAL_RATE_PPM,
) -> list[reconcile.OrderReconciliation]:
    """Reconcile the orders bought in the period (UTC days) and the unknown orders settled in it."""
    start, end = period.utc_days
    stmt = (
        select(MarketplaceOrder, ChannelAccount.name)
        .join(ChannelAccount, ChannelAccount.id == MarketplaceOrder.account_id)
        .where(MarketplaceOrder.purchased_at >= start, MarketplaceOrder.purchased_at < end)
        .order_by(MarketplaceOrder.id)
    )
    if account_id is not None:
        stmt = stmt.where(MarketplaceOrder.account_id == account_id)
    orders = [_expected(o, name) for o, name in session.execute(stmt)]
    line_cols = (
        SettlementLine,
        Settlement.settlement_id,
        Settlement.currency,
        Settlement.account_id,
        Settlement.marketplace_id,
    )
    lines: list[reconcile.SettledLine] = []
    pks = [o.order_pk for o in orders]
    ids = [o.marketplace_order_id for o in orders]
    seen: set[int] = set()
    for part_pks, part_ids in zip(_chunks(pks), _chunks(ids), strict=True):
        q = (
            select(*line_cols)
            .join(Settlement, Settlement.id == SettlementLine.settlement_pk)
            .where(
                or_(
                    SettlementLine.marketplace_order_pk.in_(part_pks),
                    and_(
                        SettlementLine.marketplace_order_pk.is_(None),
                        SettlementLine.order_id.in_(part_ids),
                    ),
                )
            )
        )
        for row in session.execute(q):
            if row[0].id not in seen:
                seen.add(row[0].id)
                lines.append(_settled_line(row))
    # Lines of orders we never imported, settled in the period.
    posted = func.coalesce(SettlementLine.posted_at, Settlement.end_at)
    q = (
        select(*line_cols)
        .join(Settlement, Settlement.id == SettlementLine.settlement_pk)
        .where(
            SettlementLine.marketplace_order_pk.is_(None),
            SettlementLine.order_id.is_not(None),
            SettlementLine.order_id != "",
            posted >= start,
            posted < end,
        )
    )
    if account_id is not None:
        q = q.where(Settlement.account_id == account_id)
    strays = [r for r in session.execute(q) if r[0].id not in seen]
    stray_ids = sorted({str(r[0].order_id) for r in strays})
    known: set[str] = set()
    for part in _chunks(stray_ids):
        known.update(
            session.scalars(
                select(MarketplaceOrder.marketplace_order_id).where(
                    MarketplaceOrder.marketplace_order_id.in_(part)
                )
            )
        )
    lines.extend(_settled_line(r) for r in strays if r[0].order_id not in known)
    through: dict[tuple[int, str], datetime] = {}
    q2 = select(Settlement.account_id, Settlement.marketplace_id, func.max(Settlement.end_at))
    for acc, mid, end_at in session.execute(
        q2.group_by(Settlement.account_id, Settlement.marketplace_id)
    ):
        if acc is not None and mid is not None and end_at is not None:
            through[(acc, mid)] = end_at
    return reconcile.reconcile_orders(
        orders, lines, settled_through=through, referral_rate_ppm=referral_rate_ppm
    )


def shift_reconciliations(
    session: Session, period: Period, *, store_id: str | None = None
) -> list[reconcile.ShiftReconciliation]:
    """Every shift closed on a business day of the period against its synced sales."""
    closed = _period_events(session, period, ("shift.closed",), store_id)
    figures = [reconcile.ZReportFigures.from_body(store, body) for store, _, body in closed]
    by_store: dict[str, list[reconcile.ZReportFigures]] = defaultdict(list)
    for z in figures:
        by_store[z.store_id].append(z)
    out = []
    for store, shifts in sorted(by_store.items()):
        opened = [z.opened_at or z.closed_at for z in shifts if z.opened_at or z.closed_at]
        ended = [z.closed_at for z in shifts if z.closed_at]
        if not opened or not ended:
            continue
        start = min(d for d in opened if d is not None) - timedelta(hours=1)
        end = max(ended) + timedelta(hours=1)
        sales: dict[str, list[dict[str, Any]]] = defaultdict(list)
        returns: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for _, kind, body in store_events(
            session,
            ("sale.completed", "return.completed"),
            start=start,
            end=end,
            store_id=store,
        ):
            shift_id = body.get("shift_id")
            if not shift_id:
                continue
            (sales if kind == "sale.completed" else returns)[str(shift_id)].append(body)
        for z in shifts:
            synced = reconcile.totals_from_events(sales[z.shift_id], returns[z.shift_id])
            out.append(reconcile.reconcile_shift(z, synced))
    out.sort(key=lambda r: (not r.has_discrepancy, r.z.business_day, r.z.store_id, r.z.shift_id))
    return out
