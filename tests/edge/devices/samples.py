"""Sample documents for the device tests: a German sale, a Japanese and a Chinese store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from edge_agent.domain.receipt import (
    DiscountRow,
    PickLine,
    PickListDoc,
    ReceiptDoc,
    ReceiptLine,
    StoreHeader,
    TaxSummaryRow,
    TenderKind,
    TenderRow,
    TenderTotalRow,
    ZReportDoc,
)
from protocol.money import Money

COMPLETED_AT = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money.parse(amount, "EUR")


BERLIN = StoreHeader(
    store_id="s-042",
    name="Bäckerei Müller",
    timezone=ZoneInfo("Europe/Berlin"),
    address_lines=("Hauptstraße 1", "10115 Berlin"),
    phone="Tel 030 1234567",
    tax_id="USt-IdNr. DE123456789",
    footer_lines=("Vielen Dank für Ihren Einkauf!",),
    language="de",
)

TOKYO = StoreHeader(
    store_id="s-081",
    name="東京店",
    timezone=ZoneInfo("Asia/Tokyo"),
    address_lines=("東京都千代田区1-1",),
    language="ja",
)

SHANGHAI = StoreHeader(
    store_id="s-086",
    name="上海店",
    timezone=ZoneInfo("Asia/Shanghai"),
    address_lines=("上海市黄浦区1号",),
    language="zh",
)


def german_sale(*, cash: bool = True) -> ReceiptDoc:
    tender = (
        TenderRow(TenderKind.CASH, "Bar", eur("20.00"))
        if cash
        else TenderRow(TenderKind.CARD, "Karte", eur("16.72"), "**** 4242")
    )
    return ReceiptDoc(
        receipt_no="R-042-3-000123",
        store=BERLIN,
        completed_at_utc=COMPLETED_AT,
        lines=(
            ReceiptLine("Milch 1L", Decimal(2), eur("1.29"), eur("2.58"), "A"),
            ReceiptLine(
                "Crème brûlée",
                Decimal(1),
                eur("3.50"),
                eur("3.50"),
                "A",
                discounts=(DiscountRow("Rabatt 10%", eur("-0.35")),),
            ),
            ReceiptLine("Brötchen Sonntagsbäckerei", Decimal(6), eur("0.45"), eur("2.70"), "A"),
            ReceiptLine("Äpfel lose", Decimal("0.532"), eur("2.99"), eur("1.59"), "A", unit="kg"),
            ReceiptLine("Weißwein", Decimal(1), eur("7.20"), eur("7.20"), "B"),
        ),
        subtotal=eur("17.22"),
        total=eur("16.72"),
        tax_rows=(
            TaxSummaryRow("A", 700, eur("9.09"), eur("0.64"), eur("9.73")),
            TaxSummaryRow("B", 1900, eur("5.87"), eur("1.12"), eur("6.99")),
        ),
        tenders=(tender,),
        change=eur("3.28") if cash else None,
        discounts=(DiscountRow("Aktion Wochenende", eur("-0.50")),),
        till_id="3",
        cashier="Anna",
    )


def japanese_sale() -> ReceiptDoc:
    jpy = lambda n: Money(n, "JPY")  # noqa: E731
    return ReceiptDoc(
        receipt_no="R-081-1-000007",
        store=TOKYO,
        completed_at_utc=COMPLETED_AT,
        lines=(ReceiptLine("抹茶ラテ", Decimal(1), jpy(480), jpy(480), "8"),),
        subtotal=jpy(480),
        total=jpy(480),
        tenders=(TenderRow(TenderKind.CASH, "現金", jpy(500)),),
        change=jpy(20),
    )


def chinese_sale() -> ReceiptDoc:
    cny = lambda s: Money.parse(s, "CNY")  # noqa: E731
    return ReceiptDoc(
        receipt_no="R-086-2-000042",
        store=SHANGHAI,
        completed_at_utc=COMPLETED_AT,
        lines=(ReceiptLine("绿茶 500毫升", Decimal(2), cny("3.50"), cny("7.00"), "A"),),
        subtotal=cny("7.00"),
        total=cny("7.00"),
        tenders=(TenderRow(TenderKind.CARD, "支付宝", cny("7.00")),),
    )


def pick_list() -> PickListDoc:
    return PickListDoc(
        order_id="302-1234567-7654321",
        store=BERLIN,
        channel="amazon.de",
        printed_at_utc=COMPLETED_AT,
        ship_by_utc=datetime(2026, 11, 28, 13, 0, tzinfo=UTC),
        lines=(
            PickLine("SKU-MILK-1L", "Milch 1L", "B-02-01", 2, "4006381333931"),
            PickLine("SKU-WINE-W", "Weißwein Riesling trocken 0,75 l", "A-11-04", 1),
        ),
        notes=("Geschenkverpackung",),
    )


def z_report() -> ZReportDoc:
    return ZReportDoc(
        store=BERLIN,
        till_id="3",
        z_number=118,
        business_day=date(2026, 11, 27),
        opened_at_utc=datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
        closed_at_utc=datetime(2026, 11, 27, 19, 5, tzinfo=UTC),
        sales_count=212,
        sales_total=eur("3120.40"),
        returns_count=3,
        returns_total=eur("-41.97"),
        voids_count=2,
        discounts_total=eur("-55.10"),
        net_total=eur("3078.43"),
        tender_totals=(
            TenderTotalRow(TenderKind.CASH, "Bar", 120, eur("1490.10")),
            TenderTotalRow(TenderKind.CARD, "Karte", 92, eur("1588.33")),
        ),
        opening_float=eur("150.00"),
        cash_expected=eur("1640.10"),
        cash_counted=eur("1639.60"),
        cashier="Anna",
    )
