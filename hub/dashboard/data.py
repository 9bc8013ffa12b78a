"""Read models of the dashboard pages: plain rows and dataclasses built from the hub's tables."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.alarm_evaluator import StoreHealth, unsynced_age_s
from hub.db.models import (
    AppliedEvent,
    DeadLetter,
    Location,
    SaleFact,
    StockLevel,
    StockMovement,
    Store,
    StoreOutage,
    StoreStatus,
    StoreSync,
)
from hub.db.queries import sku_stock
from hub.domain.business_day import business_day
from protocol.money import Money

RECENT_EVENTS = 50
TREND_DAYS = 28


def money(amount_minor: int, currency: str) -> str:
    """An amount for people: "1234.50 EUR"."""
    return f"{Money(int(amount_minor), currency).format()} {currency}"


def _day_start(store: Store) -> time:
    minutes = store.day_start_minutes or 0
    return time(minutes // 60, minutes % 60)


def store_today(store: Store, now: datetime) -> date:
    """The store's current local business day."""
    return business_day(now, store.timezone, day_start=_day_start(store))


# --- overview ------------------------------------------------------------------------------


@dataclass(slots=True)
class StoreTile:
    """One store on the overview."""

    store_id: str
    name: str
    online: bool
    last_seen_at: datetime | None
    offline_since: datetime | None
    outbox_depth: int | None
    sync_lag_s: float | None
    seq_gap: int
    agent_version: str | None
    today: date
    currency: str
    sales_today_minor: int = 0
    sales_last_week_minor: int = 0

    def as_json(self) -> dict[str, Any]:
        """What the live stream sends for a tile."""
        return {
            "store_id": self.store_id,
            "online": self.online,
            "last_seen_at": None if self.last_seen_at is None else self.last_seen_at.isoformat(),
            "offline_since": (
                None if self.offline_since is None else self.offline_since.isoformat()
            ),
            "outbox_depth": self.outbox_depth,
            "sync_lag_s": None if self.sync_lag_s is None else round(self.sync_lag_s),
            "seq_gap": self.seq_gap,
        }


def store_tiles(session: Session, now: datetime) -> list[StoreTile]:
    """Every active store with its presence, sync lag and outbox depth."""
    rows = session.execute(
        select(Store, StoreStatus, StoreSync)
        .join(StoreStatus, StoreStatus.store_id == Store.id)
        .join(StoreSync, StoreSync.store_id == Store.id, isouter=True)
        .where(Store.active.is_(True))
        .order_by(Store.id)
    ).all()
    tiles = []
    for store, st, sync in rows:
        health = StoreHealth(
            store.id,
            store.name,
            st.online,
            st.offline_since,
            st.outbox_depth,
            st.oldest_unsynced_age_s,
            st.last_seen_at,
        )
        gap = 0 if sync is None else max(0, sync.highest_seen - sync.contiguous_seq)
        tiles.append(
            StoreTile(
                store_id=store.id,
                name=store.name,
                online=st.online,
                last_seen_at=st.last_seen_at,
                offline_since=st.offline_since,
                outbox_depth=st.outbox_depth,
                sync_lag_s=unsynced_age_s(health, now),
                seq_gap=gap,
                agent_version=st.agent_version,
                today=store_today(store, now),
                currency=store.currency,
            )
        )
    return tiles


@dataclass(slots=True)
class ChannelSales:
    """Net sales of one channel today and on the same weekday last week, in one currency."""

    channel: str
    currency: str
    today_minor: int = 0
    last_week_minor: int = 0


@dataclass(slots=True)
class Overview:
    """The overview page."""

    tiles: list[StoreTile]
    channels: list[ChannelSales] = field(default_factory=list)
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)


def overview(session: Session, now: datetime) -> Overview:
    """Stores with presence and today's net sales against the same weekday last week."""
    tiles = store_tiles(session, now)
    result = Overview(tiles)
    if not tiles:
        return result
    today = {t.store_id: t.today for t in tiles}
    lo = min(today.values()) - timedelta(days=7)
    hi = max(today.values())
    rows = session.execute(
        select(
            SaleFact.store_id,
            SaleFact.channel,
            SaleFact.business_day,
            SaleFact.currency,
            func.sum(SaleFact.amount_minor),
        )
        .where(SaleFact.business_day >= lo, SaleFact.business_day <= hi)
        .group_by(SaleFact.store_id, SaleFact.channel, SaleFact.business_day, SaleFact.currency)
    ).all()
    by_tile = {t.store_id: t for t in tiles}
    channels: dict[tuple[str, str], ChannelSales] = {}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for store_id, channel, day, currency, amount in rows:
        store_day = today.get(store_id)
        if store_day is None:
            continue
        amount = int(amount or 0)
        which = 0 if day == store_day else 1 if day == store_day - timedelta(days=7) else None
        if which is None:
            continue
        tile = by_tile[store_id]
        if currency == tile.currency:
            if which == 0:
                tile.sales_today_minor += amount
            else:
                tile.sales_last_week_minor += amount
        entry = channels.setdefault((channel, currency), ChannelSales(channel, currency))
        if which == 0:
            entry.today_minor += amount
        else:
            entry.last_week_minor += amount
        totals[currency][which] += amount
    result.channels = sorted(channels.values(), key=lambda c: (c.currency, c.channel))
    result.totals = {cur: (v[0], v[1]) for cur, v in sorted(totals.items())}
    return result


# --- store ---------------------------------------------------------------------------------


@dataclass(slots=True)
class StorePage:
    """One store: status, outages, devices, recent events, stock."""

    store: Store
    status: StoreStatus
    tile: StoreTile
    outages: list[StoreOutage]
    events: list[AppliedEvent]
    stock: list[StockLevel]


def store_page(session: Session, store_id: str, now: datetime) -> StorePage | None:
    """Everything the store page shows, or None for an unknown store."""
    store = session.get(Store, store_id)
    status = session.get(StoreStatus, store_id)
    if store is None or status is None:
        return None
    tile = (
        next(t for t in store_tiles(session, now) if t.store_id == store_id)
        if store.active
        else (
            StoreTile(
                store.id,
                store.name,
                status.online,
                status.last_seen_at,
                status.offline_since,
                status.outbox_depth,
                None,
                0,
                status.agent_version,
                store_today(store, now),
                store.currency,
            )
        )
    )
    outages = list(
        session.scalars(
            select(StoreOutage)
            .where(StoreOutage.store_id == store_id)
            .order_by(StoreOutage.started_at.desc())
            .limit(50)
        )
    )
    events = list(
        session.scalars(
            select(AppliedEvent)
            .where(AppliedEvent.store_id == store_id)
            .order_by(AppliedEvent.seq.desc())
            .limit(RECENT_EVENTS)
        )
    )
    stock = list(
        session.scalars(
            select(StockLevel).where(StockLevel.location_id == store_id).order_by(StockLevel.sku)
        )
    )
    return StorePage(store, status, tile, outages, events, stock)


# --- stock ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ChannelSellable:
    """What a marketplace account may list of a SKU."""

    channel: str
    sellable: int


@dataclass(slots=True)
class StockPage:
    """A SKU at every location with its movements."""

    sku: str
    name: str | None
    on_hand: int
    reserved: int
    sellable: int
    locations: list[tuple[StockLevel, str, bool, int]]
    channels: list[ChannelSellable]
    movements: list[StockMovement]


def channel_sellables(session: Session, sku: str) -> list[ChannelSellable]:
    """Sellable quantity for every marketplace account's policy (none when no channel exists)."""
    from hub.db.models_channels import ChannelAccount
    from hub.domain.channel_stock import ChannelStockPolicy, channel_sellable
    from hub.domain.ledger import LocationStock

    rows = session.execute(
        select(StockLevel, Location.ships_online, Location.active)
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.sku == sku)
    ).all()
    stocks = [
        LocationStock(lvl.location_id, lvl.on_hand, lvl.reserved, lvl.safety_stock)
        for lvl, _, _ in rows
    ]
    shipping = frozenset(lvl.location_id for lvl, ships, active in rows if ships and active)
    out = []
    for account in session.scalars(select(ChannelAccount).order_by(ChannelAccount.name)):
        allowed = (
            shipping
            if account.allowed_locations is None
            else (shipping & frozenset(account.allowed_locations))
        )
        policy = ChannelStockPolicy(
            share_bp=account.share_bp,
            buffer=account.buffer,
            max_quantity=account.max_quantity,
            allowed_locations=allowed,
        )
        out.append(ChannelSellable(account.name, channel_sellable(stocks, policy)))
    return out


def stock_page(session: Session, sku: str, *, movements: int = 200) -> StockPage:
    """One SKU everywhere: on hand, reserved, sellable per location and per channel."""
    from hub.db.models import Product

    found = sku_stock(session, sku)
    product = session.get(Product, sku)
    moves = list(
        session.scalars(
            select(StockMovement)
            .where(StockMovement.sku == sku)
            .order_by(StockMovement.at.desc(), StockMovement.id.desc())
            .limit(movements)
        )
    )
    return StockPage(
        sku=sku,
        name=None if product is None else product.name,
        on_hand=found.on_hand,
        reserved=found.reserved,
        sellable=found.sellable,
        locations=found.locations,
        channels=channel_sellables(session, sku),
        movements=moves,
    )


def sku_suggestions(session: Session, text: str, *, limit: int = 20) -> list[str]:
    """SKUs starting with ``text`` that have stock rows."""
    return list(
        session.scalars(
            select(StockLevel.sku)
            .where(StockLevel.sku.startswith(text, autoescape=True))
            .group_by(StockLevel.sku)
            .order_by(StockLevel.sku)
            .limit(limit)
        )
    )


# --- reports -------------------------------------------------------------------------------


@dataclass(slots=True)
class Reports:
    """Sales trend, top sellers, turnover and sell-through, in one currency."""

    currency: str
    day_from: date
    day_to: date
    trend: list[tuple[date, int, int]]
    top: list[tuple[str, str | None, int, int]]
    turnover: list[tuple[str, int, int, float | None]]
    sell_through: list[tuple[str, str, int, int, float | None]]
    other_currencies: list[str]


def reports(session: Session, *, currency: str, day_from: date, day_to: date) -> Reports:
    """Reports over local business days [day_from, day_to] in ``currency``.

    Turnover is units sold in the period over units on hand now (a period-end
    approximation of average inventory); sell-through is sold / (sold + on hand).
    """
    from hub.db.models import Product

    in_period = (
        SaleFact.business_day >= day_from,
        SaleFact.business_day <= day_to,
        SaleFact.currency == currency,
    )
    by_day = {
        d: (int(a or 0), int(u or 0))
        for d, a, u in session.execute(
            select(SaleFact.business_day, func.sum(SaleFact.amount_minor), func.sum(SaleFact.qty))
            .where(*in_period)
            .group_by(SaleFact.business_day)
        )
    }
    trend = []
    day = day_from
    while day <= day_to:
        amount, units = by_day.get(day, (0, 0))
        trend.append((day, amount, units))
        day += timedelta(days=1)
    names = {p.sku: p.name for p in session.scalars(select(Product))}
    top_rows = session.execute(
        select(SaleFact.sku, func.sum(SaleFact.qty), func.sum(SaleFact.amount_minor))
        .where(*in_period)
        .group_by(SaleFact.sku)
        .order_by(func.sum(SaleFact.amount_minor).desc())
        .limit(20)
    ).all()
    top = [(sku, names.get(sku), int(u or 0), int(a or 0)) for sku, u, a in top_rows]
    sold_by_sku = {
        sku: int(u or 0)
        for sku, u in session.execute(
            select(SaleFact.sku, func.sum(SaleFact.qty))
            .where(*in_period, SaleFact.kind == "sale")
            .group_by(SaleFact.sku)
        )
    }
    on_hand_by_sku = {
        sku: int(q or 0)
        for sku, q in session.execute(
            select(StockLevel.sku, func.sum(StockLevel.on_hand)).group_by(StockLevel.sku)
        )
    }
    turnover = []
    for sku in sorted(sold_by_sku, key=lambda s: -sold_by_sku[s])[:20]:
        sold, on_hand = sold_by_sku[sku], on_hand_by_sku.get(sku, 0)
        turnover.append((sku, sold, on_hand, round(sold / on_hand, 2) if on_hand > 0 else None))
    on_hand_by_loc = {
        loc: int(q or 0)
        for loc, q in session.execute(
            select(StockLevel.location_id, func.sum(StockLevel.on_hand)).group_by(
                StockLevel.location_id
            )
        )
    }
    sell_through = []
    for store_id, channel, units in session.execute(
        select(SaleFact.store_id, SaleFact.channel, func.sum(SaleFact.qty))
        .where(*in_period, SaleFact.kind == "sale")
        .group_by(SaleFact.store_id, SaleFact.channel)
        .order_by(SaleFact.store_id, SaleFact.channel)
    ):
        sold = int(units or 0)
        left = max(0, on_hand_by_loc.get(store_id, 0))
        rate = round(100 * sold / (sold + left), 1) if sold + left else None
        sell_through.append((store_id, channel, sold, left, rate))
    others = sorted(
        c
        for (c,) in session.execute(
            select(SaleFact.currency)
            .where(SaleFact.business_day >= day_from, SaleFact.business_day <= day_to)
            .group_by(SaleFact.currency)
        )
        if c != currency
    )
    return Reports(currency, day_from, day_to, trend, top, turnover, sell_through, others)


# --- dead letters --------------------------------------------------------------------------


def dead_letters(session: Session, *, status: str | None, limit: int = 200) -> list[DeadLetter]:
    """Dead letters, newest first."""
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(DeadLetter.status == status)
    return list(session.scalars(stmt))
