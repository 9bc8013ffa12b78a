"""A till for the finance tests: real edge-domain sales, returns and shifts, applied by the hub.

Sales are priced by edge_agent.domain (tax, discounts, rounding), mapped onto the wire by
the edge's own body builders, and applied through the hub's BatchApplier, so the finance
reports read exactly what a store would have sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from edge_agent.domain.discount import PercentDiscount
from edge_agent.domain.returns import CompletedReturn, ReturnRequestLine, return_against_sale
from edge_agent.domain.sale import Cart, CatalogItem, CompletedSale
from edge_agent.domain.shift import ShiftClosure, close_shift, open_shift
from edge_agent.domain.tax import StoreTaxPolicy, TaxRate
from edge_agent.domain.tender import Tender
from edge_agent.store.returns import return_completed_body
from edge_agent.store.sales import sale_completed_body
from hub.db import stores
from hub.ingest.apply import BatchApplier, InboundMessage
from protocol import messages as wire
from protocol import topics
from protocol.codec import encode_batch
from protocol.envelope import new_envelope
from protocol.money import Money

JP = StoreTaxPolicy(
    "JPY",
    prices_include_tax=True,
    rates={"standard": TaxRate.from_bp(1000), "reduced": TaxRate.from_bp(800)},
)
US_NYC = StoreTaxPolicy(
    "USD",
    prices_include_tax=False,
    rates={"standard": TaxRate.from_percent("8.875"), "exempt": TaxRate(0)},
)
DE = StoreTaxPolicy(
    "EUR",
    prices_include_tax=True,
    rates={"standard": TaxRate.from_bp(1900), "reduced": TaxRate.from_bp(700)},
)
BH = StoreTaxPolicy("BHD", prices_include_tax=True, rates={"standard": TaxRate.from_bp(1000)})
"""Bahrain: VAT 10 % in a three-decimal currency."""

DAY = date(2026, 11, 26)
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
STORE_ZONES = {"JPY": "Asia/Tokyo", "USD": "America/New_York", "EUR": "Europe/Berlin"}


def create_store(sessions: sessionmaker[Session], store_id: str, currency: str, tz: str) -> None:
    """A store (and its location) in the hub database."""
    with sessions.begin() as session:
        stores.create_store(
            session,
            store_id=store_id,
            name=f"Store {store_id}",
            timezone=tz,
            currency=currency,
            price_list_id=f"pl-{currency.lower()}",
            now=T0,
        )


@dataclass
class Till:
    """One store's till: numbers its events and sends them to the hub in one batch."""

    store_id: str
    policy: StoreTaxPolicy
    business_day: date = DAY
    clock: datetime = T0
    pending: list[tuple[str, dict[str, Any], datetime]] = field(default_factory=list)
    seq: int = 0
    receipts: int = 0

    def _tick(self) -> datetime:
        self.clock += timedelta(minutes=3)
        return self.clock

    def item(self, sku: str, price: str, tax_class: str = "standard") -> CatalogItem:
        """A catalog item priced in the till's currency."""
        return CatalogItem(
            sku=sku,
            name=f"Item {sku}",
            unit_price=Money.parse(price, self.policy.currency),
            tax_class=tax_class,
        )

    def sell(
        self,
        lines: Sequence[tuple[CatalogItem, int]],
        *,
        shift_id: str | None = None,
        discount_bp: int = 0,
        card: bool = False,
        send: bool = True,
    ) -> CompletedSale:
        """Ring up and pay a sale (cash, or card), and queue its ``sale.completed``."""
        cart = Cart.start(uuid.uuid4(), self.policy)
        for item, qty in lines:
            cart = cart.add(item, qty)
        if discount_bp:
            cart = cart.discount_cart(PercentDiscount(discount_bp, "staff"))
        total = cart.priced().total
        self.receipts += 1
        at = self._tick()
        tender = Tender.card(total, "T-1") if card else Tender.cash(total)
        sale = cart.complete(
            receipt_no=f"{self.store_id}-R{self.receipts}",
            cashier_id="c-1",
            tenders=[] if total.is_zero() else [tender],
            now_utc=at,
            business_day=self.business_day,
            shift_id=shift_id,
        )
        if send:
            self.pending.append(
                ("sale.completed", sale_completed_body(sale).model_dump(mode="json"), at)
            )
        return sale

    def give_back(
        self, sale: CompletedSale, line_no: int, qty: int, *, shift_id: str | None = None
    ) -> CompletedReturn:
        """Return units of a sale's line for cash, and queue its ``return.completed``."""
        from edge_agent.domain.returns import quote_return

        quote = quote_return(sale, [ReturnRequestLine(line_no, qty)], prior_returns=[])
        self.receipts += 1
        at = self._tick()
        ret = return_against_sale(
            sale,
            [ReturnRequestLine(line_no, qty)],
            prior_returns=[],
            refund_tenders=[Tender.cash(quote.refund_total)],
            return_id=uuid.uuid4(),
            receipt_no=f"{self.store_id}-X{self.receipts}",
            cashier_id="c-1",
            now_utc=at,
            business_day=self.business_day,
            shift_id=shift_id,
        )
        self.pending.append(
            ("return.completed", return_completed_body(ret).model_dump(mode="json"), at)
        )
        return ret

    def shift(
        self,
        *,
        float_: str,
        counted: str,
        sales: Sequence[CompletedSale],
        returns: Sequence[CompletedReturn] = (),
        shift_id: str,
        opened_at: datetime,
    ) -> ShiftClosure:
        """Close a shift with the counted drawer and queue its ``shift.closed`` as the till does."""
        cur = self.policy.currency
        shift = open_shift(
            shift_id=shift_id,
            cashier_id="c-1",
            opening_float=Money.parse(float_, cur),
            now_utc=opened_at,
            business_day=self.business_day,
        )
        at = self._tick()
        closure = close_shift(
            shift,
            counted_cash=Money.parse(counted, cur),
            now_utc=at,
            sales=sales,
            returns=returns,
            voids=[],
        )
        z = closure.report
        body = wire.ShiftClosed(
            shift_id=shift_id,
            cashier_id="c-1",
            business_day=self.business_day,
            opened_at=opened_at,
            closed_at=closure.closed_at,
            currency=cur,
            sales_count=z.sales_count,
            gross_minor=z.gross_sales.amount_minor,
            discounts_minor=z.discounts.amount_minor,
            tax_minor=z.tax_total.amount_minor,
            returns_minor=z.returns_total.amount_minor,
            voids_count=z.voids_count,
            tenders=z.tenders_net_minor(),
            expected_cash_minor=closure.expected_cash.amount_minor,
            counted_cash_minor=Money.parse(counted, cur).amount_minor,
            over_short_minor=closure.over_short.amount_minor,
            sales_total_minor=z.sales_total.amount_minor,
            opening_float_minor=shift.opening_float.amount_minor,
        )
        self.pending.append(("shift.closed", body.model_dump(mode="json"), at))
        return closure

    def sync(self, sessions: sessionmaker[Session]) -> None:
        """Send every queued event to the hub (one batch) and check it was all applied."""
        envelopes = []
        for type_, body, at in self.pending:
            self.seq += 1
            envelopes.append(new_envelope(self.store_id, self.seq, type_, body, at=at))
        self.pending.clear()
        if not envelopes:
            return
        result = BatchApplier(sessions, clock=lambda: self.clock).apply(
            [InboundMessage(topics.up_events(self.store_id), encode_batch(envelopes))]
        )
        assert result.dead_letters == 0, result.dead_reasons
        assert result.applied == len(envelopes)
