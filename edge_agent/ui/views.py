"""JSON views of carts, sales, returns and shifts for the cashier API (minor units + text)."""

from __future__ import annotations

from typing import Any

from edge_agent.domain.returns import CompletedReturn, ReturnQuote
from edge_agent.domain.sale import Cart, CompletedSale
from edge_agent.domain.shift import Shift
from edge_agent.store.catalog import ProductView
from protocol.money import Money


def money(amount: Money) -> dict[str, Any]:
    """An amount as the UI shows it: minor units, currency and formatted text."""
    return {"minor": amount.amount_minor, "currency": amount.currency, "text": amount.format()}


def cart_view(cart: Cart) -> dict[str, Any]:
    """The cart with its priced lines and totals."""
    priced = cart.priced()
    lines = []
    for line, priced_line in zip(cart.lines, priced.lines, strict=True):
        lines.append(
            {
                "line_no": line.line_no,
                "sku": line.sku,
                "gtin": line.gtin,
                "name": line.name,
                "qty": line.qty,
                "unit_price": money(priced_line.unit_price),
                "catalog_unit_price": money(priced_line.catalog_unit_price),
                "price_overridden": line.price_override is not None,
                "discount": money(priced_line.discount),
                "discount_reason": line.discount.reason if line.discount else None,
                "tax_rate": priced_line.tax_rate.percent_text(),
                "total": money(priced_line.total),
            }
        )
    return {
        "cart_id": str(cart.cart_id),
        "currency": cart.currency,
        "lines": lines,
        "items_count": cart.items_count,
        "cart_discount": money(priced.cart_discount.amount) if priced.cart_discount else None,
        "cart_discount_reason": priced.cart_discount.reason if priced.cart_discount else None,
        "subtotal": money(priced.subtotal),
        "discounts": money(priced.discounts),
        "tax": money(priced.tax),
        "total": money(priced.total),
        "prices_include_tax": priced.prices_include_tax,
    }


def product_view(product: ProductView, currency: str) -> dict[str, Any]:
    """A product found by scan or search."""
    return {
        "sku": product.sku,
        "name": product.name,
        "price": money(Money(product.price_minor, currency)),
        "tax_class": product.tax_class,
        "active": product.active,
        "on_hand": product.on_hand,
        "reserved": product.reserved,
        "gtin14": product.gtin14,
    }


def sale_view(sale: CompletedSale, *, duplicate: bool = False) -> dict[str, Any]:
    """A completed sale: what the change screen and the receipt reprint need."""
    return {
        "sale_id": str(sale.sale_id),
        "receipt_no": sale.receipt_no,
        "cashier_id": sale.cashier_id,
        "shift_id": sale.shift_id,
        "business_day": sale.business_day.isoformat(),
        "completed_at": sale.completed_at.isoformat(),
        "duplicate": duplicate,
        "lines": [
            {
                "line_no": line.line_no,
                "sku": line.sku,
                "name": line.name,
                "qty": line.qty,
                "unit_price": money(line.unit_price),
                "discount": money(line.discount),
                "tax_rate": line.tax_rate.percent_text(),
                "total": money(line.total),
            }
            for line in sale.lines
        ],
        "subtotal": money(sale.subtotal),
        "discounts": money(sale.discounts),
        "tax": money(sale.tax),
        "total": money(sale.total),
        "tenders": [
            {
                "kind": str(t.kind),
                "amount": money(t.amount),
                "reference": t.reference,
                "change": money(t.change),
            }
            for t in sale.tenders
        ],
        "tendered": money(sale.tendered),
        "change": money(sale.change),
    }


def quote_view(quote: ReturnQuote) -> dict[str, Any]:
    """What a return would refund, before it is confirmed."""
    return {
        "lines": [
            {
                "original_line_no": line.original_line_no,
                "sku": line.sku,
                "name": line.name,
                "qty": line.qty,
                "refund": money(line.refund),
                "tax": money(line.tax),
                "restock": line.restock,
            }
            for line in quote.lines
        ],
        "refund_total": money(quote.refund_total),
        "tax": money(quote.tax),
    }


def return_view(ret: CompletedReturn, *, duplicate: bool = False) -> dict[str, Any]:
    """A completed return."""
    return {
        "return_id": str(ret.return_id),
        "receipt_no": ret.receipt_no,
        "original_receipt_no": ret.original_receipt_no,
        "blind": ret.is_blind,
        "manager_id": ret.manager_id,
        "duplicate": duplicate,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "qty": line.qty,
                "refund": money(line.refund),
                "restock": line.restock,
            }
            for line in ret.lines
        ],
        "refund_total": money(ret.refund_total),
        "tenders": [
            {"kind": str(t.kind), "amount": money(t.amount), "reference": t.reference}
            for t in ret.tenders
        ],
    }


def shift_view(shift: Shift | None) -> dict[str, Any] | None:
    """The open shift, if any."""
    if shift is None:
        return None
    return {
        "shift_id": shift.shift_id,
        "cashier_id": shift.cashier_id,
        "business_day": shift.business_day.isoformat(),
        "opened_at": shift.opened_at.isoformat(),
        "opening_float": money(shift.opening_float),
    }
