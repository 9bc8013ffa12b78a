"""Completed sales and shift Z reports as the printer layer's documents (pure mapping, no I/O).

The layout of a receipt belongs to ``edge_agent.domain.receipt``; this module
only fills its ``ReceiptDoc`` / ``ZReportDoc`` from what the till recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from edge_agent.domain import receipt as doc
from edge_agent.domain.sale import CompletedSale
from edge_agent.domain.shift import ShiftClosure
from edge_agent.domain.tax import TaxRate
from edge_agent.domain.tender import TenderKind
from protocol.money import Money

_TENDER_LABELS = {TenderKind.CASH: "Cash", TenderKind.CARD: "Card", TenderKind.OTHER: "Other"}


@dataclass(frozen=True, slots=True)
class ReceiptSettings:
    """What the receipt header and footer say about the store."""

    store_id: str
    name: str
    timezone: ZoneInfo
    till_id: str = "1"
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    tax_id: str = ""
    footer_lines: tuple[str, ...] = ()
    language: str = "en"

    def header(self) -> doc.StoreHeader:
        """The printer layer's store header."""
        return doc.StoreHeader(
            store_id=self.store_id,
            name=self.name or self.store_id,
            timezone=self.timezone,
            address_lines=self.address_lines,
            phone=self.phone,
            tax_id=self.tax_id,
            footer_lines=self.footer_lines,
            language=self.language,
        )


def tax_codes(rates: Iterable[TaxRate]) -> dict[int, str]:
    """Letter codes per rate, highest rate first ("A" = standard), as receipts print them."""
    ordered = sorted({r.ppm for r in rates}, reverse=True)
    return {ppm: chr(ord("A") + i) for i, ppm in enumerate(ordered)}


def _bp(rate: TaxRate) -> int:
    return int(rate.bp.to_integral_value())


def sale_receipt(sale: CompletedSale, settings: ReceiptSettings) -> doc.ReceiptDoc:
    """Fill a ReceiptDoc from a completed sale (copies are marked by the layout, not here)."""
    codes = tax_codes(line.tax_rate for line in sale.lines)
    lines = []
    for line in sale.lines:
        discounts: tuple[doc.DiscountRow, ...] = ()
        if line.line_discount is not None:
            discounts = (doc.DiscountRow(line.line_discount.reason, -line.line_discount.amount),)
        lines.append(
            doc.ReceiptLine(
                name=line.name,
                quantity=Decimal(line.qty),
                unit_price=line.unit_price,
                amount=line.amount,
                tax_code=codes[line.tax_rate.ppm],
                discounts=discounts,
            )
        )
    cart_discounts: tuple[doc.DiscountRow, ...] = ()
    if sale.cart_discount is not None:
        cart_discounts = (doc.DiscountRow(sale.cart_discount.reason, -sale.cart_discount.amount),)
    return doc.ReceiptDoc(
        receipt_no=sale.receipt_no,
        store=settings.header(),
        completed_at_utc=sale.completed_at,
        lines=tuple(lines),
        subtotal=sale.subtotal,
        total=sale.total,
        tax_rows=tuple(
            doc.TaxSummaryRow(codes[row.rate.ppm], _bp(row.rate), row.net, row.tax, row.gross)
            for row in sale.tax_summary
        ),
        tenders=tuple(
            doc.TenderRow(
                kind=doc.TenderKind(str(t.kind)),
                label=_TENDER_LABELS.get(t.kind, str(t.kind)),
                amount=t.amount,
                reference=t.reference or "",
            )
            for t in sale.tenders
            if not t.amount.is_zero()
        ),
        change=sale.change if not sale.change.is_zero() else None,
        discounts=cart_discounts,
        till_id=settings.till_id,
        cashier=sale.cashier_id,
    )


def shift_z_report(
    closure: ShiftClosure, settings: ReceiptSettings, z_number: int
) -> doc.ZReportDoc:
    """Fill a ZReportDoc from a closed shift."""
    report = closure.report
    codes = tax_codes(row.rate for row in report.tax_by_rate)
    zero = Money.zero(report.currency)
    return doc.ZReportDoc(
        store=settings.header(),
        till_id=settings.till_id,
        z_number=z_number,
        business_day=closure.shift.business_day,
        opened_at_utc=closure.shift.opened_at,
        closed_at_utc=closure.closed_at,
        sales_count=report.sales_count,
        sales_total=report.sales_total,
        returns_count=report.returns_count,
        returns_total=report.returns_total,
        voids_count=report.voids_count,
        discounts_total=report.discounts,
        net_total=report.net_total,
        tax_rows=tuple(
            doc.TaxSummaryRow(codes[row.rate.ppm], _bp(row.rate), row.net, row.tax, row.gross)
            for row in report.tax_by_rate
        ),
        tender_totals=tuple(
            doc.TenderTotalRow(
                kind=doc.TenderKind(str(kind)),
                label=_TENDER_LABELS.get(kind, str(kind)),
                count=total.sales_count,
                amount=total.net,
            )
            for kind, total in report.tenders.items()
            if total.sales_count or total.net != zero
        ),
        opening_float=report.opening_float,
        cash_expected=closure.expected_cash,
        cash_counted=closure.counted_cash,
        cashier=closure.shift.cashier_id,
    )
