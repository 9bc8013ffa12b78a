"""Sales, voids, returns and shifts through the store layer: rows, stock and events agree."""

from __future__ import annotations

import json
import uuid

import pytest

from edge_agent.domain.approval import ManagerApproval
from edge_agent.domain.errors import ApprovalRequired, InsufficientTender, ReturnExceedsSold
from edge_agent.domain.returns import Disposition, ReturnRequestLine
from edge_agent.store.errors import Conflict, NotFound
from edge_agent.store.facade import EdgeStore
from edge_agent.store.models import OutboxEvent, Sale, SaleLine, Stock, Tender
from edge_agent.store.outbox import join_batch
from edge_agent.store.returns import BlindItem
from protocol.codec import DecodedEvent, RejectedEvent, decode_event_batch
from tests.edge.store.helpers import cart_of, cash


def _events(store: EdgeStore) -> list[dict]:
    return [json.loads(e.envelope) for e in OutboxEvent.select().order_by(OutboxEvent.seq)]


@pytest.fixture
def stocked(store: EdgeStore) -> EdgeStore:
    Stock.update(on_hand=10).execute()
    return store


def test_sale_writes_rows_stock_and_one_event(stocked: EdgeStore) -> None:
    cart = cart_of(stocked, ("MILK-1L", 2), ("WINE-RED", 1))
    result = stocked.sales.complete(cart, cashier_id="c1", tenders=[cash(stocked, 2000)])
    sale = result.completed
    assert not result.duplicate
    assert sale.receipt_no == "s-001-000001"
    assert sale.total.amount_minor == 2 * 129 + 899
    assert sale.change.amount_minor == 2000 - 1157
    assert Sale.select().count() == 1
    assert SaleLine.select().count() == 2
    assert Tender.get().change_minor == 843
    assert stocked.stock.level("MILK-1L").on_hand == 8
    assert stocked.stock.level("WINE-RED").on_hand == 9
    (event,) = _events(stocked)
    assert event["type"] == "sale.completed"
    body = event["body"]
    assert body["sale_id"] == str(cart.cart_id)
    assert body["total_minor"] == 1157
    assert body["tax_minor"] == sale.tax.amount_minor == 150  # 20 % VAT inside 899
    assert [line["qty"] for line in body["lines"]] == [2, 1]
    assert body["lines"][1]["tax_rate_bp"] == 2000
    assert body["tenders"] == [
        {"kind": "cash", "amount_minor": 2000, "reference": None, "change_minor": 843}
    ]
    # The stored document rebuilds the very same domain object.
    assert stocked.sales.completed(cart.cart_id) == sale


def test_completing_the_same_cart_twice_counts_it_once(stocked: EdgeStore) -> None:
    cart = cart_of(stocked, ("BREAD", 1))
    first = stocked.sales.complete(cart, cashier_id="c1", tenders=[cash(stocked, 300)])
    again = stocked.sales.complete(cart, cashier_id="c1", tenders=[cash(stocked, 300)])
    assert again.duplicate
    assert again.completed == first.completed
    assert Sale.select().count() == 1
    assert len(_events(stocked)) == 1
    assert stocked.stock.level("BREAD").on_hand == 9


def test_refused_tender_leaves_no_trace(stocked: EdgeStore) -> None:
    cart = cart_of(stocked, ("SOAP", 1))
    with pytest.raises(InsufficientTender):
        stocked.sales.complete(cart, cashier_id="c1", tenders=[cash(stocked, 100)])
    assert Sale.select().count() == 0
    assert _events(stocked) == []
    ok = stocked.sales.complete(cart, cashier_id="c1", tenders=[cash(stocked, 350)])
    assert ok.completed.receipt_no == "s-001-000001"  # no receipt number was burnt
    assert _events(stocked)[0]["seq"] == 1


def test_selling_below_zero_raises_an_alarm_event(store: EdgeStore) -> None:
    cart = cart_of(store, ("APPLES", 2))
    store.sales.complete(cart, cashier_id="c1", tenders=[cash(store, 398)])
    events = _events(store)
    assert [e["type"] for e in events] == ["sale.completed", "stock.below_zero"]
    assert events[1]["body"] == {"sku": "APPLES", "on_hand": -2, "sale_id": str(cart.cart_id)}
    assert [e["seq"] for e in events] == [1, 2]


def test_void_is_audited_without_moving_stock(stocked: EdgeStore) -> None:
    cart = cart_of(stocked, ("SOAP", 3))
    record = stocked.sales.void(cart, cashier_id="c1", reason="customer left")
    assert record.lines_count == 1
    assert stocked.stock.level("SOAP").on_hand == 10
    (event,) = _events(stocked)
    assert event["type"] == "sale.voided"
    assert event["body"]["total_minor"] == 1050
    assert stocked.sales.voids_of_day(record.business_day) == [record]


def test_partial_returns_add_up_and_restock(stocked: EdgeStore) -> None:
    cart = cart_of(stocked, ("WINE-RED", 3))
    sale = stocked.sales.complete(cart, cashier_id="c1", tenders=[cash(stocked, 3000)]).completed
    refunds = []
    for qty in (1, 2):
        ret = stocked.returns.against_receipt(
            sale.receipt_no,
            [ReturnRequestLine(line_no=1, qty=qty)],
            return_id=uuid.uuid4(),
            cashier_id="c1",
        )
        refunds.append(ret.completed.refund_total.amount_minor)
    assert sum(refunds) == sale.total.amount_minor
    assert stocked.stock.level("WINE-RED").on_hand == 10
    with pytest.raises(ReturnExceedsSold):
        stocked.returns.against_receipt(
            sale.receipt_no,
            [ReturnRequestLine(line_no=1, qty=1)],
            return_id=uuid.uuid4(),
            cashier_id="c1",
        )
    types = [e["type"] for e in _events(stocked)]
    assert types == ["sale.completed", "return.completed", "return.completed"]


def test_return_refund_tenders_and_idempotency(stocked: EdgeStore) -> None:
    sale = stocked.sales.complete(
        cart_of(stocked, ("SOAP", 1)), cashier_id="c1", tenders=[cash(stocked, 350)]
    ).completed
    return_id = uuid.uuid4()
    kwargs = {
        "return_id": return_id,
        "refund_tenders": [cash(stocked, 350)],
        "cashier_id": "c1",
    }
    request = [ReturnRequestLine(line_no=1, qty=1, disposition=Disposition.WRITE_OFF)]
    first = stocked.returns.against_receipt(sale.receipt_no, request, **kwargs)
    again = stocked.returns.against_receipt(sale.receipt_no, request, **kwargs)
    assert again.duplicate
    assert again.completed == first.completed
    assert stocked.stock.level("SOAP").on_hand == 9  # written off, not restocked
    body = _events(stocked)[-1]["body"]
    assert body["lines"][0]["restock"] is False
    assert body["refund_total_minor"] == 350
    with pytest.raises(NotFound, match="no sale with receipt"):
        stocked.returns.against_receipt(
            "s-001-999999", request, **{**kwargs, "return_id": uuid.uuid4()}
        )


def test_blind_return_needs_a_manager(stocked: EdgeStore) -> None:
    items = [BlindItem("BREAD", 1)]
    with pytest.raises(ApprovalRequired):
        stocked.returns.blind(
            items,
            return_id=uuid.uuid4(),
            approval=None,  # type: ignore[arg-type]
            reason="no receipt",
            refund_tenders=[cash(stocked, 249)],
            cashier_id="c1",
        )
    ret = stocked.returns.blind(
        items,
        return_id=uuid.uuid4(),
        approval=ManagerApproval("m1"),
        reason="no receipt",
        refund_tenders=[cash(stocked, 249)],
        cashier_id="c1",
    ).completed
    assert ret.is_blind
    assert ret.manager_id == "m1"
    assert stocked.stock.level("BREAD").on_hand == 11


def test_shift_close_writes_z_report_and_event(stocked: EdgeStore) -> None:
    shift = stocked.shifts.open("c1", 10_000)
    with pytest.raises(Conflict, match="already open"):
        stocked.shifts.open("c2", 0)
    stocked.sales.complete(
        cart_of(stocked, ("WINE-RED", 1)),
        cashier_id="c1",
        tenders=[cash(stocked, 1000)],
        shift_id=shift.shift_id,
    )
    stocked.sales.void(
        cart_of(stocked, ("SOAP", 1)),
        cashier_id="c1",
        reason="changed mind",
        shift_id=shift.shift_id,
    )
    closure = stocked.shifts.close(shift.shift_id, counted_cash_minor=10_899 + 5)
    assert closure.expected_cash.amount_minor == 10_899
    assert closure.over_short.amount_minor == 5
    assert stocked.shifts.current() is None
    event = _events(stocked)[-1]
    assert event["type"] == "shift.closed"
    body = event["body"]
    assert (body["sales_count"], body["voids_count"], body["over_short_minor"]) == (1, 1, 5)
    assert body["tenders"]["cash"] == 899
    view = stocked.shifts.get(shift.shift_id)
    assert view.closed
    assert view.report is not None
    assert view.report["sales_total_minor"] == 899
    with pytest.raises(Conflict, match="already closed"):
        stocked.shifts.close(shift.shift_id, counted_cash_minor=0)


def test_every_event_the_till_writes_passes_the_protocol_decoder(stocked: EdgeStore) -> None:
    """The hub decodes with protocol.codec: every event type written here must pass it."""
    shift = stocked.shifts.open("c1", 1000)
    sale = stocked.sales.complete(
        cart_of(stocked, ("SOAP", 1), ("APPLES", 11)),  # APPLES goes below zero
        cashier_id="c1",
        tenders=[cash(stocked, 5000)],
        shift_id=shift.shift_id,
    ).completed
    stocked.sales.void(cart_of(stocked, ("SOAP", 1)), cashier_id="c1", reason="changed mind")
    stocked.returns.against_receipt(
        sale.receipt_no, [ReturnRequestLine(1, 1)], return_id=uuid.uuid4(), cashier_id="c1"
    )
    stocked.returns.blind(
        [BlindItem("BREAD", 1)],
        return_id=uuid.uuid4(),
        approval=ManagerApproval("m1"),
        reason="no receipt",
        cashier_id="c1",
    )
    stocked.stock.receive("MILK-1L", 5)
    stocked.stock.adjust("MILK-1L", -1, reason="damaged")
    stocked.stock.count("MILK-1L", 3)
    stocked.shifts.close(shift.shift_id, counted_cash_minor=0)
    payload = join_batch(stocked.outbox.pending(0, limit=1000))
    decoded = decode_event_batch(f"acorn/v1/store/{stocked.store_id}/up/events", payload)
    assert [d for d in decoded if isinstance(d, RejectedEvent)] == []
    assert [d.envelope.type for d in decoded if isinstance(d, DecodedEvent)] == [
        "sale.completed",
        "stock.below_zero",
        "sale.voided",
        "return.completed",
        "return.completed",
        "stock.received",
        "stock.adjusted",
        "stock.counted",
        "shift.closed",
    ]
