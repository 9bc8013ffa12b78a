"""Returns: refund rows, restocked goods and the return.completed event, in one transaction.

The domain (``edge_agent.domain.returns``) prices the refund; this module finds
the original sale and the returns already made against it, gives the return
its number, writes the result and puts restocked goods back on hand. The
caller's ``return_id`` is an idempotency key: the same return sent twice is
recorded once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast
from uuid import UUID

import peewee

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.business_day import utc_now
from edge_agent.domain.returns import (
    BlindReturnLine,
    CompletedReturn,
    Disposition,
    ReturnQuote,
    ReturnRequestLine,
    blind_return,
    quote_blind_return,
    quote_return,
    return_against_sale,
)
from edge_agent.domain.sale import CompletedSale
from edge_agent.domain.tax import StoreTaxPolicy
from edge_agent.domain.tender import Tender as DomainTender
from edge_agent.domain.tender import TenderKind
from edge_agent.store.catalog import CatalogRepository
from edge_agent.store.counters import CounterName, next_value
from edge_agent.store.db import write_transaction
from edge_agent.store.documents import decode_document, encode_document
from edge_agent.store.errors import NotFound
from edge_agent.store.models import Return, ReturnLine, Sale
from edge_agent.store.outbox import Outbox
from edge_agent.store.sales import SalesRepository
from edge_agent.store.stock import change_on_hand
from protocol import messages as wire
from protocol.money import Money

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BlindItem:
    """An item brought back without a receipt: what the cashier scanned and how many."""

    sku: str
    qty: int
    disposition: Disposition = Disposition.RESTOCK


@dataclass(frozen=True, slots=True)
class ReturnResult:
    """The stored return and whether it had been recorded before."""

    completed: CompletedReturn
    duplicate: bool


def return_completed_body(ret: CompletedReturn) -> wire.ReturnCompleted:
    """Map the domain's completed return onto the ``return.completed`` wire body."""
    return wire.ReturnCompleted(
        return_id=ret.return_id,
        receipt_no=ret.receipt_no,
        original_receipt_no=ret.original_receipt_no,
        original_sale_id=ret.original_sale_id,
        cashier_id=ret.cashier_id,
        manager_id=ret.manager_id,
        business_day=ret.business_day,
        currency=ret.currency,
        lines=[
            wire.ReturnLine(
                sku=line.sku,
                qty=line.qty,
                refund_minor=line.refund.amount_minor,
                restock=line.restock,
                tax_minor=line.tax.amount_minor,
            )
            for line in ret.lines
        ],
        refund_total_minor=ret.refund_total.amount_minor,
        tenders=[
            wire.Tender(
                kind=cast(wire.TenderKind, str(t.kind)),
                amount_minor=t.amount.amount_minor,
                reference=t.reference,
            )
            for t in ret.tenders
        ],
        tax_minor=ret.tax.amount_minor,
        reason=ret.reason,
        shift_id=ret.shift_id,
        completed_at=ret.completed_at,
    )


def _refund_tenders(
    quote: ReturnQuote,
    tenders: Sequence[DomainTender] | None,
    kind: TenderKind,
    reference: str | None,
) -> Sequence[DomainTender]:
    """The given refund tenders, or one tender of ``kind`` for exactly the quoted refund."""
    if tenders is not None:
        return tenders
    if quote.refund_total.is_zero():
        return []
    return [DomainTender(kind, quote.refund_total, reference)]


class ReturnsRepository:
    """Records returns against receipts and blind returns."""

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        outbox: Outbox,
        sales: SalesRepository,
        catalog: CatalogRepository,
        policy: StoreTaxPolicy,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._sales = sales
        self._catalog = catalog
        self._policy = policy

    def _next_receipt_no(self) -> str:
        return f"{self._outbox.store_id}-R{next_value(self._db, CounterName.RETURN_NO):06d}"

    def _existing(self, return_id: UUID) -> ReturnResult | None:
        row = Return.get_or_none(Return.id == str(return_id))
        if row is None:
            return None
        return ReturnResult(decode_document(row.document, CompletedReturn), duplicate=True)

    def against_receipt(
        self,
        receipt_no: str,
        request: Sequence[ReturnRequestLine],
        *,
        return_id: UUID,
        cashier_id: str,
        refund_tenders: Sequence[DomainTender] | None = None,
        refund_kind: TenderKind = TenderKind.CASH,
        refund_reference: str | None = None,
        shift_id: str | None = None,
        approval: ManagerApproval | None = None,
        reason: str = "",
    ) -> ReturnResult:
        """Return units of lines of the sale with this receipt number; refunds pro rata.

        Without ``refund_tenders`` the whole refund is paid in one tender of
        ``refund_kind`` (cash by default).
        """
        now = utc_now()
        with write_transaction(self._db):
            existing = self._existing(return_id)
            if existing is not None:
                return existing
            row = Sale.get_or_none(Sale.receipt_no == receipt_no.strip())
            if row is None:
                raise NotFound(f"no sale with receipt number {receipt_no.strip()!r} at this till")
            original = decode_document(row.document, CompletedSale)
            prior = self.returns_of_sale(original.sale_id)
            quote = quote_return(original, request, prior_returns=prior)
            completed = return_against_sale(
                original,
                request,
                prior_returns=prior,
                refund_tenders=_refund_tenders(
                    quote, refund_tenders, refund_kind, refund_reference
                ),
                return_id=return_id,
                receipt_no=self._next_receipt_no(),
                cashier_id=cashier_id,
                now_utc=now,
                business_day=self._sales.business_day(now),
                shift_id=shift_id,
                approval=approval,
                reason=reason,
            )
            self._write(completed)
        return ReturnResult(completed, duplicate=False)

    def blind(
        self,
        items: Sequence[BlindItem],
        *,
        return_id: UUID,
        approval: ManagerApproval,
        reason: str,
        cashier_id: str,
        refund_tenders: Sequence[DomainTender] | None = None,
        refund_kind: TenderKind = TenderKind.CASH,
        refund_reference: str | None = None,
        shift_id: str | None = None,
    ) -> ReturnResult:
        """Refund items without a receipt at today's shelf price; needs a manager's approval."""
        now = utc_now()
        with write_transaction(self._db):
            existing = self._existing(return_id)
            if existing is not None:
                return existing
            lines = []
            for item in items:
                product = self._catalog.get(item.sku, include_inactive=True)
                lines.append(
                    BlindReturnLine(
                        sku=product.sku,
                        name=product.name,
                        qty=item.qty,
                        unit_price=Money(product.price_minor, self._policy.currency),
                        tax_class=product.tax_class,
                        disposition=item.disposition,
                    )
                )
            quote = quote_blind_return(self._policy, lines)
            completed = blind_return(
                self._policy,
                lines,
                approval=approval,
                reason=reason,
                refund_tenders=_refund_tenders(
                    quote, refund_tenders, refund_kind, refund_reference
                ),
                return_id=return_id,
                receipt_no=self._next_receipt_no(),
                cashier_id=cashier_id,
                now_utc=now,
                business_day=self._sales.business_day(now),
                shift_id=shift_id,
            )
            self._write(completed)
        return ReturnResult(completed, duplicate=False)

    def quote(self, receipt_no: str, request: Sequence[ReturnRequestLine]) -> ReturnQuote:
        """Work out what a return against a receipt would refund (for the screen)."""
        row = Sale.get_or_none(Sale.receipt_no == receipt_no.strip())
        if row is None:
            raise NotFound(f"no sale with receipt number {receipt_no.strip()!r} at this till")
        original = decode_document(row.document, CompletedSale)
        return quote_return(original, request, prior_returns=self.returns_of_sale(original.sale_id))

    def returns_of_sale(self, sale_id: UUID) -> list[CompletedReturn]:
        """Return the returns made against one sale."""
        rows = Return.select(Return.document).where(Return.original_sale_id == str(sale_id))
        return [decode_document(r.document, CompletedReturn) for r in rows]

    def returns_of_shift(self, shift_id: str) -> list[CompletedReturn]:
        """Return the returns made during a shift."""
        rows = Return.select(Return.document).where(Return.shift_id == shift_id)
        return [
            decode_document(r.document, CompletedReturn) for r in rows.order_by(Return.receipt_no)
        ]

    def returns_of_day(self, day: date) -> list[CompletedReturn]:
        """Return the returns stamped with a business day."""
        rows = Return.select(Return.document).where(Return.business_day == day.isoformat())
        return [
            decode_document(r.document, CompletedReturn) for r in rows.order_by(Return.receipt_no)
        ]

    def _write(self, ret: CompletedReturn) -> None:
        body = return_completed_body(ret)
        Return.create(
            id=str(ret.return_id),
            receipt_no=ret.receipt_no,
            original_sale_id=str(ret.original_sale_id) if ret.original_sale_id else None,
            original_receipt_no=ret.original_receipt_no,
            cashier_id=ret.cashier_id,
            manager_id=ret.manager_id,
            shift_id=ret.shift_id,
            business_day=ret.business_day.isoformat(),
            currency=ret.currency,
            refund_total_minor=ret.refund_total.amount_minor,
            completed_at=ret.completed_at,
            body=json.dumps(body.model_dump(mode="json")),
            document=encode_document(ret),
        )
        for line in ret.lines:
            ReturnLine.create(
                return_id=str(ret.return_id),
                sku=line.sku,
                qty=line.qty,
                refund_minor=line.refund.amount_minor,
                restock=line.restock,
            )
            if line.restock:
                change_on_hand(line.sku, line.qty)
        self._outbox.append("return.completed", body, at=ret.completed_at)
        _LOGGER.info(
            "return %s: %d items, refund %d %s",
            ret.receipt_no,
            ret.items_count,
            ret.refund_total.amount_minor,
            ret.currency,
        )
