"""Golden parsing of Amazon V2 settlement flat files (hub.finance.settlement, pure).

The files under data/ are realistic settlements: a US one with every row type (24
columns, UTF-8), a German one (decimal comma with thousands dots, dd.mm.yyyy dates,
Windows-1252 bytes, 23 columns in another order plus an unknown column), a Japanese one
(JPY, no decimals, thousands commas, ISO dates with +09:00, a UTF-8 BOM) and a Kuwaiti
one (KWD, three decimals, slashed dates, CRLF line ends).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.finance.settlement import (
    BadAmountError,
    BadDateError,
    BadValueError,
    Component,
    EmptyFileError,
    Kind,
    MissingColumnError,
    SettlementParseError,
    SummaryRowError,
    TooManyDecimalsError,
    classify,
    decode_document,
    parse_amount_minor,
    parse_settlement,
    parse_settlement_datetime,
)

DATA = Path(__file__).with_name("data")
US = DATA / "settlement_us.tsv"
DE = DATA / "settlement_de_cp1252.tsv"
JP = DATA / "settlement_jp_jpy.tsv"
KW = DATA / "settlement_kwd.tsv"

O1, O2, O3 = "111-4567890-1234567", "112-2233445-5566778", "113-9988776-6554433"

# (row, transaction-type, kind, component, description, amount_minor, order id)
US_GOLDEN = [
    (3, "Order", "order", "principal", "Principal", 124998, O1),
    (4, "Order", "order", "tax", "Tax", 10312, O1),
    (5, "Order", "order", "shipping", "Shipping", 599, O1),
    (6, "Order", "order", "shipping_tax", "ShippingTax", 49, O1),
    (7, "Order", "order", "promotion", "Principal", -2500, O1),
    (8, "Order", "order", "promotion", "Shipping", -599, O1),
    (9, "Order", "order", "withheld_tax", "MarketplaceFacilitatorTax-Principal", -10312, O1),
    (10, "Order", "order", "withheld_tax", "MarketplaceFacilitatorTax-Shipping", -49, O1),
    (11, "Order", "order", "fee", "Commission", -18750, O1),
    (12, "Order", "order", "fee", "ShippingHB", -90, O1),
    (13, "Order", "order", "principal", "Principal", 2499, O2),
    (14, "Order", "order", "tax", "Tax", 206, O2),
    (15, "Order", "order", "fee", "FBAPerUnitFulfillmentFee", -322, O2),
    (16, "Order", "order", "fee", "Commission", -375, O2),
    (17, "other-transaction", "fee", "fee", "Shipping label purchase", -847, O1),
    (18, "Refund", "refund", "principal", "Principal", -4999, O3),
    (19, "Refund", "refund", "tax", "Tax", -412, O3),
    (20, "Refund", "refund", "fee", "Commission", 750, O3),
    (21, "Refund", "refund", "fee", "RefundCommission", -150, O3),
    (22, "Refund", "refund", "promotion", "Principal", 500, O3),
    (23, "Chargeback Refund", "refund", "principal", "Principal", -2499, O2),
    (24, "other-transaction", "adjustment", "other", "REVERSAL_REIMBURSEMENT", 1234, None),
    (25, "other-transaction", "adjustment", "other", "WAREHOUSE_DAMAGE", 2499, None),
    (26, "other-transaction", "fee", "fee", "Subscription Fee", -3999, None),
    (27, "other-transaction", "fee", "fee", "Storage Fee", -1120, None),
    (28, "ServiceFee", "fee", "fee", "TransactionTotalAmount", -5731, None),
    (29, "other-transaction", "reserve", "other", "Previous Reserve Amount Balance", 31000, None),
    (30, "other-transaction", "reserve", "other", "Current Reserve Amount Balance", -29510, None),
    (31, "other-transaction", "transfer", "other", "Successful charge", 2000, None),
]


def test_us_file_with_every_row_type() -> None:
    """GIVEN the US settlement WHEN parsed THEN every row is classified and in cents."""
    parsed = parse_settlement(US.read_bytes())
    assert parsed.settlement_id == "11924518731"
    assert parsed.currency == "USD"
    assert parsed.marketplace_name == "Amazon.com"
    assert parsed.marketplace_id == "ATVPDKIKX0DER"
    assert parsed.start_at == datetime(2026, 2, 20, 8, 52, 26, tzinfo=UTC)
    assert parsed.end_at == datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)
    assert parsed.deposit_at == datetime(2026, 3, 8, 8, 52, 26, tzinfo=UTC)
    assert parsed.total_minor == 94382
    assert parsed.lines_total_minor == 94382
    assert parsed.balanced
    assert parsed.encoding == "utf-8"
    assert parsed.decimal_separator == "."
    assert parsed.summary_row_no == 2
    got = [
        (
            ln.row_no,
            ln.transaction_type,
            ln.kind.value,
            ln.component.value,
            ln.amount_description,
            ln.amount_minor,
            ln.order_id,
        )
        for ln in parsed.lines
    ]
    assert got == US_GOLDEN
    assert {ln.kind for ln in parsed.lines} == set(Kind) - {Kind.OTHER}
    assert dict(parsed.kind_counts) == {
        "order": 14,
        "fee": 4,
        "refund": 6,
        "adjustment": 2,
        "reserve": 2,
        "transfer": 1,
    }
    first = parsed.lines[0]
    assert first.sku == "ACORN-MUG-01"
    assert first.quantity == 2
    assert first.order_item_code == "62538849512345"
    assert first.merchant_order_id == "ACORN-0001"
    assert first.shipment_id == "DkVnT8x3R"
    assert first.fulfillment_id == "MFN"
    assert first.posted_at == datetime(2026, 3, 3, 17, 4, 11, tzinfo=UTC)
    assert parsed.lines[4].promotion_id == "SPRING10"
    assert parsed.lines[15].adjustment_id == "amzn1.ret.9000001"
    assert parsed.order_ids() == (O1, O2, O3)


def test_de_file_cp1252_decimal_comma_and_columns_by_name() -> None:
    """GIVEN a German file in Windows-1252 with other column order WHEN parsed THEN exact."""
    raw = DE.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the trap is real: ü and ß are single cp1252 bytes
    parsed = parse_settlement(raw)
    assert parsed.encoding == "cp1252"
    assert parsed.decimal_separator == ","
    assert parsed.currency == "EUR"
    assert parsed.marketplace_id == "A1PA6795UKMFR9"
    assert parsed.start_at == datetime(2026, 3, 1, 8, 52, 26, tzinfo=UTC)
    assert parsed.deposit_at == datetime(2026, 3, 17, 8, 52, 26, tzinfo=UTC)
    assert parsed.total_minor == 85509  # "855,09"
    assert parsed.balanced
    assert parsed.unknown_columns == ("report-source",)
    amounts = [ln.amount_minor for ln in parsed.lines]
    assert amounts == [
        125970,
        23934,
        490,
        93,
        -1000,
        -19195,
        -576,
        -41990,
        6398,
        -500,
        -3900,
        -4215,
    ]
    assert parsed.lines[0].sku == "KAFFEEMÜHLE-GROß"
    assert parsed.lines[0].posted_at == datetime(2026, 3, 14, 7, 41, 9, tzinfo=UTC)
    assert parsed.lines[6].component is Component.FEE  # DigitalServicesFee
    assert [ln.kind.value for ln in parsed.lines[7:]] == [
        "refund",
        "refund",
        "refund",
        "fee",
        "reserve",
    ]


def test_de_file_read_with_the_http_charset() -> None:
    """The charset named by the document's HTTP response is used first."""
    parsed = parse_settlement(DE.read_bytes(), charset="Cp1252")
    assert parsed.encoding == "cp1252"
    assert parsed.lines[0].sku == "KAFFEEMÜHLE-GROß"


def test_jpy_file_has_no_decimals_and_iso_offsets() -> None:
    """GIVEN a JPY file with a BOM and +09:00 dates WHEN parsed THEN yen are whole units."""
    raw = JP.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    parsed = parse_settlement(raw)
    assert parsed.currency == "JPY"
    assert parsed.marketplace_id == "A1VC38T7YXB528"
    assert parsed.start_at == datetime(2026, 2, 21, 8, 52, 26, tzinfo=UTC)  # 17:52 +09:00
    assert [ln.amount_minor for ln in parsed.lines] == [13960, 396, -594, -636, -4900]
    assert parsed.total_minor == 8226  # "8,226": the comma is a thousands separator
    assert parsed.balanced


def test_three_decimal_currency() -> None:
    """GIVEN a KWD file (3 decimals, CRLF, slashed dates) WHEN parsed THEN fils are exact."""
    parsed = parse_settlement(KW.read_bytes())
    assert parsed.currency == "KWD"
    assert parsed.marketplace_id is None  # no Amazon marketplace trades in KWD
    assert [ln.amount_minor for ln in parsed.lines] == [1234500, 2750, -185175, -12005]
    assert parsed.total_minor == 1040070
    assert parsed.end_at == datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)
    assert parsed.balanced


def test_rows_that_do_not_add_up_are_reported_not_hidden() -> None:
    """A total-amount that differs from the rows' sum is kept and the difference reported."""
    text = US.read_text("utf-8").replace("\t943.82\t", "\t953.82\t", 1)
    parsed = parse_settlement(text.encode())
    assert parsed.total_minor == 95382
    assert parsed.lines_total_minor == 94382
    assert parsed.mismatch_minor == 1000
    assert not parsed.balanced


# --- bad input ----------------------------------------------------------------------------------


def _us_lines() -> list[list[str]]:
    return [line.split("\t") for line in US.read_text("utf-8").splitlines()]


def _join(rows: list[list[str]]) -> bytes:
    return ("\n".join("\t".join(r) for r in rows) + "\n").encode()


def _set(rows: list[list[str]], line: int, column: str, value: str) -> bytes:
    rows[line - 1][rows[0].index(column)] = value
    return _join(rows)


def test_missing_required_column_is_named() -> None:
    rows = _us_lines()
    pos = rows[0].index("amount")
    data = _join([r[:pos] + r[pos + 1 :] for r in rows])
    with pytest.raises(MissingColumnError) as err:
        parse_settlement(data)
    assert err.value.line == 1
    assert err.value.column == "amount"
    assert "amount" in str(err.value)
    assert "line 1" in str(err.value)


def test_optional_columns_may_be_missing() -> None:
    """A file without promotion-id, deposit-date or posted-date-time still parses."""
    rows = _us_lines()
    drop = {rows[0].index(c) for c in ("promotion-id", "deposit-date", "posted-date-time")}
    parsed = parse_settlement(_join([[f for i, f in enumerate(r) if i not in drop] for r in rows]))
    assert parsed.deposit_at is None
    assert parsed.lines[0].posted_at == datetime(2026, 3, 3, tzinfo=UTC)  # posted-date only
    assert parsed.lines[4].promotion_id is None
    assert parsed.balanced


@pytest.mark.parametrize(
    ("line", "column", "value", "error", "words"),
    [
        (5, "amount", "12.3x", BadAmountError, "not an amount"),
        (5, "amount", "", BadAmountError, "empty"),
        (5, "amount", "1,2,3.00", BadAmountError, "thousands"),
        (5, "amount", "12.345", TooManyDecimalsError, "more decimals than USD"),
        (2, "total-amount", "943.821", TooManyDecimalsError, "never rounded"),
        (2, "settlement-start-date", "2026-13-45 08:52:26 UTC", BadDateError, "not a valid date"),
        (2, "settlement-end-date", "next tuesday", BadDateError, "known format"),
        (7, "posted-date-time", "03/03/2026 17:04", BadDateError, "known format"),
        (2, "currency", "XYZ", BadValueError, "ISO 4217"),
        (6, "quantity-purchased", "two", BadValueError, "whole number"),
        (8, "settlement-id", "999", SummaryRowError, "belongs to settlement 999"),
        (9, "currency", "EUR", SummaryRowError, "in EUR"),
        (10, "total-amount", "1.00", SummaryRowError, "second summary row"),
    ],
)
def test_bad_fields_give_errors_with_line_and_column(
    line: int, column: str, value: str, error: type[SettlementParseError], words: str
) -> None:
    """Each bad field names its line and column and says what is wrong."""
    with pytest.raises(error) as err:
        parse_settlement(_set(_us_lines(), line, column, value))
    assert err.value.line == line
    assert err.value.column == column
    assert words in str(err.value)
    assert f"line {line}" in str(err.value)


def test_no_summary_row_and_empty_files() -> None:
    rows = _us_lines()
    del rows[1]
    with pytest.raises(SummaryRowError, match="no summary row"):
        parse_settlement(_join(rows))
    with pytest.raises(EmptyFileError):
        parse_settlement(b"")
    with pytest.raises(EmptyFileError, match="no rows"):
        parse_settlement(_join(_us_lines()[:1]))


def test_a_row_longer_than_the_header_is_refused() -> None:
    rows = _us_lines()
    rows[4] = [*rows[4], "surprise"]
    with pytest.raises(BadValueError) as err:
        parse_settlement(_join(rows))
    assert err.value.line == 5


def test_mixed_decimal_styles_are_refused() -> None:
    data = _set(_us_lines(), 5, "amount", "5,99")
    with pytest.raises(BadAmountError, match="mixes decimal points and decimal commas"):
        parse_settlement(data)


def test_a_header_named_twice_is_refused() -> None:
    rows = _us_lines()
    rows[0][rows[0].index("sku")] = "amount"
    with pytest.raises(MissingColumnError, match="appears twice"):
        parse_settlement(_join(rows))


# --- the pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "sep", "minor"),
    [
        ("12.34", "USD", ".", 1234),
        ("-1,234,567.89", "USD", ".", -123456789),
        ("1.234.567,89", "EUR", ",", 123456789),
        ("-0,50", "EUR", ",", -50),
        ("1 234,50", "EUR", ",", 123450),
        ("1\u00a0234,50", "EUR", ",", 123450),
        ("1980", "JPY", ".", 1980),
        ("-1,980", "JPY", ".", -1980),
        ("1980.00", "JPY", ".", 1980),  # zeros beyond the exponent lose nothing
        ("1.234", "KWD", ".", 1234),
        ("1.234,567", "KWD", ",", 1234567),
        ("+7", "USD", ".", 700),
        (".5", "USD", ".", 50),
    ],
)
def test_amounts(text: str, currency: str, sep: str, minor: int) -> None:
    assert parse_amount_minor(text, currency, decimal_separator=sep) == minor


@pytest.mark.parametrize(
    ("text", "currency", "sep"),
    [
        ("1980.5", "JPY", "."),
        ("0.001", "USD", "."),
        ("1,2345", "KWD", ","),
    ],
)
def test_more_decimals_than_the_currency_has_is_an_error(
    text: str, currency: str, sep: str
) -> None:
    with pytest.raises(TooManyDecimalsError):
        parse_amount_minor(text, currency, decimal_separator=sep)


@given(minor=st.integers(min_value=-(10**12), max_value=10**12), exp=st.sampled_from([0, 2, 3]))
def test_amount_round_trip_in_both_styles(minor: int, exp: int) -> None:
    """Any amount written with grouping in either style reads back to the same minor units."""
    currency = {0: "JPY", 2: "EUR", 3: "KWD"}[exp]
    major, frac = divmod(abs(minor), 10**exp)
    sign = "-" if minor < 0 else ""
    point = f"{sign}{major:,}" + (f".{frac:0{exp}d}" if exp else "")
    comma = point.replace(",", "_").replace(".", ",").replace("_", ".")
    assert parse_amount_minor(point, currency, decimal_separator=".") == minor
    assert parse_amount_minor(comma, currency, decimal_separator=",") == minor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-06 08:52:26 UTC", datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)),
        ("06.03.2026 08:52:26 UTC", datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)),
        ("2026-03-06T08:52:26+00:00", datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)),
        ("2026-03-06T09:52:26+01:00", datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)),
        ("2026-03-05T23:52:26-0900", datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)),
        ("2026-03-06T08:52:26Z", datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)),
        ("2026-03-06T08:52:26.250Z", datetime(2026, 3, 6, 8, 52, 26, 250000, tzinfo=UTC)),
        ("2026/03/06 08:52:26 UTC", datetime(2026, 3, 6, 8, 52, 26, tzinfo=UTC)),
        ("2026-03-06", datetime(2026, 3, 6, tzinfo=UTC)),
        ("6.3.2026", datetime(2026, 3, 6, tzinfo=UTC)),
    ],
)
def test_dates(text: str, expected: datetime) -> None:
    assert parse_settlement_datetime(text) == expected


@pytest.mark.parametrize("text", ["2026-03-06 08:52:26 PST", "06/03/2026", "", "2026-02-30"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(BadDateError):
        parse_settlement_datetime(text, line=4, column="posted-date")


@pytest.mark.parametrize(
    ("tx", "atype", "desc", "kind", "component"),
    [
        ("Order", "ItemPrice", "Principal", Kind.ORDER, Component.PRINCIPAL),
        ("Order", "ItemPrice", "GiftWrapTax", Kind.ORDER, Component.TAX),
        ("Order", "ItemFees", "VariableClosingFee", Kind.ORDER, Component.FEE),
        ("Order", "ItemFees", "ShippingChargeback", Kind.ORDER, Component.FEE),
        ("Order", "ItemPrice", "GiftWrap", Kind.ORDER, Component.OTHER),
        ("Refund", "ItemFees", "RefundCommission", Kind.REFUND, Component.FEE),
        ("Refund", "ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal", Kind.REFUND,
         Component.WITHHELD_TAX),
        ("A-to-z Guarantee Claim", "ItemPrice", "Principal", Kind.REFUND, Component.PRINCIPAL),
        ("other-transaction", "other-transaction", "Payable to Amazon", Kind.RESERVE,
         Component.OTHER),
        ("other-transaction", "other-transaction", "Successful charge", Kind.TRANSFER,
         Component.OTHER),
        ("Transfer", "", "", Kind.TRANSFER, Component.OTHER),
        ("Adjustment", "ItemPrice", "Principal", Kind.ADJUSTMENT, Component.PRINCIPAL),
        ("other-transaction", "FBA Inventory Reimbursement", "MISSING_FROM_INBOUND",
         Kind.ADJUSTMENT, Component.OTHER),
        ("ServiceFee", "Cost of Advertising", "TransactionTotalAmount", Kind.FEE, Component.FEE),
        ("other-transaction", "other-transaction", "Inbound Transportation Fee", Kind.FEE,
         Component.FEE),
        ("Liquidations", "ItemPrice", "Principal", Kind.OTHER, Component.PRINCIPAL),
    ],
)  # fmt: skip
def test_classification(tx: str, atype: str, desc: str, kind: Kind, component: Component) -> None:
    assert classify(tx, atype, desc) == (kind, component)


def test_decoding() -> None:
    assert decode_document("\ufeffa\tb".encode()) == ("a\tb", "utf-8")
    assert decode_document("Gebühr".encode("cp1252")) == ("Gebühr", "cp1252")
    assert decode_document(b"\x81\x8d") == ("\x81\x8d", "latin-1")  # undefined in cp1252
    assert decode_document("Gebühr".encode("cp1252"), "utf-8")[1] == "cp1252"  # header lied
    with pytest.raises(SettlementParseError, match="not valid ascii"):
        decode_document("Gebühr".encode("cp1252"), "ascii")
