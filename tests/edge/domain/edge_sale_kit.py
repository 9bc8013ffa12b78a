"""Builders shared by the sale-domain tests: store policies, items and a quick sale."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from edge_agent.domain.sale import Cart, CatalogItem, CompletedSale
from edge_agent.domain.tax import StoreTaxPolicy, TaxRate
from edge_agent.domain.tender import Tender
from protocol.money import Money

US_NYC = StoreTaxPolicy(
    "USD",
    prices_include_tax=False,
    rates={"standard": TaxRate.from_percent("8.875"), "exempt": TaxRate(0)},
)
UK = StoreTaxPolicy(
    "GBP",
    prices_include_tax=True,
    rates={
        "standard": TaxRate.from_bp(2000),
        "reduced": TaxRate.from_bp(500),
        "zero": TaxRate(0),
        "exempt": TaxRate(0),
    },
)
DE = StoreTaxPolicy(
    "EUR",
    prices_include_tax=True,
    rates={"standard": TaxRate.from_bp(1900), "reduced": TaxRate.from_bp(700)},
)
JP = StoreTaxPolicy(
    "JPY",
    prices_include_tax=True,
    rates={"standard": TaxRate.from_bp(1000), "reduced": TaxRate.from_bp(800)},
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DAY = date(2026, 11, 27)


def m(amount: str, currency: str = "GBP") -> Money:
    return Money.parse(amount, currency)


def item(sku: str, price: str, tax_class: str = "standard", currency: str = "GBP") -> CatalogItem:
    return CatalogItem(
        sku=sku, name=f"Item {sku}", unit_price=m(price, currency), tax_class=tax_class
    )


def cart(policy: StoreTaxPolicy = UK, cart_id: UUID | None = None) -> Cart:
    return Cart.start(cart_id or uuid4(), policy)


def paid_in_cash(
    c: Cart,
    *,
    receipt_no: str = "R-0001",
    at_utc: datetime = T0,
    business_day: date = DAY,
    shift_id: str | None = None,
    tenders: Sequence[Tender] | None = None,
) -> CompletedSale:
    priced = c.priced()
    return c.complete(
        receipt_no=receipt_no,
        cashier_id="c-1",
        tenders=_cash_for(priced.total) if tenders is None else tenders,
        now_utc=at_utc,
        business_day=business_day,
        shift_id=shift_id,
    )


def _cash_for(total: Money) -> list[Tender]:
    # A fully discounted sale needs no tender; the domain records a zero cash tender.
    return [] if total.is_zero() else [Tender.cash(total)]
