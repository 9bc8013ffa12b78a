"""Catalog CSV rows: parse and validate one row at a time, collect every problem of a row.

CSV layout (header required, column order free, unknown columns ignored):

    sku,name,price,currency,price_list,barcodes,tax_class,cost,active

Required: ``sku``, ``name``, ``price``. ``price`` and ``cost`` are decimal amounts in
major units of ``currency`` (e.g. ``12.99``); ``barcodes`` are separated by ``;``
or spaces and normalised to GTIN-14; ``active`` is true/false/yes/no/1/0. One row
per (SKU, price list): a SKU priced in two price lists takes two rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from protocol.errors import GtinError, MoneyError
from protocol.gtin import normalize_gtin
from protocol.money import Money, minor_unit_exponent

SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")
TAX_CLASS_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
PRICE_LIST_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
REQUIRED_COLUMNS = ("sku", "name", "price")
ALL_COLUMNS = (
    "sku",
    "name",
    "price",
    "currency",
    "price_list",
    "barcodes",
    "tax_class",
    "cost",
    "active",
)
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,6}))?")
DEFAULT_PRICE_LIST = "default"
DEFAULT_TAX_CLASS = "standard"
MAX_NAME_LENGTH = 200
_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f"})


@dataclass(frozen=True, slots=True)
class CatalogRow:
    """One valid CSV row: a product and its price in one price list."""

    sku: str
    name: str
    price_minor: int
    currency: str
    price_list: str
    barcodes: tuple[str, ...]
    tax_class: str
    cost_minor: int | None
    active: bool


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: its line number in the file and every reason."""

    line: int
    sku: str
    reasons: tuple[str, ...]


class CatalogHeaderError(ValueError):
    """The CSV header lacks a required column."""


def check_header(columns: Sequence[str] | None) -> None:
    """Raise CatalogHeaderError unless every required column is present."""
    present = {c.strip().lower() for c in columns or []}
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise CatalogHeaderError(f"missing column(s): {', '.join(missing)}")


def parse_row(
    raw: Mapping[str, str | None], *, line: int, default_currency: str
) -> CatalogRow | RowError:
    """Validate one CSV row; return the row or every reason it is refused."""
    get = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
    reasons: list[str] = []
    sku = get.get("sku", "")
    if not SKU_PATTERN.fullmatch(sku):
        reasons.append(f"sku {sku!r} is not 1-64 letters, digits or . _ / -")
    name = get.get("name", "")
    if not name:
        reasons.append("name is empty")
    elif len(name) > MAX_NAME_LENGTH:
        reasons.append(f"name is longer than {MAX_NAME_LENGTH} characters")
    currency = (get.get("currency") or default_currency).upper()
    price_minor = _money(get.get("price", ""), currency, "price", reasons, required=True)
    cost_minor = _money(get.get("cost", ""), currency, "cost", reasons, required=False)
    price_list = get.get("price_list") or DEFAULT_PRICE_LIST
    if not PRICE_LIST_PATTERN.fullmatch(price_list):
        reasons.append(f"price_list {price_list!r} is not lower-case letters, digits, _ or -")
    tax_class = get.get("tax_class") or DEFAULT_TAX_CLASS
    if not TAX_CLASS_PATTERN.fullmatch(tax_class):
        reasons.append(f"tax_class {tax_class!r} is not lower-case letters, digits, _ or -")
    barcodes: list[str] = []
    for code in re.split(r"[;\s]+", get.get("barcodes", "")):
        if not code:
            continue
        try:
            gtin = normalize_gtin(code)
        except GtinError as err:
            reasons.append(str(err))
            continue
        if gtin not in barcodes:
            barcodes.append(gtin)
    active_text = get.get("active", "").lower()
    active = True
    if active_text in _FALSE:
        active = False
    elif active_text and active_text not in _TRUE:
        reasons.append(f"active {active_text!r} is not true/false")
    if reasons or price_minor is None:
        return RowError(line=line, sku=sku, reasons=tuple(reasons))
    return CatalogRow(
        sku=sku,
        name=name,
        price_minor=price_minor,
        currency=currency,
        price_list=price_list,
        barcodes=tuple(barcodes),
        tax_class=tax_class,
        cost_minor=cost_minor,
        active=active,
    )


def _money(
    text: str, currency: str, column: str, reasons: list[str], *, required: bool
) -> int | None:
    if not text:
        if required:
            reasons.append(f"{column} is empty")
        return None
    plain = _PLAIN_AMOUNT.fullmatch(text)
    if plain is not None:
        # Fast path for the common "12.99": a 100,000-row file spends most of its
        # validation time in Decimal otherwise. Anything else takes Money.parse.
        try:
            exponent = minor_unit_exponent(currency)
        except MoneyError as err:
            reasons.append(f"{column}: {err}")
            return None
        whole: str = plain.group(1)
        fraction: str = plain.group(2) or ""
        if len(fraction) <= exponent:
            minor: int = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
            return minor
    try:
        money = Money.parse(text, currency)
    except MoneyError as err:
        reasons.append(f"{column}: {err}")
        return None
    if money.amount_minor < 0:
        reasons.append(f"{column} is negative")
        return None
    return money.amount_minor


def format_minor(amount_minor: int, currency: str) -> str:
    """Format minor units as the decimal the CSV uses (e.g. 1299 EUR -> "12.99")."""
    return Money(amount_minor, currency).format()


@dataclass(frozen=True, slots=True)
class BarcodeClash:
    """A barcode claimed by two SKUs."""

    gtin: str
    owner_sku: str


def barcode_clashes(row: CatalogRow, claimed: Mapping[str, str]) -> list[BarcodeClash]:
    """The barcodes of ``row`` that ``claimed`` (gtin -> sku) gives to another SKU."""
    return [
        BarcodeClash(gtin, claimed[gtin])
        for gtin in row.barcodes
        if gtin in claimed and claimed[gtin] != row.sku
    ]
