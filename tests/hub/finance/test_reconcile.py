"""Reconciliation: marketplace orders against settlements, Z reports against synced sales.

Pure table tests of the order rules (0, 2 and 3-decimal currencies), shifts from real
edge-domain tills applied by the hub (SQLite and PostgreSQL), and the end-to-end check of
sandbox orders imported, shipped, settled short and imported again (test_reconcile_e2e).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.channels.amazon.runner import AccountRunner
from hub.channels.amazon.sandbox import SandboxServer, SandboxState, Settings
from hub.channels.amazon.states import RoutingState, ShipmentState
from hub.db import channels as channel_repo
from hub.db.models_channels import MarketplaceOrder
from hub.finance import queries
from hub.finance.reconcile import (
    ExpectedOrder,
    OrderFlagCode,
    OrderReconciliation,
    SettledLine,
    Severity,
    ShiftFlagCode,
    ShiftReconciliation,
    ZReportFigures,
    expected_components,
    reconcile_orders,
    reconcile_shift,
    totals_from_events,
)
from hub.finance.settlement_schedule import SettlementSchedulePolicy, SettlementWorker
from tests.channels.amazon.conftest import CIPHER, Scenario, account_for, ago, fast_client
from tests.hub.finance.till_kit import DAY, DE, JP, T0, Till, create_store

SHIPPED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def order(
    pk: int = 1,
    *,
    currency: str = "USD",
    total: int | None = 1620,
    components: dict[str, int] | None = None,
    cancelled: bool = False,
    shipped: datetime | None = SHIPPED,
) -> ExpectedOrder:
    return ExpectedOrder(
        order_pk=pk,
        account="amazon-us",
        account_id=7,
        marketplace_id="ATVPDKIKX0DER",
        marketplace_order_id=f"111-0000000-{pk:07d}",
        currency=currency,
        total_minor=total,
        components=components,
        cancelled=cancelled,
        shipped_at=shipped,
        store_id="s-001",
        purchased_at=SHIPPED - timedelta(days=1),
    )


def line(
    component: str,
    amount: int,
    *,
    pk: int | None = 1,
    kind: str = "order",
    desc: str = "",
    currency: str = "USD",
    order_id: str | None = None,
    settlement: str = "S1",
) -> SettledLine:
    return SettledLine(
        settlement_id=settlement,
        currency=currency,
        kind=kind,
        component=component,
        description=desc or component.title(),
        amount_minor=amount,
        order_id=order_id or (f"111-0000000-{pk:07d}" if pk is not None else None),
        order_pk=pk,
    )


PAID_IN_FULL = [
    line("principal", 1500),
    line("tax", 120),
    line("fee", -225, desc="Commission"),
]


def only(results: list[OrderReconciliation], pk: int = 1) -> OrderReconciliation:
    return next(r for r in results if r.order_pk == pk)


def codes(rec: OrderReconciliation | ShiftReconciliation) -> list[str]:
    return [str(f.code) for f in rec.flags]


def test_an_order_paid_in_full_matches() -> None:
    rec = only(reconcile_orders([order()], PAID_IN_FULL))
    assert codes(rec) == []
    assert rec.outcome == "matched"
    assert (rec.expected_minor, rec.charged_minor, rec.fees_minor, rec.net_minor) == (
        1620,
        1620,
        -225,
        1395,
    )
    assert rec.difference_minor == 0
    assert rec.settlements == ("S1",)


def test_a_short_settlement_is_flagged_with_the_component() -> None:
    components = {"principal": 1500, "tax": 120}
    lines = [line("principal", 1000), line("tax", 120), line("fee", -150, desc="Commission")]
    rec = only(reconcile_orders([order(components=components)], lines))
    assert codes(rec) == ["short_paid"]
    assert rec.has_discrepancy
    assert rec.difference_minor == -500
    assert rec.flags[0].amount_minor == -500
    assert rec.flags[0].message == (
        "short paid by 5.00 USD: settled 11.20 USD, order total 16.20 USD "
        "(principal short by 5.00 USD)"
    )


@pytest.mark.parametrize(
    ("currency", "expected", "settled", "text"),
    [
        ("JPY", 1100, 1000, "short paid by 100 JPY: settled 1000 JPY, order total 1100 JPY"),
        ("EUR", 1999, 2099, "over paid by 1.00 EUR: settled 20.99 EUR, order total 19.99 EUR"),
        ("BHD", 5250, 5000, "short paid by 0.250 BHD: settled 5.000 BHD, order total 5.250 BHD"),
    ],
)
def test_differences_in_0_2_and_3_decimal_currencies(
    currency: str, expected: int, settled: int, text: str
) -> None:
    rec = only(
        reconcile_orders(
            [order(currency=currency, total=expected)],
            [line("principal", settled, currency=currency)],
        )
    )
    assert rec.flags[0].message == text
    assert rec.difference_minor == settled - expected


def test_not_settled_is_a_discrepancy_only_after_a_settlement_closed() -> None:
    through_after = {(7, "ATVPDKIKX0DER"): SHIPPED + timedelta(days=2)}
    through_before = {(7, "ATVPDKIKX0DER"): SHIPPED - timedelta(days=2)}
    late = only(reconcile_orders([order()], [], settled_through=through_after))
    fresh = only(reconcile_orders([order()], [], settled_through=through_before))
    unshipped = only(reconcile_orders([order(shipped=None)], [], settled_through=through_after))
    cancelled = only(reconcile_orders([order(cancelled=True)], [], settled_through=through_after))
    assert codes(late) == ["not_settled"]
    assert late.has_discrepancy
    assert codes(fresh) == ["awaiting_settlement"]
    assert not fresh.has_discrepancy
    assert fresh.flags[0].severity is Severity.NOTE
    assert (codes(unshipped), unshipped.outcome) == ([], "open")
    assert codes(cancelled) == []


def test_refund_unknown_order_cancelled_and_currency_mismatch() -> None:
    refunded = PAID_IN_FULL + [
        line("principal", -1500, kind="refund"),
        line("tax", -120, kind="refund"),
        line("fee", 180, kind="refund", desc="Commission"),
        line("fee", -45, kind="refund", desc="RefundCommission"),
    ]
    results = reconcile_orders(
        [order(1), order(2, cancelled=True), order(3, currency="CAD")],
        refunded
        + [line("principal", 500, pk=2)]
        + [line("principal", 1620, pk=3, currency="USD")]
        + [line("principal", 999, pk=None, order_id="111-9999999-9999999", settlement="S2")],
    )
    rec = only(results, 1)
    assert codes(rec) == ["refunded"]
    assert not rec.has_discrepancy
    assert (rec.refunds_minor, rec.fees_minor, rec.net_minor) == (-1620, -90, -90)
    assert codes(only(results, 2)) == ["cancelled_settled"]
    assert codes(only(results, 3)) == ["currency_mismatch"]
    stray = next(r for r in results if r.order_pk is None)
    assert (stray.marketplace_order_id, codes(stray)) == ("111-9999999-9999999", ["unknown_order"])
    assert "S2" in stray.flags[0].message
    # discrepancies sort first
    assert [r.has_discrepancy for r in results] == [True, True, True, False]


def test_commission_above_the_referral_rate() -> None:
    fair = [line("principal", 1000), line("shipping", 499), line("fee", -225, desc="Commission")]
    greedy = [line("principal", 1000), line("fee", -300, desc="Commission")]
    fba_fee = [line("principal", 1000), line("fee", -322, desc="FBAPerUnitFulfillmentFee")]
    assert codes(only(reconcile_orders([order(total=1499)], fair))) == []
    rec = only(reconcile_orders([order(total=1000)], greedy))
    assert codes(rec) == ["fee_above_rate"]
    assert rec.flags[0].message == (
        "commission 3.00 USD is 30.0 % of 10.00 USD (referral rate 15 %)"
    )
    assert codes(only(reconcile_orders([order(total=1000)], fba_fee))) == []
    assert (
        codes(only(reconcile_orders([order(total=1000)], greedy, referral_rate_ppm=300_000))) == []
    )


def test_expected_components_from_imported_lines() -> None:
    lines = [
        {
            "line_price": [1500, "USD"],
            "item_tax": [120, "USD"],
            "shipping_price": [499, "USD"],
            "shipping_tax": None,
            "promotion_discount": [100, "USD"],
        }
    ]
    assert expected_components(lines) == {
        "principal": 1500,
        "tax": 120,
        "shipping": 499,
        "shipping_tax": 0,
        "promotion": -100,
    }
    assert expected_components(None) is None
    assert order(total=None, components={"principal": 5}).expected_minor == 5


# --- shifts ------------------------------------------------------------------------------------


def _figures(body: dict) -> ZReportFigures:  # type: ignore[type-arg]
    return ZReportFigures.from_body("s-de", body)


def test_a_z_report_equal_to_its_sales_matches_pure() -> None:
    till = Till("s-de", DE)
    shift = str(uuid.uuid4())
    bread, wine = till.item("BREAD", "2.49", "reduced"), till.item("WINE", "8.99")
    s1 = till.sell([(bread, 2), (wine, 1)], shift_id=shift)
    s2 = till.sell([(wine, 2)], shift_id=shift, discount_bp=1000, card=True)
    r1 = till.give_back(s1, 2, 1, shift_id=shift)
    till.shift(
        float_="100.00",
        counted="105.96",
        sales=[s1, s2],
        returns=[r1],
        shift_id=shift,
        opened_at=T0,
    )
    bodies = [b for _, b, _ in till.pending]
    z = _figures(bodies[-1])
    synced = totals_from_events(bodies[:2], bodies[2:3])
    rec = reconcile_shift(z, synced)
    assert [(c.name, c.matches) for c in rec.checks] == [
        ("sales_count", True),
        ("gross", True),
        ("discounts", True),
        ("returns", True),
        ("tax", True),
        ("expected_cash", True),
    ]
    # float 100.00 + cash sale 13.97 - cash refund 8.99 = 104.98; counted 105.96
    assert (z.expected_cash_minor, z.over_short_minor) == (10498, 98)
    assert codes(rec) == ["cash_over"]
    assert rec.has_discrepancy
    assert rec.flags[0].message == "drawer over by 0.98 EUR"


def test_shifts_from_the_hub(sessions: sessionmaker[Session]) -> None:
    """GIVEN two Tokyo shifts synced to the hub, one whose Z report counts a sale the hub
    never received and whose drawer is short, one that balances WHEN the shifts are
    reconciled THEN the first is flagged (sales count, gross, tax, cash short) with
    amounts in yen, the second matches."""
    create_store(sessions, "s-jp", "JPY", "Asia/Tokyo")
    till = Till("s-jp", JP)
    bad, good = "shift-a", "shift-b"
    sake, rice = till.item("SAKE", "1100"), till.item("RICE", "540", "reduced")
    a1 = till.sell([(sake, 1)], shift_id=bad)
    a2 = till.sell([(rice, 2)], shift_id=bad, send=False)  # lost on the way: never synced
    till.shift(
        float_="10000",
        counted="12000",
        sales=[a1, a2],
        shift_id=bad,
        opened_at=T0,
    )
    b1 = till.sell([(rice, 1)], shift_id=good)
    b2 = till.sell([(sake, 2)], shift_id=good, card=True)
    till.shift(float_="5000", counted="5540", sales=[b1, b2], shift_id=good, opened_at=T0)
    till.sync(sessions)

    with sessions() as session:
        results = queries.shift_reconciliations(session, queries.Period(DAY, DAY))
    by_id = {r.z.shift_id: r for r in results}
    assert set(by_id) == {bad, good}
    flagged, fine = by_id[bad], by_id[good]
    assert results[0] is flagged, "discrepancies first"
    assert codes(flagged) == ["z_mismatch", "z_mismatch", "z_mismatch", "z_mismatch", "cash_short"]
    messages = [f.message for f in flagged.flags]
    assert messages[0] == "Z report counts 2 sales, 1 synced"
    assert messages[1] == "gross: Z report 2180 JPY, synced 1100 JPY"
    assert messages[2] == "tax: Z report 180 JPY, synced 100 JPY"
    assert messages[3] == "expected cash: Z report 12180 JPY, synced 11100 JPY"
    # expected 10000 + 1100 + 1080 = 12180; counted 12000
    assert flagged.over_short_minor == -180
    assert messages[4] == "drawer short by 180 JPY"
    assert codes(fine) == []
    assert fine.outcome == "matched"
    assert fine.synced.sales_count == 2
    assert fine.z.expected_cash_minor == 5540


def test_an_inconsistent_z_report_is_flagged() -> None:
    body = {
        "shift_id": "x",
        "cashier_id": "c-1",
        "business_day": DAY.isoformat(),
        "currency": "BHD",
        "opened_at": "2026-11-26T08:00:00Z",
        "closed_at": "2026-11-26T16:00:00Z",
        "sales_count": 0,
        "gross_minor": 0,
        "discounts_minor": 0,
        "tax_minor": 0,
        "returns_minor": 0,
        "expected_cash_minor": 50_000,
        "counted_cash_minor": 49_750,
        "over_short_minor": 0,
    }
    rec = reconcile_shift(ZReportFigures.from_body("s-bh", body), totals_from_events([], []))
    assert [str(f.code) for f in rec.flags] == [ShiftFlagCode.Z_INCONSISTENT]
    assert rec.flags[0].message == (
        "over/short 0.000 BHD is not counted 49.750 BHD less expected 50.000 BHD"
    )


def test_order_flag_codes_are_stable() -> None:
    """The API and CSV carry these words; renaming one breaks the consumers."""
    assert {c.value for c in OrderFlagCode} == {
        "short_paid",
        "over_paid",
        "not_settled",
        "awaiting_settlement",
        "refunded",
        "unknown_order",
        "cancelled_settled",
        "currency_mismatch",
        "fee_above_rate",
        "no_expected_total",
    }


# --- end to end: sandbox orders, shipped, settled short, imported, reconciled ------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """A fast-mode Amazon sandbox on 127.0.0.1 for this module."""
    with SandboxServer(SandboxState(settings=Settings.fast_mode())) as server:
        yield server


def test_sandbox_orders_settled_short_are_flagged_end_to_end(
    sandbox: SandboxServer, sessions: sessionmaker[Session]
) -> None:
    """GIVEN sandbox orders imported by the channel importer, two shipped from a New York
    store (confirmed to Amazon), one shipped by FBA, one not shipped yet, WHEN Amazon
    closes a settlement that pays one order 5.00 short and holds an order the hub never
    imported, and the scheduled import stores it THEN reconciliation flags exactly the
    short order (principal) and the unknown one, the others match, and the ledger books
    the settled orders at the store that shipped them."""
    scenario = Scenario(sandbox.url)
    seller = scenario.add_seller(["US"])
    sid = seller["seller_id"]
    create_store(sessions, "s-ny", "USD", "America/New_York")
    with sessions.begin() as session:
        account = channel_repo.add_account(
            session, account_for(sandbox, seller), CIPHER, now=datetime.now(UTC)
        )
        session.expunge(account)

    def add(**spec: Any) -> str:
        spec.setdefault("purchase_date", ago(minutes=40))
        return str(scenario.add_orders(sid, **spec)[0]["AmazonOrderId"])

    short = add(
        items=[{"seller_sku": "AZ-MUG", "quantity": 2, "unit_price": "19.99", "item_tax": "3.20"}]
    )
    fine = add(
        items=[
            {
                "seller_sku": "AZ-TEA",
                "quantity": 1,
                "unit_price": "9.50",
                "shipping_price": "4.99",
                "promotion_discount": "1.00",
            }
        ]
    )
    fba = add(fulfillment_channel="AFN", status="Shipped")
    waiting = add(items=[{"seller_sku": "AZ-MUG", "quantity": 1, "unit_price": "19.99"}])
    runner = AccountRunner(sessions, account, CIPHER, client_factory=fast_client)
    try:
        runner.import_orders()
        with sessions.begin() as session:  # what routing does when the store hands over
            for mo in session.scalars(
                select(MarketplaceOrder).where(
                    MarketplaceOrder.marketplace_order_id.in_([short, fine])
                )
            ):
                mo.routing_state = RoutingState.HANDED_OVER.value
                mo.routed_location = "s-ny"
                mo.carrier_code, mo.tracking_number = "UPS", f"1Z{mo.id:06d}"
                mo.handed_over_at = datetime.now(UTC) - timedelta(minutes=5)
                mo.shipment_state = ShipmentState.PENDING.value
        assert runner.confirm_shipments() == 2
    finally:
        runner.close()
    stranger = add(fulfillment_channel="AFN", status="Shipped")  # never imported by the hub
    scenario.call("POST", f"/sellers/{sid}/settlements", {"short_pay": {short: "5.00"}})
    worker = SettlementWorker(
        sessions,
        CIPHER,
        worker_id="hub-e2e",
        policy=SettlementSchedulePolicy(interval_s=3600.0),
        client_factory=fast_client,
    )
    try:
        (run,) = worker.run_once()
    finally:
        worker.stop()
    assert run.ok, run
    assert len(run.imported) == 1

    today = datetime.now(UTC).date()
    period = queries.Period(today - timedelta(days=1), today)
    with sessions() as session:
        results = {
            r.marketplace_order_id: r for r in queries.order_reconciliations(session, period)
        }
        ledger = queries.ledger(session, period, group_by=("store", "channel"))
    assert {k: r.outcome for k, r in results.items()} == {
        short: "short_paid",
        stranger: "unknown_order",
        fine: "matched",
        fba: "matched",
        waiting: "open",
    }
    flagged = results[short]
    assert (flagged.expected_minor, flagged.charged_minor, flagged.difference_minor) == (
        4318,
        3818,
        -500,
    )
    assert "principal short by 5.00 USD" in flagged.flags[0].message
    assert flagged.store_id == "s-ny"
    assert flagged.fees_minor < 0
    matched = results[fine]
    assert matched.settled_components == {"principal": 950, "shipping": 499, "promotion": -100}
    assert matched.expected_minor == matched.charged_minor == 1349
    assert results[fba].store_id == "fba"
    assert [r.has_discrepancy for r in results.values()].count(True) == 2
    rows = {(r.store_id, r.channel): r for r in ledger}
    ny = rows[("s-ny", "amazon")]
    assert (ny.gross, ny.discounts, ny.tax) == (3818 + 1449, 100, 320)
    assert ny.fees == -(flagged.fees_minor + matched.fees_minor)
    assert ("fba", "amazon") in rows
    assert rows[("", "amazon")].fees > 0, "account-level fees and the unknown order's"


def test_a_fee_settled_before_the_sale_is_not_a_short_payment() -> None:
    """A shipping label bought for the order is in a settlement before the sale is: the
    order is awaiting its settlement, not paid 16.20 short."""
    label = [line("fee", -585, kind="fee", desc="Shipping label purchase")]
    through = {(7, "ATVPDKIKX0DER"): SHIPPED - timedelta(days=1)}
    rec = only(reconcile_orders([order()], label, settled_through=through))
    assert codes(rec) == ["awaiting_settlement"]
    assert (rec.fees_minor, rec.net_minor, rec.settlements) == (-585, -585, ("S1",))
