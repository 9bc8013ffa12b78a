"""The ledger summary and profit: pure mapping of sales, returns and settlement lines, then the
report from real till events and a stored settlement (SQLite and PostgreSQL), CSV included."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hub.db.catalog import import_csv
from hub.db.models_finance import Settlement, SettlementLine
from hub.finance import exports, queries
from hub.finance.reports import (
    BookedLine,
    LedgerEntry,
    LedgerRow,
    ProductCost,
    SkuEntry,
    ledger_csv,
    profit_rows,
    sale_entry,
    settlement_entry,
    summarise,
    totals,
)
from tests.hub.finance.till_kit import DAY, DE, JP, T0, US_NYC, Till, create_store

D1, D2 = date(2026, 11, 25), date(2026, 11, 26)


def booked(kind: str, component: str, amount: int, **kw: object) -> BookedLine:
    return BookedLine(D1, "s-001", "amazon", "USD", kind, component, amount, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "component", "amount", "expect"),
    [
        ("order", "principal", 1500, {"gross": 1500}),
        ("order", "shipping", 499, {"gross": 499}),
        ("order", "tax", 120, {"gross": 120, "tax": 120}),
        ("order", "shipping_tax", 40, {"gross": 40, "tax": 40}),
        ("order", "promotion", -100, {"discounts": 100}),
        ("order", "fee", -225, {"fees": 225}),
        ("order", "withheld_tax", -120, {}),
        ("refund", "principal", -1500, {"refunds": 1500}),
        ("refund", "tax", -120, {"refunds": 120, "tax": -120}),
        ("refund", "fee", 180, {"fees": -180}),
        ("fee", "fee", -3999, {"fees": 3999}),
        ("adjustment", "other", 850, {"other": 850}),
        ("other", "other", -10, {"other": -10}),
    ],
)
def test_settlement_lines_in_the_ledger(
    kind: str, component: str, amount: int, expect: dict[str, int]
) -> None:
    entry = settlement_entry(booked(kind, component, amount))
    assert entry is not None
    got = {
        k: v
        for k in ("gross", "discounts", "refunds", "tax", "fees", "other")
        if (v := getattr(entry, k))
    }
    assert got == expect


@pytest.mark.parametrize("kind", ["reserve", "transfer"])
def test_reserves_and_transfers_are_not_revenue(kind: str) -> None:
    assert settlement_entry(booked(kind, "other", -5000)) is None


def test_an_amazon_order_nets_to_what_is_kept() -> None:
    """principal 15.00 + tax 1.20 - promotion 1.00 - commission 2.25 => kept 11.75 after tax."""
    lines = [
        booked("order", "principal", 1500),
        booked("order", "tax", 120),
        booked("order", "promotion", -100),
        booked("order", "fee", -225),
        booked("order", "withheld_tax", -120),
    ]
    entries = [e for e in map(settlement_entry, lines) if e is not None]
    (row,) = summarise(entries)
    assert (row.gross, row.discounts, row.tax, row.fees, row.net) == (1620, 100, 120, 225, 1175)
    assert row.net == sum(line.amount_minor for line in lines)  # the payout, tax withheld


def test_store_sales_inclusive_and_exclusive() -> None:
    """GIVEN a Berlin sale with a discount and a New York sale with sales tax added
    THEN gross is before discounts with tax, and net = gross - discounts - tax."""
    de, ny = Till("s-de", DE), Till("s-ny", US_NYC)
    de.sell([(de.item("WINE", "8.99"), 2)], discount_bp=1000)
    ny.sell([(ny.item("MUG", "10.00"), 1)])
    de_entry = sale_entry("s-de", de.pending[0][1])
    ny_entry = sale_entry("s-ny", ny.pending[0][1])
    # 17.98 - 1.80 = 16.18 paid, VAT 19 % inside: 2.58
    assert (de_entry.gross, de_entry.discounts, de_entry.tax) == (1798, 180, 258)
    # 10.00 + 0.89 sales tax
    assert (ny_entry.gross, ny_entry.discounts, ny_entry.tax) == (1089, 0, 89)
    (ny_row,) = summarise([ny_entry])
    assert ny_row.net == 1000


def test_summarise_groups_and_totals() -> None:
    entries = [
        LedgerEntry(D1, "s-1", "store", "EUR", gross=1000, tax=160),
        LedgerEntry(D2, "s-1", "store", "EUR", gross=500, refunds=100),
        LedgerEntry(D1, "s-2", "amazon", "EUR", gross=200, fees=30),
        LedgerEntry(D1, "s-2", "store", "JPY", gross=1100, tax=100),
    ]
    by_store = summarise(entries, ("store",))
    assert [(r.store_id, r.currency, r.net) for r in by_store] == [
        ("s-1", "EUR", 1240),
        ("s-2", "EUR", 170),
        ("s-2", "JPY", 1000),
    ]
    assert [(r.day, r.channel) for r in by_store] == [(None, None)] * 3
    assert [(t.currency, t.gross, t.net) for t in totals(by_store)] == [
        ("EUR", 1700, 1410),
        ("JPY", 1100, 1000),
    ]
    with pytest.raises(ValueError, match="cannot group by sku"):
        summarise(entries, ("sku",))


def test_ledger_csv_money_and_formula_text() -> None:
    rows = [
        LedgerRow(D1, "=cmd", "store", "BHD", gross=1050, tax=95, refunds=2000),
        LedgerRow(D1, "s-jp", "store", "JPY", gross=1100, tax=100),
    ]
    text, n = ledger_csv(rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert n == 2
    assert parsed[0][:4] == ["day", "store", "channel", "currency"]
    assert parsed[1] == [
        "2026-11-25",
        "'=cmd",
        "store",
        "BHD",
        "1.050",
        "0.000",
        "2.000",
        "0.095",
        "0.000",
        "0.000",
        "-1.045",
    ]
    assert parsed[2][4:] == ["1100", "0", "0", "100", "0", "0", "1000"]


def test_profit_says_cost_unknown_instead_of_zero() -> None:
    ledger = [
        LedgerRow(None, "s-1", "store", "EUR", gross=2000, tax=300),
        LedgerRow(None, "s-2", "store", "EUR", gross=1000),
    ]
    skus = [
        SkuEntry("s-1", "store", "EUR", "WINE", 2, 1700),
        SkuEntry("s-2", "store", "EUR", "WINE", 1, 500),
        SkuEntry("s-2", "store", "EUR", "NEW", 1, 500),
    ]
    costs = {"WINE": ProductCost(400, "EUR"), "NEW": ProductCost(100, "JPY")}
    one, two = profit_rows(ledger, skus, costs)
    assert (one.net, one.cost_of_goods, one.profit, one.cost_known) == (1700, 800, 900, True)
    assert (two.profit, two.cost_known, two.units_cost_unknown) == (None, False, 1)
    assert two.skus_cost_unknown == {"NEW"}, "a cost in another currency is no cost"
    assert (two.cost_of_goods, two.costed_margin) == (400, 100)


# --- from the hub database ---------------------------------------------------------------------


CATALOG = """sku,name,price,currency,price_list,cost
WINE,Red wine,8.99,EUR,pl-eur,4.10
BREAD,Bread,2.49,EUR,pl-eur,
SAKE,Sake,1100,JPY,pl-jpy,600
"""


def test_ledger_and_profit_from_the_hub(sessions: sessionmaker[Session]) -> None:
    """GIVEN a Berlin and a Tokyo store whose till events reached the hub, a catalog with
    costs for some SKUs, and an Amazon settlement with an account fee WHEN the ledger and
    profit of the day are read THEN each store, channel and currency has its row, the CSV
    matches, and the store selling an uncosted SKU has its profit unknown."""
    create_store(sessions, "s-de", "EUR", "Europe/Berlin")
    create_store(sessions, "s-jp", "JPY", "Asia/Tokyo")
    with sessions.begin() as session:
        report = import_csv(session, io.StringIO(CATALOG), now=T0, default_currency="EUR")
        assert not report.errors
    de = Till("s-de", DE)
    wine, bread = de.item("WINE", "8.99"), de.item("BREAD", "2.49", "reduced")
    sale = de.sell([(wine, 2), (bread, 1)])
    de.give_back(sale, 1, 1)
    de.sync(sessions)
    jp = Till("s-jp", JP)
    jp.sell([(jp.item("SAKE", "1100"), 3)])
    jp.sync(sessions)
    with sessions.begin() as session:
        settlement = Settlement(
            channel="amazon",
            account_id=None,
            settlement_id="90001",
            marketplace_id="A1PA6795UKMFR9",
            marketplace_name="Amazon.de",
            currency="EUR",
            start_at=T0 - timedelta(days=14),
            end_at=T0,
            deposit_at=None,
            total_minor=-3999,
            lines_total_minor=-3999,
            line_count=1,
            source="file",
            source_name="test.txt",
            document_sha256="0" * 64,
            imported_at=T0,
        )
        session.add(settlement)
        session.flush()
        session.add(
            SettlementLine(
                settlement_pk=settlement.id,
                row_no=3,
                transaction_type="other-transaction",
                kind="fee",
                component="fee",
                amount_type="other-transaction",
                amount_description="Subscription Fee",
                amount_minor=-3999,
                posted_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
            )
        )
    period = queries.Period(DAY, DAY)
    with sessions() as session:
        rows = queries.ledger(session, period, group_by=("day", "store", "channel"))
        profit = queries.profit(session, period)
        csv_text, _ = exports.render(session, "ledger", period)
    got = {
        (r.store_id, r.channel, r.currency): (r.gross, r.discounts, r.refunds, r.tax, r.fees, r.net)
        for r in rows
    }
    # Berlin: 2 x 8.99 + 2.49 = 20.47 (VAT 2.87 + 0.16); one wine back: 8.99 with 1.44 VAT.
    assert got == {
        ("", "amazon", "EUR"): (0, 0, 0, 0, 3999, -3999),
        ("s-de", "store", "EUR"): (2047, 0, 899, 303 - 144, 0, 2047 - 899 - 159),
        ("s-jp", "store", "JPY"): (3300, 0, 0, 300, 0, 3000),
    }
    assert {r.day for r in rows} == {DAY}
    lines = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(x["store"], x["channel"], x["net"]) for x in lines] == [
        ("", "amazon", "-39.99"),
        ("s-de", "store", "9.89"),
        ("s-jp", "store", "3000"),
    ]
    by_key = {(p.store_id, p.channel): p for p in profit}
    de_profit, jp_profit = by_key[("s-de", "store")], by_key[("s-jp", "store")]
    assert (jp_profit.units, jp_profit.cost_of_goods, jp_profit.profit) == (3, 1800, 1200)
    assert de_profit.profit is None
    assert de_profit.skus_cost_unknown == {"BREAD"}
    assert (de_profit.units, de_profit.cost_of_goods) == (2, 410)  # 2 wines sold, 1 back
    assert by_key[("", "amazon")].profit == -3999  # no units: fees alone
