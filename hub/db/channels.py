"""Marketplace channel repositories: accounts, mappings, imported orders, push state, health.

:class:`DbChannelStore` implements the channel's ``ChannelStateStore`` and
``OrderSink`` protocols (hub/channels/amazon/state.py) on the hub database, so the
importer and the quantity pusher run unchanged. Each call is one short transaction:
the importer's page state is durable as soon as the page is read, and no transaction
is held open across an SP-API call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from hub.channels.amazon.account import (
    ORDERS_API_V0,
    CredentialCipher,
    LwaCredentials,
    SellerAccount,
)
from hub.channels.amazon.mapping import SkuMap, SkuMapping, UnmappedSku
from hub.channels.amazon.marketplaces import Region
from hub.channels.amazon.model import AmazonOrder, order_from_dict, order_to_dict
from hub.channels.amazon.orders import RejectedOrder
from hub.channels.amazon.state import PageState, PendingFeed, PushOutcome, PushRecord
from hub.channels.amazon.states import RoutingState, ShipmentState, routing_state_after_import
from hub.db.models import Location, Product, StockLevel
from hub.db.models_channels import (
    ChannelAccount,
    ChannelFeed,
    ChannelHealthState,
    ChannelImportState,
    ChannelPushIssue,
    ChannelPushRecord,
    ChannelSkuMapping,
    MarketplaceOrder,
    MarketplaceOrderLine,
    RejectedMarketplaceOrder,
)
from hub.db.stores import Conflict, NotFound
from hub.db.util import insert_for
from hub.domain.channel_stock import ChannelStockPolicy, channel_sellable
from hub.domain.ledger import LocationStock

_LOGGER = logging.getLogger(__name__)
KIND_AMAZON = "amazon"


# --- accounts ------------------------------------------------------------------------------


def add_account(
    session: Session,
    account: SellerAccount,
    cipher: CredentialCipher,
    *,
    now: datetime,
    allowed_locations: Sequence[str] | None = None,
) -> ChannelAccount:
    """Store a new seller account with its credentials sealed; a taken name is a Conflict."""
    if session.scalar(select(ChannelAccount.id).where(ChannelAccount.name == account.name)):
        raise Conflict(f"a channel account named {account.name!r} exists already")
    row = ChannelAccount(
        name=account.name,
        kind=KIND_AMAZON,
        region=account.region.value,
        endpoint_url=account.endpoint_url,
        lwa_token_url=account.lwa_token_url,
        seller_id=account.seller_id,
        marketplace_ids=list(account.marketplace_ids),
        orders_api=account.orders_api,
        credentials_sealed=cipher.seal(account.credentials),
        enabled=True,
        share_bp=10_000,
        buffer=0,
        max_quantity=None,
        allowed_locations=None if allowed_locations is None else list(allowed_locations),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    for mid in account.marketplace_ids:
        session.add(ChannelImportState(account_id=row.id, marketplace_id=mid, pages_done=0))
    session.add(ChannelHealthState(account_id=row.id, since=now, operations={}, alarms=[]))
    return row


def list_accounts(session: Session, *, enabled_only: bool = False) -> list[ChannelAccount]:
    """Every channel account by name."""
    stmt = select(ChannelAccount).order_by(ChannelAccount.name)
    if enabled_only:
        stmt = stmt.where(ChannelAccount.enabled.is_(True))
    return list(session.scalars(stmt))


def get_account(session: Session, name: str) -> ChannelAccount:
    """The account called ``name``; NotFound otherwise."""
    row = session.scalar(select(ChannelAccount).where(ChannelAccount.name == name))
    if row is None:
        raise NotFound(f"no channel account named {name!r} (see `acorn hub channel list`)")
    return row


def seller_account(row: ChannelAccount, cipher: CredentialCipher) -> SellerAccount:
    """The SellerAccount of a stored row, credentials opened with ``cipher``."""
    return SellerAccount(
        name=row.name,
        seller_id=row.seller_id,
        region=Region(row.region.upper()),
        marketplace_ids=tuple(row.marketplace_ids),
        credentials=cipher.open(row.credentials_sealed),
        endpoint_url=row.endpoint_url,
        lwa_token_url=row.lwa_token_url,
        orders_api=row.orders_api or ORDERS_API_V0,
    )


def replace_credentials(
    session: Session,
    name: str,
    credentials: LwaCredentials,
    cipher: CredentialCipher,
    *,
    now: datetime,
) -> None:
    """Seal new credentials for an account (e.g. after the seller authorized again)."""
    row = get_account(session, name)
    row.credentials_sealed = cipher.seal(credentials)
    row.updated_at = now


def stock_policy(row: ChannelAccount, ship_locations: Iterable[str]) -> ChannelStockPolicy:
    """The account's stock policy; without an explicit list, the locations that ship online."""
    allowed = row.allowed_locations if row.allowed_locations is not None else ship_locations
    return ChannelStockPolicy(
        share_bp=row.share_bp,
        buffer=row.buffer,
        max_quantity=row.max_quantity,
        allowed_locations=frozenset(allowed),
    )


def shipping_locations(session: Session) -> list[str]:
    """Active locations that ship online orders."""
    return list(
        session.scalars(
            select(Location.id)
            .where(Location.active.is_(True), Location.ships_online.is_(True))
            .order_by(Location.id)
        )
    )


def channel_quantities(
    session: Session, row: ChannelAccount, skus: Iterable[str]
) -> dict[str, int]:
    """Channel sellable quantity of each canonical SKU (zero for SKUs without stock rows)."""
    wanted = sorted(set(skus))
    policy = stock_policy(row, shipping_locations(session))
    out = dict.fromkeys(wanted, 0)
    by_sku: dict[str, list[LocationStock]] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        for loc, sku, on_hand, reserved, safety in session.execute(
            select(
                StockLevel.location_id,
                StockLevel.sku,
                StockLevel.on_hand,
                StockLevel.reserved,
                StockLevel.safety_stock,
            ).where(StockLevel.sku.in_(part))
        ):
            by_sku.setdefault(sku, []).append(LocationStock(loc, on_hand, reserved, safety))
    for sku, stocks in by_sku.items():
        out[sku] = channel_sellable(stocks, policy)
    return out


# --- SKU mappings ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MappingImport:
    """What a mapping import wrote."""

    created: int
    updated: int


def import_mappings(
    session: Session, account_id: int, mappings: Iterable[SkuMapping], *, now: datetime
) -> MappingImport:
    """Upsert mappings by (marketplace, seller SKU); a canonical SKU's old listing is replaced."""
    created = updated = 0
    for m in mappings:
        existing = session.scalar(
            select(ChannelSkuMapping).where(
                ChannelSkuMapping.account_id == account_id,
                ChannelSkuMapping.marketplace_id == m.marketplace_id,
                ChannelSkuMapping.seller_sku == m.seller_sku,
            )
        )
        # a canonical SKU listed under another seller SKU before: that listing is replaced
        session.execute(
            delete(ChannelSkuMapping).where(
                ChannelSkuMapping.account_id == account_id,
                ChannelSkuMapping.marketplace_id == m.marketplace_id,
                ChannelSkuMapping.canonical_sku == m.canonical_sku,
                ChannelSkuMapping.seller_sku != m.seller_sku,
            )
        )
        if existing is None:
            session.add(
                ChannelSkuMapping(
                    account_id=account_id,
                    marketplace_id=m.marketplace_id,
                    canonical_sku=m.canonical_sku,
                    seller_sku=m.seller_sku,
                    asin=m.asin,
                    product_type=m.product_type,
                    updated_at=now,
                )
            )
            created += 1
        else:
            existing.canonical_sku = m.canonical_sku
            existing.asin = m.asin
            existing.product_type = m.product_type
            existing.updated_at = now
            updated += 1
        session.flush()
    return MappingImport(created, updated)


def load_sku_map(session: Session, account_id: int) -> SkuMap:
    """Every mapping of an account."""
    rows = session.scalars(
        select(ChannelSkuMapping).where(ChannelSkuMapping.account_id == account_id)
    )
    return SkuMap(
        SkuMapping(r.canonical_sku, r.marketplace_id, r.seller_sku, r.asin, r.product_type)
        for r in rows
    )


def unmapped_skus(session: Session, row: ChannelAccount) -> list[UnmappedSku]:
    """Active catalog SKUs without a listing in some marketplace of the account."""
    skus = session.scalars(select(Product.sku).where(Product.active.is_(True)))
    return load_sku_map(session, row.id).unmapped(skus, row.marketplace_ids)


# --- orders ---------------------------------------------------------------------------------


def _apply_order(row: MarketplaceOrder, order: AmazonOrder, *, now: datetime) -> None:
    total = order.order_total
    ship_to = order.ship_to
    row.marketplace_id = order.marketplace_id
    row.status = order.status.value
    row.fulfillment_channel = order.fulfillment_channel.value
    row.purchased_at = order.purchased_at
    row.last_updated_at = order.last_updated_at
    row.earliest_ship_at = order.earliest_ship_at
    row.ship_by_at = order.latest_ship_at
    row.currency = None if total is None else total.currency
    row.total_minor = None if total is None else total.amount_minor
    row.ship_to_postal_code = None if ship_to is None else ship_to.postal_code
    row.ship_to_country = None if ship_to is None else (ship_to.country_code or None)
    row.ship_to_city = None if ship_to is None else ship_to.city
    row.ship_to_state = None if ship_to is None else ship_to.state_or_region
    row.ship_service_level = order.ship_service_level
    row.is_prime = order.is_prime
    row.is_business = order.is_business
    row.data = order_to_dict(order)
    row.updated_at = now


def save_marketplace_order(
    session: Session, account_id: int, order: AmazonOrder, sku_map: SkuMap, *, now: datetime
) -> MarketplaceOrder:
    """Insert or update an order and its lines; move its routing state (states.py)."""
    row = session.scalar(
        select(MarketplaceOrder).where(
            MarketplaceOrder.account_id == account_id,
            MarketplaceOrder.marketplace_order_id == order.order_id,
        )
    )
    current = None if row is None else RoutingState(row.routing_state)
    if row is None:
        row = MarketplaceOrder(
            account_id=account_id,
            marketplace_order_id=order.order_id,
            routing_state=RoutingState.NEW.value,
            routing_state_at=now,
            routing_note="",
            shipment_state=ShipmentState.NONE.value,
            shipment_attempts=0,
            shipment_error="",
            imported_at=now,
        )
        session.add(row)
    _apply_order(row, order, now=now)
    state = routing_state_after_import(current, order)
    if state.value != row.routing_state:
        row.routing_state = state.value
        row.routing_state_at = now
    session.flush()
    if order.lines is not None:
        existing = {
            line.order_item_id: line
            for line in session.scalars(
                select(MarketplaceOrderLine).where(MarketplaceOrderLine.order_id == row.id)
            )
        }
        for item in order.lines:
            mapping = sku_map.for_seller_sku(item.seller_sku, order.marketplace_id)
            line = existing.get(item.order_item_id)
            if line is None:
                line = MarketplaceOrderLine(order_id=row.id, order_item_id=item.order_item_id)
                session.add(line)
            line.seller_sku = item.seller_sku
            line.canonical_sku = None if mapping is None else mapping.canonical_sku
            line.asin = item.asin
            line.title = item.title
            line.qty = item.quantity_ordered
            line.qty_shipped = item.quantity_shipped
            line.item_price_minor = (
                None if item.line_price is None else item.line_price.amount_minor
            )
            line.item_tax_minor = None if item.item_tax is None else item.item_tax.amount_minor
            line.shipping_price_minor = (
                None if item.shipping_price is None else item.shipping_price.amount_minor
            )
        session.flush()
    return row


def order_lines(session: Session, order_id: int) -> list[MarketplaceOrderLine]:
    """The lines of a stored order by order item id."""
    return list(
        session.scalars(
            select(MarketplaceOrderLine)
            .where(MarketplaceOrderLine.order_id == order_id)
            .order_by(MarketplaceOrderLine.order_item_id)
        )
    )


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Filters of the marketplace order list."""

    account: str | None = None
    marketplace_id: str | None = None
    routing_state: str | None = None
    status: str | None = None
    since: datetime | None = None


def list_orders(
    session: Session, flt: OrderFilter, *, limit: int = 100, offset: int = 0
) -> tuple[int, list[tuple[MarketplaceOrder, str]]]:
    """(total, [(order, account name)]) newest purchase first."""
    stmt = select(MarketplaceOrder, ChannelAccount.name).join(
        ChannelAccount, ChannelAccount.id == MarketplaceOrder.account_id
    )
    if flt.account:
        stmt = stmt.where(ChannelAccount.name == flt.account)
    if flt.marketplace_id:
        stmt = stmt.where(MarketplaceOrder.marketplace_id == flt.marketplace_id)
    if flt.routing_state:
        stmt = stmt.where(MarketplaceOrder.routing_state == flt.routing_state)
    if flt.status:
        stmt = stmt.where(MarketplaceOrder.status == flt.status)
    if flt.since:
        stmt = stmt.where(MarketplaceOrder.purchased_at >= flt.since)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(MarketplaceOrder.purchased_at.desc(), MarketplaceOrder.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), [(r[0], r[1]) for r in rows]


# --- shipment confirmation ------------------------------------------------------------------


def due_confirmations(
    session: Session, account_id: int, *, now: datetime
) -> list[MarketplaceOrder]:
    """Handed-over orders whose confirmation is due (first attempt or retry time reached)."""
    rows = session.scalars(
        select(MarketplaceOrder)
        .where(
            MarketplaceOrder.account_id == account_id,
            MarketplaceOrder.routing_state == RoutingState.HANDED_OVER.value,
            MarketplaceOrder.shipment_state.in_(
                (ShipmentState.NONE.value, ShipmentState.PENDING.value, ShipmentState.RETRY.value)
            ),
        )
        .order_by(MarketplaceOrder.id)
    )
    return [r for r in rows if r.shipment_next_at is None or r.shipment_next_at <= now]


# --- the protocols on the hub database ------------------------------------------------------


class DbChannelStore:
    """ChannelStateStore and OrderSink on the hub database (one transaction per call)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._ids: dict[str, int] = {}
        self._maps: dict[str, SkuMap] = {}

    def account_id(self, account: str) -> int:
        """The id of an account by name (cached)."""
        if account not in self._ids:
            with self.sessions() as session:
                self._ids[account] = get_account(session, account).id
        return self._ids[account]

    def use_sku_map(self, account: str, sku_map: SkuMap) -> None:
        """The mappings used to fill canonical SKUs on imported order lines."""
        self._maps[account] = sku_map

    def _sku_map(self, session: Session, account: str) -> SkuMap:
        if account not in self._maps:
            self._maps[account] = load_sku_map(session, self.account_id(account))
        return self._maps[account]

    def _import_row(self, session: Session, account: str, mid: str) -> ChannelImportState:
        aid = self.account_id(account)
        row = session.get(ChannelImportState, (aid, mid))
        if row is None:
            row = ChannelImportState(account_id=aid, marketplace_id=mid, pages_done=0)
            session.add(row)
        return row

    # --- checkpoints ------------------------------------------------------------------------

    def get_checkpoint(self, account: str, marketplace_id: str) -> datetime | None:
        """The stored checkpoint."""
        with self.sessions() as session:
            row = session.get(ChannelImportState, (self.account_id(account), marketplace_id))
            return None if row is None else row.checkpoint

    def set_checkpoint(self, account: str, marketplace_id: str, at: datetime) -> None:
        """Store the checkpoint; also the time of the last completed import."""
        with self.sessions.begin() as session:
            row = self._import_row(session, account, marketplace_id)
            row.checkpoint = at
            row.last_success_at = datetime.now(UTC)
            row.last_error = ""

    def get_page_state(self, account: str, marketplace_id: str) -> PageState | None:
        """The interrupted import, if any."""
        with self.sessions() as session:
            row = session.get(ChannelImportState, (self.account_id(account), marketplace_id))
            if row is None or not row.page_next_token or row.page_window_after is None:
                return None
            return PageState(
                row.page_window_after, row.page_window_before, row.page_next_token, row.pages_done
            )

    def set_page_state(self, account: str, marketplace_id: str, state: PageState | None) -> None:
        """Store or clear the interrupted import."""
        with self.sessions.begin() as session:
            row = self._import_row(session, account, marketplace_id)
            row.page_window_after = None if state is None else state.window_after
            row.page_window_before = None if state is None else state.window_before
            row.page_next_token = None if state is None else state.next_token
            row.pages_done = 0 if state is None else state.pages_done

    # --- pushes -------------------------------------------------------------------------------

    def push_records(self, account: str, marketplace_id: str) -> dict[str, PushRecord]:
        """The last push record of every SKU of a marketplace."""
        with self.sessions() as session:
            rows = session.scalars(
                select(ChannelPushRecord).where(
                    ChannelPushRecord.account_id == self.account_id(account),
                    ChannelPushRecord.marketplace_id == marketplace_id,
                )
            )
            return {
                r.seller_sku: PushRecord(
                    r.seller_sku,
                    r.marketplace_id,
                    r.quantity,
                    PushOutcome(r.outcome),
                    r.reference,
                    r.at,
                    tuple(r.issues),
                )
                for r in rows
            }

    def record_pushes(self, account: str, records: Iterable[PushRecord]) -> None:
        """Replace the push records of the given SKUs; keep refused quantities' issues."""
        aid = self.account_id(account)
        batch = list(records)
        rows: list[dict[str, Any]] = [
            {
                "account_id": aid,
                "marketplace_id": r.marketplace_id,
                "seller_sku": r.seller_sku,
                "quantity": r.quantity,
                "outcome": r.outcome.value,
                "reference": r.reference,
                "at": r.at,
                "issues": list(r.issues),
            }
            for r in batch
        ]
        if not rows:
            return
        with self.sessions.begin() as session:
            stmt = insert_for(session, ChannelPushRecord)
            stmt = stmt.on_conflict_do_update(
                index_elements=["account_id", "marketplace_id", "seller_sku"],
                set_={
                    c: getattr(stmt.excluded, c)
                    for c in ("quantity", "outcome", "reference", "at", "issues")
                },
            )
            session.execute(stmt, rows)
            issues = [
                ChannelPushIssue(
                    account_id=aid,
                    marketplace_id=r.marketplace_id,
                    seller_sku=r.seller_sku,
                    reference=r.reference,
                    quantity=r.quantity,
                    message=message,
                    at=r.at,
                )
                for r in batch
                if r.outcome is PushOutcome.INVALID
                for message in (r.issues or ("refused without a message",))
            ]
            session.add_all(issues)

    def pending_feeds(self, account: str) -> list[PendingFeed]:
        """Feeds awaiting their processing report, oldest first."""
        with self.sessions() as session:
            rows = session.scalars(
                select(ChannelFeed)
                .where(
                    ChannelFeed.account_id == self.account_id(account),
                    ChannelFeed.reported_at.is_(None),
                )
                .order_by(ChannelFeed.submitted_at, ChannelFeed.feed_id)
            )
            return [
                PendingFeed(
                    r.feed_id,
                    r.marketplace_id,
                    r.submitted_at,
                    tuple((int(m), str(s), int(q)) for m, s, q in r.messages),
                )
                for r in rows
            ]

    def add_pending_feed(self, account: str, feed: PendingFeed) -> None:
        """Remember a submitted feed."""
        with self.sessions.begin() as session:
            session.merge(
                ChannelFeed(
                    account_id=self.account_id(account),
                    feed_id=feed.feed_id,
                    marketplace_id=feed.marketplace_id,
                    submitted_at=feed.submitted_at,
                    messages=[list(m) for m in feed.messages],
                    reported_at=None,
                )
            )

    def remove_pending_feed(self, account: str, feed_id: str) -> None:
        """Mark a feed as reported (the row stays for the channel's history)."""
        with self.sessions.begin() as session:
            session.execute(
                update(ChannelFeed)
                .where(
                    ChannelFeed.account_id == self.account_id(account),
                    ChannelFeed.feed_id == feed_id,
                )
                .values(reported_at=datetime.now(UTC))
            )

    # --- orders -------------------------------------------------------------------------------

    def stored_order(self, account: str, order_id: str) -> AmazonOrder | None:
        """The stored order or None."""
        with self.sessions() as session:
            data = session.scalar(
                select(MarketplaceOrder.data).where(
                    MarketplaceOrder.account_id == self.account_id(account),
                    MarketplaceOrder.marketplace_order_id == order_id,
                )
            )
            if data is None:
                return None
            try:
                return order_from_dict(data)
            except (KeyError, TypeError, ValueError):
                # a row written without the imported copy (e.g. by hand): the import refills it
                _LOGGER.warning("order %s has no readable stored copy; re-importing it", order_id)
                return None

    def save_order(self, account: str, order: AmazonOrder) -> None:
        """Insert or update the order and its lines (one row per marketplace order id)."""
        with self.sessions.begin() as session:
            save_marketplace_order(
                session,
                self.account_id(account),
                order,
                self._sku_map(session, account),
                now=datetime.now(UTC),
            )

    def reject_order(self, account: str, rejected: RejectedOrder) -> None:
        """Keep an unparseable order with its reason."""
        with self.sessions.begin() as session:
            session.add(
                RejectedMarketplaceOrder(
                    account_id=self.account_id(account),
                    marketplace_order_id=rejected.order_id[:64],
                    reason=rejected.reason,
                    raw=_jsonable(rejected.raw),
                    at=datetime.now(UTC),
                )
            )

    def orders(self, account: str) -> list[AmazonOrder]:
        """Every stored order of the account, by order id (reports and tests)."""
        with self.sessions() as session:
            rows = session.scalars(
                select(MarketplaceOrder.data)
                .where(MarketplaceOrder.account_id == self.account_id(account))
                .order_by(MarketplaceOrder.marketplace_order_id)
            )
            return [order_from_dict(d) for d in rows]

    def rejected_orders(self, account: str) -> list[tuple[str, str]]:
        """(order id, reason) of every rejected order."""
        with self.sessions() as session:
            rows = session.execute(
                select(
                    RejectedMarketplaceOrder.marketplace_order_id, RejectedMarketplaceOrder.reason
                )
                .where(RejectedMarketplaceOrder.account_id == self.account_id(account))
                .order_by(RejectedMarketplaceOrder.id)
            )
            return [(str(a), str(b)) for a, b in rows]


def _jsonable(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {"raw": repr(raw)[:10_000]}
