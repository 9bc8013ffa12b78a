"""Tenders: cash with change, card with the terminal's reference, split tender, refunds."""

from __future__ import annotations

import pytest
from edge_sale_kit import m

from edge_agent.domain.errors import (
    CurrencyMismatch,
    InsufficientTender,
    InvalidTender,
    NonCashOverDue,
    RefundMismatch,
    SaleError,
    TenderReferenceRequired,
)
from edge_agent.domain.tender import Tender, TenderKind, settle, settle_refund

DUE = m("12.30")


@pytest.mark.parametrize(
    ("tenders", "change", "per_tender"),
    [
        pytest.param(
            [Tender.cash(m("12.30"))], "0.00", [("cash", "12.30", "0.00")], id="cash-exact"
        ),
        pytest.param(
            [Tender.cash(m("20.00"))], "7.70", [("cash", "20.00", "7.70")], id="cash-change"
        ),
        pytest.param(
            [Tender.card(m("12.30"), "A1")], "0.00", [("card", "12.30", "0.00")], id="card-exact"
        ),
        pytest.param(
            [Tender.cash(m("5.00")), Tender.card(m("7.30"), "A1")],
            "0.00",
            [("cash", "5.00", "0.00"), ("card", "7.30", "0.00")],
            id="split-cash-then-card",
        ),
        pytest.param(
            [Tender.card(m("10.00"), "A1"), Tender.cash(m("5.00"))],
            "2.70",
            [("card", "10.00", "0.00"), ("cash", "5.00", "2.70")],
            id="split-card-then-cash-with-change",
        ),
        pytest.param(
            [Tender.cash(m("2.00")), Tender.cash(m("20.00"))],
            "9.70",
            [("cash", "2.00", "0.00"), ("cash", "20.00", "9.70")],
            id="two-cash",
        ),
        pytest.param(
            [Tender.other(m("10.00"), "GV-1"), Tender.card(m("2.30"), "A1")],
            "0.00",
            [("other", "10.00", "0.00"), ("card", "2.30", "0.00")],
            id="voucher-and-card",
        ),
    ],
)
def test_settle(tenders: list[Tender], change: str, per_tender: list[tuple[str, str, str]]) -> None:
    result = settle(DUE, tenders)
    assert result.change == m(change)
    assert [
        (t.kind.value, t.amount.format(), t.change.format()) for t in result.tenders
    ] == per_tender
    assert sum((t.taken for t in result.tenders), m("0")) == DUE
    assert result.tendered - result.change == DUE


def test_insufficient_tender_says_what_is_missing() -> None:
    with pytest.raises(InsufficientTender, match=r"2\.30 GBP is still to pay") as err:
        settle(DUE, [Tender.cash(m("10.00"))])
    assert (err.value.due, err.value.tendered, err.value.short) == (DUE, m("10.00"), m("2.30"))
    with pytest.raises(InsufficientTender):
        settle(DUE, [])


def test_card_is_never_over_the_amount_due() -> None:
    with pytest.raises(NonCashOverDue, match="change can only be given on cash") as err:
        settle(DUE, [Tender.card(m("20.00"), "A1")])
    assert err.value.remaining == DUE
    with pytest.raises(NonCashOverDue) as err:
        settle(DUE, [Tender.cash(m("10.00")), Tender.card(m("5.00"), "A1")])
    assert err.value.remaining == m("2.30")


def test_card_needs_the_terminal_reference() -> None:
    for reference in ("", "   "):
        with pytest.raises(TenderReferenceRequired, match="terminal"):
            settle(DUE, [Tender.card(DUE, reference)])
    assert settle(DUE, [Tender.card(DUE, " A1 ")]).tenders[0].reference == "A1"


def test_nothing_after_the_sale_is_paid_and_no_empty_tenders() -> None:
    with pytest.raises(InvalidTender, match="already paid"):
        settle(DUE, [Tender.cash(m("20.00")), Tender.card(m("1.00"), "A1")])
    with pytest.raises(InvalidTender, match="more than zero"):
        settle(DUE, [Tender.cash(m("0.00")), Tender.cash(DUE)])
    with pytest.raises(CurrencyMismatch):
        settle(DUE, [Tender.cash(m("20.00", "EUR"))])


def test_zero_due_is_settled_by_a_zero_cash_tender() -> None:
    result = settle(m("0.00"), [])
    assert [(t.kind, t.amount) for t in result.tenders] == [(TenderKind.CASH, m("0.00"))]


def test_refunds_must_match_exactly() -> None:
    tenders = settle_refund(DUE, [Tender.cash(m("2.30")), Tender.card(m("10.00"), "R-9")])
    assert [(t.kind, t.taken) for t in tenders] == [
        (TenderKind.CASH, m("2.30")),
        (TenderKind.CARD, m("10.00")),
    ]
    with pytest.raises(RefundMismatch, match="must match exactly"):
        settle_refund(DUE, [Tender.cash(m("20.00"))])
    with pytest.raises(TenderReferenceRequired):
        settle_refund(DUE, [Tender.card(DUE, "")])
    with pytest.raises(SaleError):
        settle_refund(DUE, [])
