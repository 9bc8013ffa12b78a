"""Routing test builders: a channel account, marketplace orders, store events through ingest."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.db.models_channels import ChannelAccount, MarketplaceOrder, MarketplaceOrderLine
from hub.db.models_routing import RoutingAssignment, RoutingDecisionRow
from hub.ingest.apply import BatchApplier, BatchResult, InboundMessage
from protocol import topics
from protocol.codec import encode, encode_batch
from protocol.envelope import Envelope
from protocol.messages import StatusMessage

MARKETPLACE = "A1PA6795UKMFR9"  # amazon.de

# Berlin Mitte, Potsdam (about 27 km), Munich (about 500 km).
POSITIONS = {
    "s-001": (52.5200, 13.4050),
    "s-002": (52.3906, 13.0645),
    "s-003": (48.1351, 11.5820),
}


def make_account(session: Session, *, now: datetime) -> ChannelAccount:
    """An Amazon account for the DE marketplace that every location may ship for."""
    account = ChannelAccount(
        name="amazon-eu",
        kind="amazon",
        region="eu",
        endpoint_url="http://127.0.0.1:1",
        lwa_token_url="http://127.0.0.1:1/auth/o2/token",
        seller_id="A-SELLER",
        marketplace_ids=[MARKETPLACE],
        credentials_sealed="sealed",
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    session.flush()
    return account


def make_order(
    session: Session,
    account_id: int,
    order_id: str,
    lines: Iterable[tuple[str, int]],
    *,
    now: datetime,
    postal: str = "10117",
    country: str = "DE",
    total_minor: int = 2999,
    currency: str = "EUR",
    state: str = "to_route",
) -> MarketplaceOrder:
    """An imported merchant-fulfilled order, ready for routing."""
    order = MarketplaceOrder(
        account_id=account_id,
        marketplace_id=MARKETPLACE,
        marketplace_order_id=order_id,
        status="Unshipped",
        fulfillment_channel="MFN",
        purchased_at=now - timedelta(hours=1),
        last_updated_at=now,
        ship_by_at=now + timedelta(days=1),
        currency=currency,
        total_minor=total_minor,
        ship_to_postal_code=postal,
        ship_to_country=country,
        ship_to_city="Berlin",
        routing_state=state,
        routing_state_at=now,
        data={},
        imported_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    for i, (sku, qty) in enumerate(lines, start=1):
        session.add(
            MarketplaceOrderLine(
                order_id=order.id,
                order_item_id=f"{order_id}-{i}",
                seller_sku=f"AMZ-{sku}",
                canonical_sku=sku,
                title=f"Product {sku}",
                qty=qty,
            )
        )
    session.flush()
    return order


class StorePlayer:
    """Plays stores towards the hub's ingest: events with gap-free seqs, births, Last Wills."""

    def __init__(self, applier: BatchApplier) -> None:
        self.applier = applier
        self.seqs: dict[str, int] = {}
        self.bd: dict[str, int] = {}

    def send(self, store: str, type_: str, body: dict[str, Any], *, at: datetime) -> BatchResult:
        """One event from a store, with its next seq."""
        from protocol.envelope import new_envelope

        seq = self.seqs.get(store, 0) + 1
        self.seqs[store] = seq
        env: Envelope = new_envelope(store, seq, type_, body, at=at)
        return self.applier.apply([InboundMessage(topics.up_events(store), encode_batch([env]))])

    def send_batch(
        self, events: list[tuple[str, str, dict[str, Any]]], *, at: datetime
    ) -> BatchResult:
        """Several stores' events, (store, type, body), applied as one ingest batch."""
        from protocol.envelope import new_envelope

        messages = []
        for store, type_, body in events:
            seq = self.seqs.get(store, 0) + 1
            self.seqs[store] = seq
            env: Envelope = new_envelope(store, seq, type_, body, at=at)
            messages.append(InboundMessage(topics.up_events(store), encode_batch([env])))
        return self.applier.apply(messages)

    def status(self, store: str, *, online: bool, at: datetime) -> BatchResult:
        """A birth (a new bdSeq) or the Last Will of the current one."""
        if online:
            self.bd[store] = self.bd.get(store, 0) + 1
        status = StatusMessage(
            store=store,
            online=online,
            bdSeq=self.bd.get(store, 0),
            last_seq=self.seqs.get(store, 0) if online else None,
            at=at,
        )
        return self.applier.apply([InboundMessage(topics.up_status(store), encode(status))])


def sale_body(sku: str, qty: int, *, at: datetime, receipt: str = "R-1") -> dict[str, Any]:
    """A one-line till sale (``sale.completed`` body)."""
    import uuid

    return {
        "sale_id": str(uuid.uuid4()),
        "receipt_no": receipt,
        "cashier_id": "c-1",
        "business_day": at.date().isoformat(),
        "currency": "EUR",
        "prices_include_tax": True,
        "lines": [
            {
                "line_no": 1,
                "sku": sku,
                "name": sku,
                "qty": qty,
                "unit_price_minor": 100,
                "tax_class": "standard",
                "tax_rate_bp": 1900,
                "tax_minor": 16 * qty,
                "total_minor": 100 * qty,
            }
        ],
        "subtotal_minor": 100 * qty,
        "tax_minor": 16 * qty,
        "total_minor": 100 * qty,
        "tenders": [{"kind": "cash", "amount_minor": 100 * qty}],
        "completed_at": at.isoformat(),
    }


def decisions(factory: sessionmaker[Session], order_id: str) -> list[RoutingDecisionRow]:
    """The order's decisions, first attempt first."""
    with factory() as session:
        return list(
            session.scalars(
                select(RoutingDecisionRow)
                .where(RoutingDecisionRow.order_id == order_id)
                .order_by(RoutingDecisionRow.attempt)
            )
        )


def assignment(factory: sessionmaker[Session], order_id: str, location: str) -> RoutingAssignment:
    """The order's assignment at one location."""
    with factory() as session:
        row = session.get(RoutingAssignment, (order_id, location))
        assert row is not None, f"order {order_id} was never routed to {location}"
        return row
