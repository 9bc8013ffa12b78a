"""Returns: partial against a receipt with pro-rata refunds, and blind returns with a manager."""

from __future__ import annotations

from uuid import uuid4

import pytest
from edge_sale_kit import DAY, T0, UK, US_NYC, cart, item, m, paid_in_cash
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.discount import PercentDiscount
from edge_agent.domain.errors import (
    ApprovalRequired,
    InvalidQuantity,
    InvalidReturn,
    ReasonRequired,
    RefundMismatch,
    ReturnExceedsSold,
    UnknownLine,
)
from edge_agent.domain.returns import (
    BlindReturnLine,
    CompletedReturn,
    Disposition,
    ReturnRequestLine,
    blind_return,
    quote_blind_return,
    quote_return,
    return_against_sale,
    returned_so_far,
)
from edge_agent.domain.sale import CompletedSale
from edge_agent.domain.tender import Tender
from protocol.money import Money

MANAGER = ManagerApproval("m-7")


def _sale() -> CompletedSale:
    # 3 x 3.33 with a 10 % cart discount: line 1 pays 8.99 for three units, tax 1.50.
    c = cart().add(item("MUG", "3.33"), qty=3).add(item("BOOK", "7.99", "zero"))
    return paid_in_cash(c.discount_cart(PercentDiscount(1000, "staff")), receipt_no="R-1")


def _return(
    sale: CompletedSale,
    request: list[ReturnRequestLine],
    prior: list[CompletedReturn] | None = None,
    refund: list[Tender] | None = None,
) -> CompletedReturn:
    quote = quote_return(sale, request, prior_returns=prior or [])
    return return_against_sale(
        sale,
        request,
        prior_returns=prior or [],
        refund_tenders=_cash_for(quote.refund_total) if refund is None else refund,
        return_id=uuid4(),
        receipt_no=f"RT-{len(prior or []) + 1}",
        cashier_id="c-2",
        now_utc=T0,
        business_day=DAY,
    )


def _cash_for(total: Money) -> list[Tender]:
    return [] if total.is_zero() else [Tender.cash(total)]


def test_the_sale_under_test_and_a_quote_before_paying() -> None:
    sale = _sale()
    assert (sale.line(1).total, sale.line(1).tax) == (m("8.99"), m("1.50"))
    assert sale.line(2).total == m("7.19")
    quote = quote_return(sale, [ReturnRequestLine(1, 2)], prior_returns=[])
    assert (quote.refund_total, quote.tax, quote.net) == (m("5.99"), m("1.00"), m("4.99"))
    blind = quote_blind_return(UK, [BlindReturnLine("MUG", "Mug", 1, m("3.33"), "standard")])
    assert (blind.refund_total, blind.tax) == (m("3.33"), m("0.56"))


def test_partial_returns_refund_pro_rata_and_add_up_to_the_line() -> None:
    sale = _sale()
    first = _return(sale, [ReturnRequestLine(1, 1)])
    second = _return(sale, [ReturnRequestLine(1, 1, Disposition.WRITE_OFF)], [first])
    third = _return(sale, [ReturnRequestLine(1, 1)], [first, second])
    refunds = [r.lines[0].refund for r in (first, second, third)]
    taxes = [r.lines[0].tax for r in (first, second, third)]
    # 8.99 / 3 = 2.9967: cumulative shares 3.00, 5.99, 8.99.
    assert refunds == [m("3.00"), m("2.99"), m("3.00")]
    assert taxes == [m("0.50"), m("0.50"), m("0.50")]
    assert sum(refunds, m("0")) == sale.line(1).total
    assert sum(taxes, m("0")) == sale.line(1).tax
    assert [r.lines[0].restock for r in (first, second, third)] == [True, False, True]
    assert first.original_receipt_no == "R-1"
    assert first.original_sale_id == sale.sale_id
    assert not first.is_blind
    assert first.restocked() == (("MUG", 1),)
    assert second.restocked() == ()
    assert returned_so_far(sale, [first, second, third]) == {1: 3}


def test_cannot_return_more_than_sold_less_returned() -> None:
    sale = _sale()
    first = _return(sale, [ReturnRequestLine(1, 2)])
    with pytest.raises(
        ReturnExceedsSold, match=r"only 1 can be \(3 sold, 2 already returned\)"
    ) as e:
        _return(sale, [ReturnRequestLine(1, 2)], [first])
    assert (e.value.sold, e.value.already_returned, e.value.requested) == (3, 2, 2)
    # A return against another sale does not count against this one.
    other = _sale()
    foreign = _return(other, [ReturnRequestLine(1, 3)])
    assert _return(sale, [ReturnRequestLine(1, 1)], [first, foreign]).lines[0].qty == 1


def test_return_request_refusals() -> None:
    sale = _sale()
    with pytest.raises(InvalidReturn, match="at least one"):
        _return(sale, [])
    with pytest.raises(InvalidReturn, match="listed twice"):
        _return(sale, [ReturnRequestLine(1, 1), ReturnRequestLine(1, 1)])
    with pytest.raises(UnknownLine):
        _return(sale, [ReturnRequestLine(7, 1)])
    with pytest.raises(InvalidQuantity):
        _return(sale, [ReturnRequestLine(1, 0)])
    with pytest.raises(RefundMismatch):
        _return(sale, [ReturnRequestLine(2, 1)], refund=[Tender.cash(m("7.99"))])


def test_return_of_several_lines_with_split_refund_and_tax_summary() -> None:
    sale = _sale()
    ret = return_against_sale(
        sale,
        [ReturnRequestLine(1, 3), ReturnRequestLine(2, 1)],
        prior_returns=[],
        refund_tenders=[Tender.card(m("10.00"), "REF-1"), Tender.cash(m("6.18"))],
        return_id=uuid4(),
        receipt_no="RT-9",
        cashier_id="c-2",
        now_utc=T0,
        business_day=DAY,
        approval=MANAGER,
    )
    assert ret.refund_total == sale.total == m("16.18")
    assert ret.tax == sale.tax
    assert ret.manager_id == "m-7"
    assert [(r.rate.percent_text(), r.tax, r.gross) for r in ret.tax_summary] == [
        ("20%", m("1.50"), m("8.99")),
        ("0%", m("0.00"), m("7.19")),
    ]


def _blind(**overrides: object) -> CompletedReturn:
    kwargs: dict[str, object] = {
        "approval": MANAGER,
        "reason": "gift, no receipt",
        "refund_tenders": [Tender.cash(m("6.00"))],
        "return_id": uuid4(),
        "receipt_no": "RT-B1",
        "cashier_id": "c-2",
        "now_utc": T0,
        "business_day": DAY,
    }
    kwargs.update(overrides)
    items = [BlindReturnLine("MUG", "Mug", 2, m("3.00"), "standard")]
    return blind_return(UK, items, **kwargs)  # type: ignore[arg-type]


def test_blind_return_needs_a_manager_and_a_reason() -> None:
    with pytest.raises(ApprovalRequired, match="return without a receipt"):
        _blind(approval=None)
    with pytest.raises(ReasonRequired):
        _blind(reason="")
    ret = _blind()
    assert ret.is_blind
    assert (ret.original_receipt_no, ret.original_sale_id, ret.manager_id) == (None, None, "m-7")
    assert (ret.refund_total, ret.tax, ret.net) == (m("6.00"), m("1.00"), m("5.00"))


def test_blind_return_in_an_exclusive_store_adds_tax() -> None:
    ret = blind_return(
        US_NYC,
        [
            BlindReturnLine("SHIRT", "Shirt", 1, m("20.00", "USD"), "standard"),
            BlindReturnLine(
                "MILK", "Milk", 1, m("3.49", "USD"), "exempt", None, Disposition.WRITE_OFF
            ),
        ],
        approval=MANAGER,
        reason="no receipt",
        refund_tenders=[Tender.cash(m("25.27", "USD"))],
        return_id=uuid4(),
        receipt_no="RT-B2",
        cashier_id="c-2",
        now_utc=T0,
        business_day=DAY,
    )
    assert [(ln.refund, ln.tax, ln.restock) for ln in ret.lines] == [
        (m("21.78", "USD"), m("1.78", "USD"), True),
        (m("3.49", "USD"), m("0.00", "USD"), False),
    ]
    assert ret.refund_total == m("25.27", "USD")


@given(st.integers(1, 40), st.integers(1, 200_000), st.data())
def test_any_split_of_a_line_refunds_exactly_its_total(
    qty: int, price_minor: int, data: st.DataObject
) -> None:
    c = cart().add(item("X", Money(price_minor, "GBP").format()), qty=qty)
    if data.draw(st.booleans()):
        c = c.discount_cart(PercentDiscount(data.draw(st.integers(1, 10_000)), "promo"))
    sale = paid_in_cash(c)
    left = qty
    prior: list[CompletedReturn] = []
    while left:
        take = data.draw(st.integers(1, left))
        prior.append(_return(sale, [ReturnRequestLine(1, take)], prior))
        left -= take
    zero = Money.zero("GBP")
    assert sum((r.refund_total for r in prior), zero) == sale.line(1).total
    assert sum((r.tax for r in prior), zero) == sale.line(1).tax
    assert all(r.refund_total.amount_minor >= 0 for r in prior)
