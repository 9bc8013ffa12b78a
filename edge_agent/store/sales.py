"""Completed sales and voided carts: rows, stock movement and events in one transaction.

The sale domain (``edge_agent.domain.sale``) prices the cart and checks the
tenders; this module gives it a receipt number, writes what it returns and
moves stock, inside one IMMEDIATE transaction together with the
``sale.completed`` event (and ``stock.below_zero`` when a SKU goes negative).
The cart's id is the sale's id, so completing the same cart twice (a double
tap, a retried request) records one sale and returns it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal, cast
from uuid import UUID
from zoneinfo import ZoneInfo

import peewee

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.business_day import business_day, utc_now
from edge_agent.domain.sale import Cart, CompletedSale, PricedLine, VoidRecord
from edge_agent.domain.tender import Tender as DomainTender
from edge_agent.store.counters import CounterName, next_value
from edge_agent.store.db import connection_cursor, execute, write_transaction
from edge_agent.store.documents import decode_document, encode_document
from edge_agent.store.models import Sale, SaleVoid, to_utc_text
from edge_agent.store.outbox import Outbox
from edge_agent.store.stock import change_on_hand
from protocol import messages as wire

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SaleRecord:
    """A sale as stored: its ids, totals and the sale.completed body (for reprints and reports)."""

    sale_id: str
    receipt_no: str
    cashier_id: str
    shift_id: str | None
    business_day: date
    currency: str
    total_minor: int
    completed_at: datetime
    body: dict[str, Any]

    @property
    def change_minor(self) -> int:
        """Change handed back over all tenders."""
        return sum(int(t.get("change_minor", 0)) for t in self.body.get("tenders", []))


@dataclass(frozen=True, slots=True)
class SaleResult:
    """The outcome of completing a cart: the stored record and the domain's completed sale."""

    record: SaleRecord
    completed: CompletedSale
    duplicate: bool


def _record(row: Sale) -> SaleRecord:
    return SaleRecord(
        sale_id=row.id,
        receipt_no=row.receipt_no,
        cashier_id=row.cashier_id,
        shift_id=row.shift_id,
        business_day=date.fromisoformat(row.business_day),
        currency=row.currency,
        total_minor=row.total_minor,
        completed_at=row.completed_at,
        body=json.loads(row.body),
    )


def _wire_line(line: PricedLine) -> wire.SaleLine:
    rate = line.tax_rate
    return wire.SaleLine(
        line_no=line.line_no,
        sku=line.sku,
        gtin=line.gtin,
        name=line.name,
        qty=line.qty,
        unit_price_minor=line.unit_price.amount_minor,
        discount_minor=line.discount.amount_minor,
        tax_class=line.tax_class,
        # The wire has whole basis points; a rate such as 8.875 % also travels exactly in ppm.
        tax_rate_bp=int(rate.bp.to_integral_value()),
        tax_rate_ppm=rate.ppm,
        tax_minor=line.tax.amount_minor,
        total_minor=line.total.amount_minor,
        **(
            {
                "catalog_unit_price_minor": line.catalog_unit_price.amount_minor,
                "price_override_manager_id": line.price_override.manager_id,
            }
            if line.price_override is not None
            else {}
        ),
    )


def sale_completed_body(sale: CompletedSale) -> wire.SaleCompleted:
    """Map the domain's completed sale onto the ``sale.completed`` wire body."""
    return wire.SaleCompleted(
        sale_id=sale.sale_id,
        receipt_no=sale.receipt_no,
        cashier_id=sale.cashier_id,
        shift_id=sale.shift_id,
        business_day=sale.business_day,
        currency=sale.currency,
        prices_include_tax=sale.prices_include_tax,
        lines=[_wire_line(line) for line in sale.lines],
        discounts=[
            wire.Discount(
                kind=cast(Literal["percent", "amount"], str(applied.kind)),
                value=applied.value,
                reason=applied.reason,
                amount_minor=applied.amount.amount_minor,
                scope=str(applied.scope),
                line_no=applied.line_no,
            )
            for applied in sale.discounts_applied
        ],
        subtotal_minor=sale.subtotal.amount_minor,
        tax_minor=sale.tax.amount_minor,
        total_minor=sale.total.amount_minor,
        tenders=[
            wire.Tender(
                kind=cast(wire.TenderKind, str(t.kind)),
                amount_minor=t.amount.amount_minor,
                reference=t.reference,
                change_minor=t.change.amount_minor,
            )
            for t in sale.tenders
        ],
        completed_at=sale.completed_at,
        discounts_minor=sale.discounts.amount_minor,
        net_minor=sale.net.amount_minor,
    )


def sale_voided_body(record: VoidRecord) -> wire.SaleVoided:
    """Map a voided cart onto the ``sale.voided`` wire body."""
    return wire.SaleVoided(
        sale_id=record.sale_id,
        cashier_id=record.cashier_id,
        reason=record.reason,
        currency=record.currency,
        total_minor=record.total.amount_minor,
        lines_count=record.lines_count,
        business_day=record.business_day,
        voided_at=record.voided_at,
        shift_id=record.shift_id,
        manager_id=record.manager_id,
    )


class SalesRepository:
    """Rings sales and voids into the edge database."""

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        outbox: Outbox,
        *,
        tz: ZoneInfo,
        day_start: time = time(0, 0),
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._tz = tz
        self._day_start = day_start

    def business_day(self, at_utc: datetime | None = None) -> date:
        """Return the store's business day of an instant (now by default)."""
        return business_day(at_utc or utc_now(), self._tz, self._day_start)

    def next_receipt_no(self) -> str:
        """Take the next receipt number inside the caller's transaction (gap-free per store)."""
        return f"{self._outbox.store_id}-{next_value(self._db, CounterName.RECEIPT_NO):06d}"

    def complete(
        self,
        cart: Cart,
        *,
        cashier_id: str,
        tenders: Sequence[DomainTender],
        shift_id: str | None = None,
    ) -> SaleResult:
        """Complete a cart: receipt number, sale rows, stock and events, all or nothing.

        A SaleError from the domain (short tender, empty cart) or a StoreUnavailable
        (locked, disk full) leaves no trace: no receipt number, no row, no seq.
        """
        now = utc_now()
        day = self.business_day(now)
        with write_transaction(self._db):
            found = execute(self._db, "SELECT 1 FROM sale WHERE id = ?", (str(cart.cart_id),))
            existing = Sale.get_or_none(Sale.id == str(cart.cart_id)) if found.fetchone() else None
            if existing is not None:
                _LOGGER.info("sale %s was already completed; returning it", cart.cart_id)
                return SaleResult(
                    _record(existing),
                    decode_document(existing.document, CompletedSale),
                    duplicate=True,
                )
            sale = cart.complete(
                receipt_no=self.next_receipt_no(),
                cashier_id=cashier_id,
                tenders=tenders,
                now_utc=now,
                business_day=day,
                shift_id=shift_id,
            )
            body = sale_completed_body(sale)
            self._insert_sale(sale, body)
            on_hand_before = self._on_hand({line.sku for line in sale.lines})
            for line in sale.lines:
                change_on_hand(line.sku, -line.qty)
            self._outbox.append("sale.completed", body, at=now)
            for short in sale.below_zero(on_hand_before):
                self._outbox.append(
                    "stock.below_zero",
                    wire.StockBelowZero(
                        sku=short.sku, on_hand=short.on_hand_after, sale_id=sale.sale_id
                    ),
                    at=now,
                )
        _LOGGER.info(
            "sale %s: %d items, total %d %s",
            sale.receipt_no,
            sale.items_count,
            sale.total.amount_minor,
            sale.currency,
        )
        record = SaleRecord(
            sale_id=str(sale.sale_id),
            receipt_no=sale.receipt_no,
            cashier_id=sale.cashier_id,
            shift_id=sale.shift_id,
            business_day=sale.business_day,
            currency=sale.currency,
            total_minor=sale.total.amount_minor,
            completed_at=sale.completed_at,
            body=body.model_dump(mode="json"),
        )
        return SaleResult(record, sale, duplicate=False)

    def void(
        self,
        cart: Cart,
        *,
        cashier_id: str,
        reason: str,
        shift_id: str | None = None,
        manager_id: str | None = None,
    ) -> VoidRecord:
        """Void a cart before completion: an audit row and a sale.voided event, no stock effect."""
        now = utc_now()
        record = cart.void(
            reason=reason,
            cashier_id=cashier_id,
            now_utc=now,
            business_day=self.business_day(now),
            shift_id=shift_id,
            approval=ManagerApproval(manager_id) if manager_id else None,
        )
        with write_transaction(self._db):
            if SaleVoid.get_or_none(SaleVoid.id == str(record.sale_id)) is not None:
                return record
            SaleVoid.create(
                id=str(record.sale_id),
                cashier_id=record.cashier_id,
                shift_id=record.shift_id,
                business_day=record.business_day.isoformat(),
                reason=record.reason,
                currency=record.currency,
                total_minor=record.total.amount_minor,
                lines_count=record.lines_count,
                voided_at=record.voided_at,
                document=encode_document(record),
            )
            self._outbox.append("sale.voided", sale_voided_body(record), at=now)
        return record

    def get(self, sale_id: str | UUID) -> SaleRecord | None:
        """Return a sale by id."""
        row = Sale.get_or_none(Sale.id == str(sale_id))
        return None if row is None else _record(row)

    def by_receipt(self, receipt_no: str) -> SaleRecord | None:
        """Return a sale by its receipt number."""
        row = Sale.get_or_none(Sale.receipt_no == receipt_no.strip())
        return None if row is None else _record(row)

    def recent(self, *, limit: int = 20, shift_id: str | None = None) -> list[SaleRecord]:
        """Return the latest sales, newest first (optionally of one shift)."""
        query = Sale.select().order_by(Sale.completed_at.desc(), Sale.receipt_no.desc())
        if shift_id is not None:
            query = query.where(Sale.shift_id == shift_id)
        return [_record(r) for r in query.limit(limit)]

    def completed(self, sale_id: str | UUID) -> CompletedSale | None:
        """Return the domain's completed sale, rebuilt from its stored document."""
        row = Sale.get_or_none(Sale.id == str(sale_id))
        return None if row is None else decode_document(row.document, CompletedSale)

    def sales_of_shift(self, shift_id: str) -> list[CompletedSale]:
        """Return every completed sale of a shift, in receipt order."""
        rows = Sale.select(Sale.document).where(Sale.shift_id == shift_id).order_by(Sale.receipt_no)
        return [decode_document(r.document, CompletedSale) for r in rows]

    def sales_of_day(self, day: date) -> list[CompletedSale]:
        """Return every completed sale stamped with a business day, in receipt order."""
        rows = (
            Sale.select(Sale.document)
            .where(Sale.business_day == day.isoformat())
            .order_by(Sale.receipt_no)
        )
        return [decode_document(r.document, CompletedSale) for r in rows]

    def voids_of_shift(self, shift_id: str) -> list[VoidRecord]:
        """Return the carts voided during a shift."""
        rows = SaleVoid.select(SaleVoid.document).where(SaleVoid.shift_id == shift_id)
        return [decode_document(r.document, VoidRecord) for r in rows.order_by(SaleVoid.voided_at)]

    def voids_of_day(self, day: date) -> list[VoidRecord]:
        """Return the carts voided on a business day."""
        rows = SaleVoid.select(SaleVoid.document).where(SaleVoid.business_day == day.isoformat())
        return [decode_document(r.document, VoidRecord) for r in rows.order_by(SaleVoid.voided_at)]

    def _on_hand(self, skus: set[str]) -> dict[str, int]:
        marks = ", ".join("?" for _ in skus)
        rows = execute(
            self._db, f"SELECT sku, on_hand FROM stock WHERE sku IN ({marks})", sorted(skus)
        ).fetchall()
        return {str(sku): int(on_hand) for sku, on_hand in rows}

    def _insert_sale(self, sale: CompletedSale, body: wire.SaleCompleted) -> None:
        # Plain SQL on the hot path (see stock.change_on_hand); the models read these rows.
        sale_id = str(sale.sale_id)
        execute(
            self._db,
            "INSERT INTO sale (id, receipt_no, cashier_id, shift_id, business_day, currency, "
            "subtotal_minor, discount_minor, tax_minor, total_minor, completed_at, body, document) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sale_id,
                sale.receipt_no,
                sale.cashier_id,
                sale.shift_id,
                sale.business_day.isoformat(),
                sale.currency,
                sale.subtotal.amount_minor,
                sale.discounts.amount_minor,
                sale.tax.amount_minor,
                sale.total.amount_minor,
                to_utc_text(sale.completed_at),
                body.model_dump_json(),
                encode_document(sale),
            ),
        )
        cursor = connection_cursor(self._db)
        cursor.executemany(
            "INSERT INTO sale_line (sale_id, line_no, sku, gtin, name, qty, unit_price_minor, "
            "discount_minor, tax_class, tax_rate_bp, tax_minor, total_minor) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    sale_id,
                    line.line_no,
                    line.sku,
                    line.gtin,
                    line.name,
                    line.qty,
                    line.unit_price.amount_minor,
                    line.discount.amount_minor,
                    line.tax_class,
                    int(line.tax_rate.bp.to_integral_value()),
                    line.tax.amount_minor,
                    line.total.amount_minor,
                )
                for line in sale.lines
            ],
        )
        cursor.executemany(
            "INSERT INTO tender (sale_id, kind, amount_minor, reference, change_minor) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (sale_id, str(t.kind), t.amount.amount_minor, t.reference, t.change.amount_minor)
                for t in sale.tenders
            ],
        )
