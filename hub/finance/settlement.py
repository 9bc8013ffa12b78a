"""Parse Amazon's V2 settlement flat file (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2). Pure.

The file is tab-separated text with a header row; one row (the summary) carries the
settlement's dates, ``total-amount`` and ``currency``, and every other row is one amount
component. Layouts and formats vary by marketplace and by year, so this parser:

- reads columns by header name, never by position (23 or 24 columns, extra unknown columns
  are kept out of the way, a missing required one is an error naming it);
- decodes bytes as UTF-8 (with or without BOM), else Windows-1252 (or the charset the
  HTTP response named);
- reads dates as ``2026-03-06 08:52:26 UTC``, ``06.03.2026 08:52:26 UTC``,
  ``2026/03/06 08:52:26 UTC``, ISO 8601 with an offset or ``Z``, or a bare date (midnight UTC);
- reads amounts with a decimal point or a decimal comma, with or without thousands
  separators, decided once per file from the amounts themselves (the date style breaks a
  tie), into exact integer minor units of the currency's ISO 4217 exponent; an amount with
  more decimals than the currency has is an error, never rounded;
- classifies every row into a ``Kind`` and a ``Component`` (docs/finance.md);
- compares the rows' sum with ``total-amount`` and reports the difference
  (``ParsedSettlement.mismatch_minor``); it does not refuse the file for it.

Every error is a ``SettlementParseError`` carrying the line number (header = 1) and the column.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from hub.channels.amazon.marketplaces import MARKETPLACES_BY_ID
from protocol.errors import MoneyError
from protocol.money import Money, minor_unit_exponent

REPORT_TYPE: Final = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"

REQUIRED_COLUMNS: Final = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "amount-type",
    "amount-description",
    "amount",
)
"""Columns without which a settlement cannot be read; any other column is optional."""

KNOWN_COLUMNS: Final = (
    *REQUIRED_COLUMNS,
    "deposit-date",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)


_KNOWN: Final = frozenset(KNOWN_COLUMNS)


class Kind(enum.StrEnum):
    """What a settlement row is about (``settlement_lines.kind``)."""

    ORDER = "order"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    RESERVE = "reserve"
    TRANSFER = "transfer"
    FEE = "fee"
    OTHER = "other"


class Component(enum.StrEnum):
    """Which part of the money a row is (``settlement_lines.component``)."""

    PRINCIPAL = "principal"
    TAX = "tax"
    SHIPPING = "shipping"
    SHIPPING_TAX = "shipping_tax"
    PROMOTION = "promotion"
    FEE = "fee"
    WITHHELD_TAX = "withheld_tax"
    OTHER = "other"


# --- errors -------------------------------------------------------------------------------------


class SettlementParseError(Exception):
    """A settlement file that cannot be read; ``line`` (header = 1) and ``column`` say where."""

    reason = "invalid"

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class EmptyFileError(SettlementParseError):
    """The document has no header or no rows."""

    reason = "empty"


class MissingColumnError(SettlementParseError):
    """A required column is not in the header (or a column name appears twice)."""

    reason = "missing_column"


class SummaryRowError(SettlementParseError):
    """No summary row, two of them, or rows of another settlement or currency."""

    reason = "summary"


class BadAmountError(SettlementParseError):
    """An amount that is not a number in the file's decimal style."""

    reason = "bad_amount"


class TooManyDecimalsError(BadAmountError):
    """An amount with more decimal places than the currency has (never rounded)."""

    reason = "too_many_decimals"


class BadDateError(SettlementParseError):
    """A date in none of the accepted formats."""

    reason = "bad_date"


class BadValueError(SettlementParseError):
    """Another unreadable field: unknown currency, bad quantity, a row longer than the header."""

    reason = "bad_value"


# --- result -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One amount component of a settlement, classified and in minor units."""

    row_no: int
    transaction_type: str
    kind: Kind
    component: Component
    amount_type: str
    amount_description: str
    amount_minor: int
    order_id: str | None = None
    merchant_order_id: str | None = None
    adjustment_id: str | None = None
    shipment_id: str | None = None
    order_item_code: str | None = None
    sku: str | None = None
    quantity: int | None = None
    posted_at: datetime | None = None
    promotion_id: str | None = None
    marketplace_name: str = ""
    fulfillment_id: str = ""


@dataclass(frozen=True, slots=True)
class ParsedSettlement:
    """A whole settlement: the summary row's fields, the classified lines and how it was read."""

    settlement_id: str
    currency: str
    start_at: datetime
    end_at: datetime
    deposit_at: datetime | None
    total_minor: int
    lines: tuple[ParsedLine, ...]
    marketplace_name: str = ""
    marketplace_id: str | None = None
    encoding: str = "utf-8"
    decimal_separator: str = "."
    summary_row_no: int = 2
    unknown_columns: tuple[str, ...] = ()
    kind_counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def lines_total_minor(self) -> int:
        """The sum of every line's amount."""
        return sum(line.amount_minor for line in self.lines)

    @property
    def mismatch_minor(self) -> int:
        """``total-amount`` minus the sum of the rows (0 when the file adds up)."""
        return self.total_minor - self.lines_total_minor

    @property
    def balanced(self) -> bool:
        """True when the rows add up to ``total-amount``."""
        return self.mismatch_minor == 0

    def order_ids(self) -> tuple[str, ...]:
        """The distinct Amazon order ids of the lines, in file order."""
        return tuple(dict.fromkeys(line.order_id for line in self.lines if line.order_id))

    def format_minor(self, amount_minor: int) -> str:
        """An amount of this settlement's currency as a plain decimal string."""
        return Money(amount_minor, self.currency).format()


# --- decoding -----------------------------------------------------------------------------------

_BOM: Final = "\ufeff"


def decode_document(data: bytes, charset: str | None = None) -> tuple[str, str]:
    """Decode a document: the named charset if any, else UTF-8 (BOM dropped), else cp1252."""
    if charset:
        name = charset.strip().strip('"').lower()
        try:
            text = data.decode(name)
        except LookupError:
            pass  # an unknown charset name: fall back to the guess below
        except UnicodeDecodeError as err:
            # The header lied (it happens): the guess below is better than a failure.
            if name.replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
                raise SettlementParseError(
                    f"the document is not valid {charset} text: {err.reason} at byte {err.start}"
                ) from err
        else:
            return text.removeprefix(_BOM), name
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; Latin-1 maps every byte.
        return data.decode("latin-1"), "latin-1"


# --- dates --------------------------------------------------------------------------------------

_DATE_PATTERNS: Final = (
    # 2026-03-06 08:52:26 UTC, 2026/03/06 08:52:26 UTC, with an optional zone word
    re.compile(
        r"(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})"
        r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,6}))?)?)?"
        r"(?:\s*(?P<z>UTC|GMT|Z|[+-]\d{2}:?\d{2}))?"
    ),
    # 06.03.2026 08:52:26 UTC (EU files)
    re.compile(
        r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})"
        r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
        r"(?:\s*(?P<z>UTC|GMT|Z|[+-]\d{2}:?\d{2}))?"
    ),
)


def parse_settlement_datetime(
    text: str, *, line: int | None = None, column: str | None = None
) -> datetime:
    """A settlement date or timestamp as an aware UTC datetime (a bare date is midnight UTC)."""
    raw = text.strip()
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(raw)
        if match is None:
            continue
        parts = match.groupdict()
        zone = (parts.get("z") or "UTC").upper()
        try:
            moment = datetime(
                int(parts["y"]),
                int(parts["m"]),
                int(parts["d"]),
                int(parts["H"] or 0),
                int(parts["M"] or 0),
                int(parts["S"] or 0),
                int((parts.get("f") or "0").ljust(6, "0")),
                tzinfo=UTC,
            )
        except ValueError as err:
            raise BadDateError(
                f"{raw!r} is not a valid date ({err})", line=line, column=column
            ) from err
        if zone not in ("UTC", "GMT", "Z"):
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset_min = sign * (int(digits[:2]) * 60 + int(digits[2:]))
            moment -= timedelta(minutes=offset_min)
        return moment
    raise BadDateError(
        f"{raw!r} is not a date in a known format (2026-03-06 08:52:26 UTC, "
        "06.03.2026 08:52:26 UTC or ISO 8601 with an offset)",
        line=line,
        column=column,
    )


def _date_style(text: str) -> str | None:
    raw = text.strip()
    if re.match(r"\d{1,2}\.\d{1,2}\.\d{4}", raw):
        return ","
    if re.match(r"\d{4}[-/]", raw):
        return "."
    return None


# --- amounts ------------------------------------------------------------------------------------

_AMOUNT_CHARS: Final = re.compile(r"[+-]?[0-9][0-9.,]*|[+-]?[.,][0-9]+")
_SPACES: Final = re.compile(r"[\s\u00a0\u202f\u2009']")


def _amount_vote(text: str) -> str | None:
    """Which decimal separator an amount's text implies, or None when it cannot tell."""
    body = _SPACES.sub("", text).lstrip("+-")
    has_point, has_comma = "." in body, "," in body
    if has_point and has_comma:
        return "." if body.rfind(".") > body.rfind(",") else ","
    for sep, other in ((".", ","), (",", ".")):
        if (sep == "." and has_point) or (sep == "," and has_comma):
            if body.count(sep) > 1:
                return other  # several of them: thousands separators
            decimals = len(body) - body.rfind(sep) - 1
            return sep if decimals != 3 else None
    return None


def decide_decimal_separator(amounts: Iterable[str], *, date_hint: str | None = None) -> str:
    """The file's decimal separator from all its amounts; the date style breaks a tie."""
    votes = {v for v in (_amount_vote(a) for a in amounts if a.strip()) if v}
    if len(votes) == 1:
        return votes.pop()
    if len(votes) > 1:
        raise BadAmountError(
            "the file mixes decimal points and decimal commas; cannot read its amounts safely"
        )
    return date_hint or "."


def parse_amount_minor(
    text: str,
    currency: str,
    *,
    decimal_separator: str = ".",
    line: int | None = None,
    column: str | None = None,
) -> int:
    """An amount's text as exact integer minor units of ``currency``."""
    raw = text.strip()
    body = _SPACES.sub("", raw)
    if not body or _AMOUNT_CHARS.fullmatch(body) is None:
        raise BadAmountError(f"{raw!r} is not an amount", line=line, column=column)
    thousands = "," if decimal_separator == "." else "."
    sign = ""
    if body[0] in "+-":
        sign, body = body[0], body[1:]
    if body.count(decimal_separator) > 1:
        raise BadAmountError(
            f"{raw!r} has more than one decimal separator {decimal_separator!r}",
            line=line,
            column=column,
        )
    whole, _, fraction = body.partition(decimal_separator)
    if thousands in fraction:
        raise BadAmountError(
            f"{raw!r} does not fit the file's decimal separator {decimal_separator!r}",
            line=line,
            column=column,
        )
    if thousands in whole:
        groups = whole.split(thousands)
        if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
            raise BadAmountError(
                f"{raw!r} has misplaced thousands separators for decimal separator "
                f"{decimal_separator!r}",
                line=line,
                column=column,
            )
        whole = "".join(groups)
    plain = f"{sign}{whole or '0'}" + (f".{fraction}" if fraction else "")
    try:
        return Money.parse(plain, currency).amount_minor
    except MoneyError as err:
        if "decimal places" in str(err):
            raise TooManyDecimalsError(
                f"{raw!r} has more decimals than {currency} allows "
                f"({minor_unit_exponent(currency)}); amounts are never rounded",
                line=line,
                column=column,
            ) from err
        raise BadAmountError(f"{raw!r}: {err}", line=line, column=column) from err


# --- classification -----------------------------------------------------------------------------

_RESERVE_DESCRIPTIONS: Final = frozenset(
    {
        "previous reserve amount balance",
        "current reserve amount balance",
        "payable to amazon",
        "reserve",
    }
)
_TRANSFER_WORDS: Final = (
    "successful charge",
    "failed charge",
    "transfer",
    "disbursement",
    "payment",
    "charge to credit card",
)
_ADJUSTMENT_WORDS: Final = (
    "adjustment",
    "reimbursement",
    "reversal",
    "warehouse_damage",
    "warehouse_lost",
    "missing_from_inbound",
    "compensated",
    "goodwill",
    "safe-t",
)
_REFUND_WORDS: Final = ("refund", "chargeback", "a-to-z", "guarantee claim")
_FEE_WORDS: Final = ("fee", "commission", "subscription", "storage", "label", "advertising")
_WITHHELD_WORDS: Final = ("marketplacefacilitator", "withheld", "lowvaluegoods")


def classify(
    transaction_type: str, amount_type: str, amount_description: str
) -> tuple[Kind, Component]:
    """The kind and component of a row from its transaction-type, amount-type and description."""
    tx = transaction_type.strip().lower()
    atype = amount_type.strip().lower()
    desc = amount_description.strip().lower()
    squashed = (atype + " " + desc).replace(" ", "").replace("_", "")

    if desc in _RESERVE_DESCRIPTIONS or tx in _RESERVE_DESCRIPTIONS:
        return Kind.RESERVE, Component.OTHER
    if tx == "order":
        kind = Kind.ORDER
    elif any(word in tx for word in _REFUND_WORDS):
        kind = Kind.REFUND
    elif any(word in tx for word in _TRANSFER_WORDS) or any(w in desc for w in _TRANSFER_WORDS):
        return Kind.TRANSFER, Component.OTHER
    elif any(word in tx or word in atype or word in desc for word in _ADJUSTMENT_WORDS):
        return Kind.ADJUSTMENT, _component(atype, desc, squashed)
    elif tx in ("servicefee", "service fee") or any(word in desc for word in _FEE_WORDS):
        return Kind.FEE, Component.FEE
    else:
        kind = Kind.OTHER
    return kind, _component(atype, desc, squashed)


def _component(atype: str, desc: str, squashed: str) -> Component:
    if any(word in squashed for word in _WITHHELD_WORDS):
        return Component.WITHHELD_TAX
    if "promotion" in atype or "promotion" in desc:
        return Component.PROMOTION
    if "fee" in atype or any(word in desc for word in _FEE_WORDS) or "chargeback" in desc:
        return Component.FEE
    if atype in ("itemprice", "item price", "") or atype.startswith("itemprice"):
        squashed_desc = desc.replace(" ", "").replace("-", "")
        if squashed_desc == "principal":
            return Component.PRINCIPAL
        if squashed_desc == "shippingtax":
            return Component.SHIPPING_TAX
        if squashed_desc == "shipping":
            return Component.SHIPPING
        if squashed_desc in ("tax", "giftwraptax", "taxdiscount", "principaltax"):
            return Component.TAX
    return Component.OTHER


# --- the parser ---------------------------------------------------------------------------------


def _header(first_line: str) -> tuple[list[str], dict[str, int]]:
    names = [name.strip().strip('"').lower() for name in first_line.split("\t")]
    index: dict[str, int] = {}
    for pos, name in enumerate(names):
        if not name:
            continue
        if name in index:
            raise MissingColumnError(f"column {name!r} appears twice in the header", line=1)
        index[name] = pos
    missing = [name for name in REQUIRED_COLUMNS if name not in index]
    if missing:
        raise MissingColumnError(
            f"required column(s) missing from the header: {', '.join(missing)} "
            "(is this a GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2 file?)",
            line=1,
            column=missing[0],
        )
    return names, index


class _Row:
    """One data row, read by column name (known columns only, stripped once)."""

    __slots__ = ("line", "values")

    def __init__(self, fields: Sequence[str], index: Mapping[str, int], line: int) -> None:
        count = len(fields)
        self.values = {
            name: fields[pos].strip() if pos < count else ""
            for name, pos in index.items()
            if name in _KNOWN
        }
        self.line = line

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def opt(self, name: str) -> str | None:
        return self.values.get(name) or None


def parse_settlement(data: bytes | str, *, charset: str | None = None) -> ParsedSettlement:
    """Parse a V2 settlement flat file (bytes or already decoded text)."""
    if isinstance(data, bytes):
        text, encoding = decode_document(data, charset)
    else:
        text, encoding = data.removeprefix(_BOM), "text"
    raw_lines = text.splitlines()
    if not raw_lines or not raw_lines[0].strip():
        raise EmptyFileError("the document is empty (no header row)", line=1)
    names, index = _header(raw_lines[0])
    unknown = tuple(n for n in names if n and n not in KNOWN_COLUMNS)

    rows: list[_Row] = []
    for line_no, raw in enumerate(raw_lines[1:], start=2):
        if not raw.strip():
            continue
        fields = raw.split("\t")
        if len(fields) > len(names) and any(f.strip() for f in fields[len(names) :]):
            raise BadValueError(
                f"the row has {len(fields)} fields, the header {len(names)}", line=line_no
            )
        rows.append(_Row(fields, index, line_no))
    if not rows:
        raise EmptyFileError("the document has a header but no rows", line=2)

    summaries = [r for r in rows if r.get("total-amount")]
    if not summaries:
        raise SummaryRowError("no summary row (a row with total-amount) in the file")
    if len(summaries) > 1:
        raise SummaryRowError(
            f"a second summary row (the first is line {summaries[0].line}); "
            "one file holds one settlement",
            line=summaries[1].line,
            column="total-amount",
        )
    summary = summaries[0]
    settlement_id = summary.get("settlement-id")
    if not settlement_id:
        raise SummaryRowError(
            "the summary row has no settlement-id", line=summary.line, column="settlement-id"
        )
    if len(settlement_id) > 32:
        raise BadValueError(
            f"settlement-id {settlement_id!r} is longer than 32 characters",
            line=summary.line,
            column="settlement-id",
        )
    currency = summary.get("currency").upper()
    try:
        minor_unit_exponent(currency)
    except MoneyError as err:
        raise BadValueError(
            f"currency {currency!r} is not a supported ISO 4217 code",
            line=summary.line,
            column="currency",
        ) from err

    start_raw = summary.get("settlement-start-date")
    date_hint = _date_style(start_raw)
    separator = _decide_separator(rows, date_hint)

    start_at = parse_settlement_datetime(
        start_raw, line=summary.line, column="settlement-start-date"
    )
    end_at = parse_settlement_datetime(
        summary.get("settlement-end-date"), line=summary.line, column="settlement-end-date"
    )
    deposit_raw = summary.get("deposit-date")
    deposit_at = (
        parse_settlement_datetime(deposit_raw, line=summary.line, column="deposit-date")
        if deposit_raw
        else None
    )
    total_minor = parse_amount_minor(
        summary.get("total-amount"),
        currency,
        decimal_separator=separator,
        line=summary.line,
        column="total-amount",
    )

    lines: list[ParsedLine] = []
    counts: dict[str, int] = {}
    for row in rows:
        if row is summary:
            continue
        lines.append(_parse_line(row, settlement_id, currency, separator))
        counts[lines[-1].kind.value] = counts.get(lines[-1].kind.value, 0) + 1

    marketplace_name = next((ln.marketplace_name for ln in lines if ln.marketplace_name), "")
    if not marketplace_name:
        marketplace_name = summary.get("marketplace-name")
    return ParsedSettlement(
        settlement_id=settlement_id,
        currency=currency,
        start_at=start_at,
        end_at=end_at,
        deposit_at=deposit_at,
        total_minor=total_minor,
        lines=tuple(lines),
        marketplace_name=marketplace_name[:64],
        marketplace_id=marketplace_for(marketplace_name, currency),
        encoding=encoding,
        decimal_separator=separator,
        summary_row_no=summary.line,
        unknown_columns=unknown,
        kind_counts=counts,
    )


def _decide_separator(rows: Sequence[_Row], date_hint: str | None) -> str:
    amounts = [r.get("amount") for r in rows] + [r.get("total-amount") for r in rows]
    try:
        return decide_decimal_separator(amounts, date_hint=date_hint)
    except BadAmountError as err:
        raise BadAmountError(err.message, column="amount") from err


def _parse_line(row: _Row, settlement_id: str, currency: str, separator: str) -> ParsedLine:
    line = row.line
    own_id = row.get("settlement-id")
    if own_id and own_id != settlement_id:
        raise SummaryRowError(
            f"the row belongs to settlement {own_id}, the file's summary to {settlement_id}",
            line=line,
            column="settlement-id",
        )
    own_currency = row.get("currency").upper()
    if own_currency and own_currency != currency:
        raise SummaryRowError(
            f"the row is in {own_currency}, the settlement in {currency}",
            line=line,
            column="currency",
        )
    amount_raw = row.get("amount")
    if not amount_raw:
        raise BadAmountError("the amount is empty", line=line, column="amount")
    amount_minor = parse_amount_minor(
        amount_raw, currency, decimal_separator=separator, line=line, column="amount"
    )
    posted_raw = row.get("posted-date-time") or row.get("posted-date")
    posted_column = "posted-date-time" if row.get("posted-date-time") else "posted-date"
    posted_at = (
        parse_settlement_datetime(posted_raw, line=line, column=posted_column)
        if posted_raw
        else None
    )
    quantity_raw = row.get("quantity-purchased")
    quantity: int | None = None
    if quantity_raw:
        if not re.fullmatch(r"[+-]?\d+", quantity_raw):
            raise BadValueError(
                f"{quantity_raw!r} is not a whole number", line=line, column="quantity-purchased"
            )
        quantity = int(quantity_raw)
    transaction_type = row.get("transaction-type")
    amount_type = row.get("amount-type")
    description = row.get("amount-description")
    kind, component = classify(transaction_type, amount_type, description)
    return ParsedLine(
        row_no=line,
        transaction_type=transaction_type[:64],
        kind=kind,
        component=component,
        amount_type=amount_type[:64],
        amount_description=description[:128],
        amount_minor=amount_minor,
        order_id=_cut(row.opt("order-id"), 64),
        merchant_order_id=_cut(row.opt("merchant-order-id"), 64),
        adjustment_id=_cut(row.opt("adjustment-id"), 64),
        shipment_id=_cut(row.opt("shipment-id"), 64),
        order_item_code=_cut(row.opt("order-item-code"), 64),
        sku=_cut(row.opt("sku"), 64),
        quantity=quantity,
        posted_at=posted_at,
        promotion_id=_cut(row.opt("promotion-id"), 128),
        marketplace_name=row.get("marketplace-name"),
        fulfillment_id=row.get("fulfillment-id"),
    )


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else value


def marketplace_for(marketplace_name: str, currency: str) -> str | None:
    """The marketplace id a settlement belongs to, from its marketplace-name, else its currency."""
    name = marketplace_name.strip().lower()
    if name:
        for mp in MARKETPLACES_BY_ID.values():
            if mp.sales_channel.lower() == name:
                return mp.marketplace_id
    by_currency = [mp for mp in MARKETPLACES_BY_ID.values() if mp.currency == currency]
    if len(by_currency) == 1:
        return by_currency[0].marketplace_id
    return None
