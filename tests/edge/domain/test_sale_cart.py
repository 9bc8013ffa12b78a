"""Cart: quantities, discounts, overrides, totals, void, completion and below-zero stock."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import datetime
from uuid import uuid4

import pytest
from edge_sale_kit import DAY, JP, T0, UK, US_NYC, cart, item, m, paid_in_cash
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.discount import (
    AmountDiscount,
    DiscountKind,
    DiscountScope,
    PercentDiscount,
)
from edge_agent.domain.errors import (
    ApprovalRequired,
    CurrencyMismatch,
    DiscountTooLarge,
    EmptyCart,
    InvalidDiscount,
    InvalidPrice,
    InvalidQuantity,
    NaiveDateTime,
    ReasonRequired,
    SaleError,
    UnknownLine,
    UnknownTaxClass,
)
from edge_agent.domain.sale import MAX_LINE_QTY, Cart, CatalogItem, StockShortfall
from edge_agent.domain.tax import TaxRounding
from edge_agent.domain.tender import Tender, TenderKind
from protocol.money import Money

MANAGER = ManagerApproval("m-7")


def test_scanning_the_same_item_again_increments_its_line() -> None:
    c = cart().add(item("A", "2.50")).add(item("A", "2.50")).add(item("B", "1.00"), qty=3)
    assert [(ln.line_no, ln.sku, ln.qty) for ln in c.lines] == [(1, "A", 2), (2, "B", 3)]
    assert c.items_count == 5
    assert c.priced().total == m("8.00")


def test_a_new_price_or_a_discounted_line_gets_its_own_line() -> None:
    c = cart().add(item("A", "2.50")).discount_line(1, PercentDiscount(1000, "damaged"))
    c = c.add(item("A", "2.50")).add(item("A", "2.00"))
    assert [(ln.line_no, ln.qty, ln.unit_price) for ln in c.lines] == [
        (1, 1, m("2.50")),
        (2, 1, m("2.50")),
        (3, 1, m("2.00")),
    ]


def test_quantities_set_increment_remove_and_line_numbers_are_never_reused() -> None:
    c = cart().add(item("A", "1.00")).add(item("B", "2.00"))
    c = c.set_quantity(1, 4).increment(2, by=2).remove(1)
    assert [(ln.line_no, ln.qty) for ln in c.lines] == [(2, 3)]
    c = c.add(item("C", "3.00"))
    assert [ln.line_no for ln in c.lines] == [2, 3]


@pytest.mark.parametrize("qty", [0, -1, MAX_LINE_QTY + 1])
def test_bad_quantities_are_refused_and_the_cart_is_unchanged(qty: int) -> None:
    c = cart().add(item("A", "1.00"))
    with pytest.raises(InvalidQuantity, match=f"between 1 and {MAX_LINE_QTY}"):
        c.set_quantity(1, qty)
    with pytest.raises(InvalidQuantity):
        c.add(item("B", "1.00"), qty=qty)
    assert c.lines[0].qty == 1


def test_scan_refusals() -> None:
    c = cart()
    with pytest.raises(UnknownTaxClass):
        c.add(item("A", "1.00", tax_class="luxury"))
    with pytest.raises(CurrencyMismatch, match="in EUR but the sale is in GBP"):
        c.add(item("A", "1.00", currency="EUR"))
    with pytest.raises(InvalidPrice):
        c.add(CatalogItem("A", "x", Money(-1, "GBP"), "standard"))
    with pytest.raises(UnknownLine, match="no line 9"):
        c.set_quantity(9, 1)


@pytest.mark.parametrize(
    ("discount", "line_discount", "total"),
    [
        (PercentDiscount(1000, "damaged box"), "0.60", "5.39"),  # 10 % of 5.99 = 0.599
        (PercentDiscount(10_000, "free sample"), "5.99", "0.00"),
        (AmountDiscount(m("1.00"), "price match"), "1.00", "4.99"),
        (AmountDiscount(m("5.99"), "goodwill"), "5.99", "0.00"),
    ],
)
def test_line_discounts(
    discount: PercentDiscount | AmountDiscount, line_discount: str, total: str
) -> None:
    priced = cart().add(item("A", "5.99")).discount_line(1, discount).priced()
    line = priced.lines[0]
    assert line.line_discount is not None
    assert line.line_discount.amount == m(line_discount)
    assert line.discount == m(line_discount)
    assert line.total == priced.total == m(total)
    assert priced.discounts_applied[0].reason == discount.reason


def test_a_discount_larger_than_the_line_is_refused() -> None:
    c = cart().add(item("A", "5.99"))
    with pytest.raises(
        DiscountTooLarge, match=r"6\.00 GBP is more than line 1 \(5\.99 GBP\)"
    ) as err:
        c.discount_line(1, AmountDiscount(m("6.00"), "too much"))
    assert err.value.line_no == 1
    assert c.lines[0].discount is None


def test_reducing_a_line_below_its_amount_discount_is_refused() -> None:
    c = cart().add(item("A", "2.00"), qty=3).discount_line(1, AmountDiscount(m("5.00"), "bundle"))
    with pytest.raises(DiscountTooLarge):
        c.set_quantity(1, 2)
    assert c.set_quantity(1, 3) == c  # unchanged cart is still fine


@pytest.mark.parametrize(("bp", "reason"), [(0, "x"), (10_001, "x"), (-5, "x"), (1000, "  ")])
def test_invalid_discounts(bp: int, reason: str) -> None:
    with pytest.raises(InvalidDiscount):
        PercentDiscount(bp, reason)


def test_amount_discount_must_be_positive_and_in_the_sale_currency() -> None:
    with pytest.raises(InvalidDiscount):
        AmountDiscount(m("0.00"), "nothing")
    c = cart().add(item("A", "5.00"))
    with pytest.raises(CurrencyMismatch):
        c.discount_line(1, AmountDiscount(Money(100, "EUR"), "wrong money"))


def test_cart_discount_is_spread_over_lines_exactly() -> None:
    c = (
        cart()
        .add(item("A", "1.00"))
        .add(item("B", "1.00"))
        .add(item("C", "1.00"))
        .discount_cart(AmountDiscount(m("1.00"), "loyalty voucher"))
    )
    priced = c.priced()
    assert [ln.cart_discount_share for ln in priced.lines] == [m("0.34"), m("0.33"), m("0.33")]
    assert [ln.total for ln in priced.lines] == [m("0.66"), m("0.67"), m("0.67")]
    assert priced.total == m("2.00")
    assert priced.discounts == m("1.00")
    assert priced.cart_discount is not None
    assert priced.cart_discount.scope is DiscountScope.CART
    assert priced.cart_discount.kind is DiscountKind.AMOUNT
    assert priced.discounts_applied[-1].reason == "loyalty voucher"


def test_cart_discount_applies_after_line_discounts() -> None:
    c = (
        cart()
        .add(item("A", "10.00"))
        .add(item("B", "10.00"))
        .discount_line(1, PercentDiscount(5000, "clearance"))
        .discount_cart(PercentDiscount(1000, "staff"))
    )
    priced = c.priced()
    # 20.00 - 5.00 = 15.00; 10 % staff = 1.50, spread 5:10.
    assert priced.cart_discount is not None
    assert priced.cart_discount.amount == m("1.50")
    assert [ln.cart_discount_share for ln in priced.lines] == [m("0.50"), m("1.00")]
    assert [ln.discount for ln in priced.lines] == [m("5.50"), m("1.00")]
    assert priced.total == m("13.50")


def test_cart_discount_too_large_and_removal_that_would_break_it() -> None:
    c = cart().add(item("A", "3.00")).add(item("B", "2.00"))
    with pytest.raises(DiscountTooLarge, match="the sale"):
        c.discount_cart(AmountDiscount(m("5.01"), "x"))
    c = c.discount_cart(AmountDiscount(m("4.00"), "voucher"))
    with pytest.raises(DiscountTooLarge):
        c.remove(1)
    assert c.clear_cart_discount().remove(1).priced().total == m("2.00")


def test_price_override_needs_a_manager_and_is_recorded() -> None:
    c = cart().add(item("A", "9.99"))
    with pytest.raises(ApprovalRequired, match="price override"):
        c.override_price(1, m("7.50"), None, "shelf label")  # type: ignore[arg-type]
    c = c.override_price(1, m("7.50"), MANAGER, "shelf label")
    line = c.priced().lines[0]
    assert line.unit_price == m("7.50")
    assert line.catalog_unit_price == m("9.99")
    assert line.price_override is not None
    assert line.price_override.manager_id == "m-7"
    assert line.price_override.reason == "shelf label"
    assert c.clear_price_override(1).priced().total == m("9.99")
    with pytest.raises(InvalidPrice):
        c.override_price(1, m("-1.00"), MANAGER)


def test_totals_exclusive_us_sales_tax() -> None:
    c = cart(US_NYC)
    c = c.add(item("SHIRT", "20.00", currency="USD")).add(item("MILK", "3.49", "exempt", "USD"))
    c = c.discount_line(1, PercentDiscount(2500, "sale"))
    p = c.priced()
    assert (p.subtotal, p.discounts, p.net) == (
        m("23.49", "USD"),
        m("5.00", "USD"),
        m("18.49", "USD"),
    )
    assert p.tax == m("1.33", "USD")  # 15.00 x 8.875 % = 1.33125
    assert p.total == m("19.82", "USD") == p.subtotal - p.discounts + p.tax
    assert not p.prices_include_tax


def test_totals_inclusive_jpy() -> None:
    c = (
        cart(JP)
        .add(item("BENTO", "540", "reduced", "JPY"))
        .add(item("MUG", "1650", currency="JPY"))
    )
    p = c.priced()
    assert p.total == p.subtotal == Money(2190, "JPY")
    assert p.tax == Money(40 + 150, "JPY")
    assert [(r.rate.percent_text(), r.tax.amount_minor) for r in p.tax_summary] == [
        ("10%", 150),
        ("8%", 40),
    ]


def test_void_before_completion() -> None:
    cart_id = uuid4()
    c = cart(cart_id=cart_id).add(item("A", "4.00"), qty=2).add(item("B", "1.50"))
    record = c.void(reason="customer left", cashier_id="c-1", now_utc=T0, business_day=DAY)
    assert record.sale_id == cart_id
    assert (record.total, record.lines_count, record.items_count) == (m("9.50"), 2, 3)
    assert record.manager_id is None
    assert record.voided_at == T0
    with pytest.raises(ReasonRequired):
        c.void(reason=" ", cashier_id="c-1", now_utc=T0, business_day=DAY)
    with pytest.raises(EmptyCart, match="nothing to void"):
        cart().void(reason="x", cashier_id="c-1", now_utc=T0, business_day=DAY)


def test_complete_carries_everything_the_sale_completed_event_needs() -> None:
    cart_id = uuid4()
    c = (
        cart(cart_id=cart_id)
        .add(CatalogItem("TEA", "Tea 80", m("3.99"), "standard", gtin="05000000000015"), qty=2)
        .add(item("BOOK", "9.99", "zero"))
        .discount_cart(PercentDiscount(1000, "staff"))
    )
    sale = c.complete(
        receipt_no="S012-000123",
        cashier_id="c-1",
        tenders=[Tender.card(m("10.00"), "AUTH-778899"), Tender.cash(m("10.00"))],
        now_utc=T0,
        business_day=DAY,
        shift_id="sh-1",
    )
    assert sale.sale_id == cart_id
    assert (sale.receipt_no, sale.shift_id, sale.business_day) == ("S012-000123", "sh-1", DAY)
    assert sale.prices_include_tax
    wire_lines = [
        (
            ln.line_no,
            ln.sku,
            ln.gtin,
            ln.qty,
            ln.unit_price.amount_minor,
            ln.discount.amount_minor,
            ln.tax_class,
            int(ln.tax_rate.bp),
            ln.tax.amount_minor,
            ln.total.amount_minor,
        )
        for ln in sale.lines
    ]
    assert wire_lines == [
        (1, "TEA", "05000000000015", 2, 399, 80, "standard", 2000, 120, 718),
        (2, "BOOK", None, 1, 999, 100, "zero", 0, 0, 899),
    ]
    assert (sale.subtotal, sale.discounts, sale.tax, sale.total) == (
        m("17.97"),
        m("1.80"),
        m("1.20"),
        m("16.17"),
    )
    assert sum(ln.total.amount_minor for ln in sale.lines) == sale.total.amount_minor
    assert [(d.kind, d.value, d.reason, d.amount) for d in sale.discounts_applied] == [
        (DiscountKind.PERCENT, 1000, "staff", m("1.80"))
    ]
    assert [(t.kind, t.amount, t.reference, t.change) for t in sale.tenders] == [
        (TenderKind.CARD, m("10.00"), "AUTH-778899", m("0.00")),
        (TenderKind.CASH, m("10.00"), None, m("3.83")),
    ]
    assert sale.change == m("3.83")
    assert sale.completed_at == T0
    assert sale.line(2).sku == "BOOK"


def test_completion_refusals() -> None:
    with pytest.raises(EmptyCart):
        paid_in_cash(cart())
    c = cart().add(item("A", "1.00"))
    with pytest.raises(NaiveDateTime):
        paid_in_cash(c, at_utc=datetime(2026, 11, 27, 10, 0))  # noqa: DTZ001


def test_a_fully_discounted_sale_completes_with_a_zero_cash_tender() -> None:
    c = cart().add(item("A", "2.00")).discount_cart(PercentDiscount(10_000, "promo"))
    sale = paid_in_cash(c)
    assert sale.total.is_zero()
    assert [(t.kind, t.amount) for t in sale.tenders] == [(TenderKind.CASH, m("0.00"))]


def test_selling_below_zero_is_allowed_and_reported() -> None:
    c = cart().add(item("A", "1.00"), qty=3).add(item("B", "1.00")).add(item("C", "1.00"))
    c = c.discount_line(3, PercentDiscount(1000, "x")).add(item("C", "1.00"))  # C on two lines
    on_hand = {"A": 5, "B": 0, "C": 1}  # D is unknown: treated as zero on hand
    sale = paid_in_cash(c)
    assert sale.below_zero(on_hand) == (
        StockShortfall("B", 0, 1, -1),
        StockShortfall("C", 1, 2, -1),
    )
    assert c.below_zero({"A": 2, "B": 1, "C": 2}) == (StockShortfall("A", 2, 3, -1),)
    assert c.add(item("D", "1.00")).below_zero({"A": 9, "B": 9, "C": 9}) == (
        StockShortfall("D", 0, 1, -1),
    )


def test_errors_share_one_root_and_carry_a_code() -> None:
    with pytest.raises(SaleError) as err:
        cart().add(item("A", "1.00")).set_quantity(1, 0)
    assert err.value.code == "invalid_quantity"


# A discount to try: (kind, value) with value in bp or minor units, or None.
_discounts = st.one_of(
    st.none(),
    st.tuples(st.just("percent"), st.integers(1, 10_000)),
    st.tuples(st.just("amount"), st.integers(1, 50_000)),
)


@st.composite
def _carts(draw: st.DrawFn) -> Cart:
    policy = draw(st.sampled_from([UK, US_NYC, JP]))
    if draw(st.booleans()):
        policy = dataclasses.replace(policy, rounding=TaxRounding.LINE)
    cur = policy.currency
    c = Cart.start(uuid4(), policy)
    for i in range(draw(st.integers(1, 8))):
        price = Money(draw(st.integers(0, 20_000)), cur)
        tax_class = draw(st.sampled_from(sorted(policy.rates)))
        c = c.add(CatalogItem(f"S{i}", "x", price, tax_class), qty=draw(st.integers(1, 12)))
        spec = draw(_discounts)
        line = c.lines[-1]
        if spec and spec[0] == "percent":
            c = c.discount_line(line.line_no, PercentDiscount(spec[1], "p"))
        elif spec and spec[1] <= line.amount.amount_minor:
            c = c.discount_line(line.line_no, AmountDiscount(Money(spec[1], cur), "a"))
    spec = draw(_discounts)
    if spec and spec[0] == "percent":
        c = c.discount_cart(PercentDiscount(spec[1], "p"))
    elif spec:
        priced = c.priced()
        if spec[1] <= (priced.subtotal - priced.discounts).amount_minor:
            c = c.discount_cart(AmountDiscount(Money(spec[1], cur), "a"))
    return c


@given(_carts())
def test_line_totals_always_add_up_to_the_cart_total(c: Cart) -> None:
    p = c.priced()
    zero = Money.zero(c.currency)
    assert sum((ln.total for ln in p.lines), zero) == p.total
    assert sum((ln.tax for ln in p.lines), zero) == p.tax
    assert sum((ln.discount for ln in p.lines), zero) == p.discounts
    assert sum((ln.amount for ln in p.lines), zero) == p.subtotal
    cart_off = p.cart_discount.amount if p.cart_discount else zero
    assert sum((ln.cart_discount_share for ln in p.lines), zero) == cart_off
    taxed = zero if p.prices_include_tax else p.tax
    assert p.total == p.subtotal - p.discounts + taxed
    assert p.net + p.tax == p.total
    for ln in p.lines:
        assert ln.total.amount_minor >= 0
        assert ln.net.amount_minor >= 0
        assert ln.tax.amount_minor >= 0
        assert ln.discount <= ln.amount


def test_carts_and_sales_survive_copy_and_pickle() -> None:
    # The UI may keep a terminal's cart in a server-side session or hand it to a worker.
    c = cart().add(item("A", "1.00")).discount_cart(PercentDiscount(500, "x"))
    sale = paid_in_cash(c)
    assert copy.deepcopy(c) == c
    assert pickle.loads(pickle.dumps(sale)) == sale
