"""Receipt, Z report, pick list and test page layout: pure functions from documents to commands.

The layout knows paper width in columns, which characters the printer can
print natively (its code pages, and its CJK font when it has one) and how wide
each character is. It returns a list of printer-neutral commands (``Text``,
``TextImage``, ``Barcode``, ``QRCode``, ``Feed``, ``Cut``, ``DrawerKick``); an
adapter in ``edge_agent.devices`` turns them into ESC/POS bytes and another one
sends the bytes. Nothing here does I/O or imports a printer library.

Unicode strategy (see docs/hardware.md): a line whose characters the printer
can print natively becomes ``Text``; a line with any character it cannot print
(Japanese or Chinese on a Latin-only printer, say) becomes ``TextImage`` and is
drawn as a bitmap by the adapter, so it is never lost or turned into mojibake.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, Final, TypeAlias
from zoneinfo import ZoneInfo

from protocol.money import Money


class ReceiptError(ValueError):
    """A document or a command list cannot be laid out or decoded; the message says why."""


# --------------------------------------------------------------------------- commands


class Align(StrEnum):
    """Horizontal alignment of a line, barcode or QR code."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class Symbology(StrEnum):
    """Barcode symbologies the layout uses (all printable in ESC/POS hardware)."""

    CODE128 = "CODE128"
    EAN13 = "EAN13"
    EAN8 = "EAN8"
    CODE39 = "CODE39"


class CodeStyle(StrEnum):
    """How a receipt number is printed for returns: linear barcode, QR code or both."""

    BARCODE = "barcode"
    QR = "qr"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text in the printer's own font (code pages or its CJK font)."""

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    underline: bool = False


@dataclass(frozen=True, slots=True)
class TextImage:
    """One line the printer cannot print in its own font: the adapter draws it as a bitmap."""

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    underline: bool = False


@dataclass(frozen=True, slots=True)
class Barcode:
    """A linear barcode with its human-readable text below."""

    data: str
    symbology: Symbology = Symbology.CODE128
    height_dots: int = 64
    module_width: int = 2
    align: Align = Align.CENTER
    show_text: bool = True


@dataclass(frozen=True, slots=True)
class QRCode:
    """A QR code (error correction level M)."""

    data: str
    module_size: int = 4
    align: Align = Align.CENTER


@dataclass(frozen=True, slots=True)
class Feed:
    """Feed blank lines."""

    lines: int = 1


@dataclass(frozen=True, slots=True)
class Cut:
    """Feed to the cutter and cut the paper."""

    partial: bool = False


@dataclass(frozen=True, slots=True)
class DrawerKick:
    """Pulse the cash drawer connector (pin 2 or pin 5)."""

    pin: int = 2


PrintCommand: TypeAlias = Text | TextImage | Barcode | QRCode | Feed | Cut | DrawerKick

_OPS: Final[dict[str, type[Any]]] = {
    "text": Text,
    "text_image": TextImage,
    "barcode": Barcode,
    "qr": QRCode,
    "feed": Feed,
    "cut": Cut,
    "drawer": DrawerKick,
}
_OP_OF: Final[dict[type[Any], str]] = {cls: op for op, cls in _OPS.items()}
_ENUM_FIELDS: Final[dict[str, type[Enum]]] = {"align": Align, "symbology": Symbology}


def command_to_dict(cmd: PrintCommand) -> dict[str, Any]:
    """Return a JSON-ready dict of one command, tagged with its ``op``."""
    out: dict[str, Any] = {"op": _OP_OF[type(cmd)]}
    for f in fields(cmd):
        value = getattr(cmd, f.name)
        out[f.name] = value.value if isinstance(value, Enum) else value
    return out


def command_from_dict(raw: dict[str, Any]) -> PrintCommand:
    """Rebuild one command from ``command_to_dict`` output; raise ReceiptError on bad input."""
    op = raw.get("op")
    cls = _OPS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise ReceiptError(f"unknown print command {op!r}")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "op":
            continue
        if key not in known:
            raise ReceiptError(f"print command {op!r} has no field {key!r}")
        if key in _ENUM_FIELDS:
            try:
                value = _ENUM_FIELDS[key](value)
            except ValueError:
                raise ReceiptError(f"bad {key} {value!r} in print command {op!r}") from None
        kwargs[key] = value
    try:
        cmd: PrintCommand = cls(**kwargs)
    except TypeError as err:
        raise ReceiptError(f"bad print command {op!r}: {err}") from None
    return cmd


def commands_to_json(commands: Sequence[PrintCommand]) -> str:
    """Serialise a command list to compact JSON (what the print queue stores)."""
    return json.dumps(
        [command_to_dict(c) for c in commands], ensure_ascii=False, separators=(",", ":")
    )


def commands_from_json(text: str | bytes) -> list[PrintCommand]:
    """Parse a command list written by ``commands_to_json``."""
    try:
        raw = json.loads(text)
    except ValueError as err:
        raise ReceiptError(f"print job is not valid JSON: {err}") from None
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ReceiptError("print job must be a JSON list of command objects")
    return [command_from_dict(r) for r in raw]


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True, slots=True)
class LayoutProfile:
    """What the layout must know about a printer model: width and printable characters.

    ``native_chars`` holds the non-ASCII characters reachable through the model's
    code pages; ``cjk_codec`` names the double-byte encoding of its built-in CJK
    font (``gb2312``, ``gb18030``, ``big5``, ``shift_jis``) or None.
    """

    name: str
    columns: int
    dots_per_line: int = 512
    native_chars: frozenset[str] = frozenset()
    cjk_codec: str | None = None
    code_style: CodeStyle = CodeStyle.BARCODE

    def __post_init__(self) -> None:
        if self.columns < 16:
            raise ReceiptError(f"a receipt needs at least 16 columns, got {self.columns}")

    def can_print_char(self, ch: str) -> bool:
        """Return True if the printer prints this character in its own font."""
        if " " <= ch <= "~":
            return True
        if ch in self.native_chars:
            return True
        if self.cjk_codec is not None and char_width(ch) == 2:
            try:
                return len(ch.encode(self.cjk_codec)) == 2
            except (UnicodeEncodeError, LookupError):
                return False
        return False

    def can_print(self, text: str) -> bool:
        """Return True if every character of the line prints natively."""
        if text.isascii() and text.isprintable():
            return True
        return all(self.can_print_char(ch) for ch in text)


# --------------------------------------------------------------------------- text metrics


def clean_text(text: str) -> str:
    """Normalise to NFC and turn control characters into spaces, so one field is one line."""
    if text.isascii() and text.isprintable():
        return text
    text = unicodedata.normalize("NFC", text)
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )


def char_width(ch: str) -> int:
    """Return the printed width of one character in columns (CJK wide = 2, combining = 0)."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Return the printed width of a string in columns."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def truncate(text: str, width: int) -> str:
    """Cut text to at most ``width`` columns, never splitting a wide character."""
    out: list[str] = []
    used = 0
    for ch in text:
        w = char_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def pad_right(text: str, width: int) -> str:
    """Left-align text in a field of ``width`` columns."""
    text = truncate(text, width)
    return text + " " * (width - text_width(text))


def pad_left(text: str, width: int) -> str:
    """Right-align text in a field of ``width`` columns."""
    text = truncate(text, width)
    return " " * (width - text_width(text)) + text


def wrap(text: str, width: int) -> list[str]:
    """Word-wrap to lines of at most ``width`` columns; break words longer than a line."""
    if width < 1:
        raise ReceiptError("cannot wrap to less than one column")
    indent = text[: len(text) - len(text.lstrip(" "))]
    if indent and text.strip() and text_width(indent) < width // 2:
        # Keep a hanging indent (quantity and discount lines under an item).
        return [indent + part for part in wrap(text.strip(), width - text_width(indent))]
    lines: list[str] = []
    current = ""
    for word in text.split():
        while text_width(word) > width:
            if current:
                lines.append(current)
                current = ""
            head = truncate(word, width)
            lines.append(head)
            word = word[len(head) :]
        if not word:
            continue
        candidate = f"{current} {word}" if current else word
        if text_width(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    return lines


def two_columns(left: str, right: str, width: int) -> list[str]:
    """Lay out ``left`` and a right-aligned ``right`` on one line, wrapping ``left`` if needed."""
    right = truncate(right, width)
    room = width - text_width(right) - 1
    if room < 1:
        head = wrap(left, width) if left.strip() else []
        return [*head, pad_left(right, width)]
    parts = wrap(left, room) if left.strip() else [""]
    return [*parts[:-1], pad_right(parts[-1], room) + " " + right]


# --------------------------------------------------------------------------- labels

# fmt: off
_LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "receipt": "Receipt", "return": "RETURN", "copy": "COPY", "date": "Date",
        "till": "Till", "cashier": "Cashier", "subtotal": "Subtotal", "total": "TOTAL",
        "change": "Change", "tax": "Tax", "net": "Net", "gross": "Gross", "rate": "Rate",
        "items": "Items", "original": "Original receipt", "zreport": "Z REPORT",
        "business_day": "Business day", "opened": "Opened", "closed": "Closed",
        "sales": "Sales", "returns": "Returns", "voids": "Voids", "discounts": "Discounts",
        "net_sales": "Net sales", "tenders": "Tenders", "float": "Opening float",
        "expected": "Cash expected", "counted": "Cash counted", "difference": "Difference",
        "picklist": "PICK LIST", "order": "Order", "channel": "Channel", "ship_by": "Ship by",
        "printed": "Printed", "loc": "Loc", "qty": "Qty", "item": "Item", "lines": "Lines",
        "units": "Units", "picked_by": "Picked by", "notes": "Notes", "testpage": "TEST PAGE",
        "profile": "Profile", "columns": "Columns",
        "returns_hint": "Keep this receipt for returns",
    },
    "de": {
        "receipt": "Beleg", "return": "RÜCKGABE", "copy": "KOPIE", "date": "Datum",
        "till": "Kasse", "cashier": "Kassierer", "subtotal": "Zwischensumme", "total": "SUMME",
        "change": "Rückgeld", "tax": "MwSt", "net": "Netto", "gross": "Brutto", "rate": "Satz",
        "items": "Artikel", "original": "Ursprungsbeleg", "zreport": "Z-BON",
        "business_day": "Geschäftstag", "opened": "Geöffnet", "closed": "Geschlossen",
        "sales": "Verkäufe", "returns": "Rückgaben", "voids": "Stornos", "discounts": "Rabatte",
        "net_sales": "Nettoumsatz", "tenders": "Zahlarten", "float": "Wechselgeld",
        "expected": "Bar Soll", "counted": "Bar gezählt", "difference": "Differenz",
        "picklist": "KOMMISSIONIERLISTE", "order": "Auftrag", "channel": "Kanal",
        "ship_by": "Versand bis", "printed": "Gedruckt", "loc": "Platz", "qty": "Menge",
        "item": "Artikel", "lines": "Positionen", "units": "Stück", "picked_by": "Gepickt von",
        "notes": "Hinweise", "testpage": "TESTSEITE", "profile": "Profil", "columns": "Spalten",
        "returns_hint": "Bitte Beleg für Umtausch aufbewahren",
    },
    "fr": {
        "receipt": "Ticket", "return": "RETOUR", "copy": "DUPLICATA", "date": "Date",
        "till": "Caisse", "cashier": "Caissier", "subtotal": "Sous-total", "total": "TOTAL",
        "change": "Rendu", "tax": "TVA", "net": "HT", "gross": "TTC", "rate": "Taux",
        "items": "Articles", "original": "Ticket d'origine", "zreport": "RAPPORT Z",
        "business_day": "Journée", "opened": "Ouverture", "closed": "Clôture",
        "sales": "Ventes", "returns": "Retours", "voids": "Annulations", "discounts": "Remises",
        "net_sales": "Ventes nettes", "tenders": "Règlements", "float": "Fonds de caisse",
        "expected": "Espèces attendues", "counted": "Espèces comptées", "difference": "Écart",
        "picklist": "BON DE PRÉPARATION", "order": "Commande", "channel": "Canal",
        "ship_by": "Expédier avant", "printed": "Imprimé", "loc": "Empl.", "qty": "Qté",
        "item": "Article", "lines": "Lignes", "units": "Unités", "picked_by": "Préparé par",
        "notes": "Remarques", "testpage": "PAGE DE TEST", "profile": "Profil",
        "columns": "Colonnes", "returns_hint": "Conservez ce ticket pour tout échange",
    },
    "ja": {
        "receipt": "領収書", "return": "返品", "copy": "控え", "date": "日時", "till": "レジ",
        "cashier": "担当", "subtotal": "小計", "total": "合計", "change": "お釣り",
        "tax": "消費税", "net": "税抜", "gross": "税込", "rate": "税率", "items": "点数",
        "original": "元の領収書", "zreport": "精算レポート", "business_day": "営業日",
        "opened": "開始", "closed": "終了", "sales": "売上", "returns": "返品", "voids": "取消",
        "discounts": "値引", "net_sales": "純売上", "tenders": "支払方法",
        "float": "釣銭準備金", "expected": "現金予定額", "counted": "現金実査額",
        "difference": "過不足", "picklist": "ピッキングリスト", "order": "注文",
        "channel": "チャネル", "ship_by": "出荷期限", "printed": "印刷", "loc": "棚",
        "qty": "数量", "item": "商品", "lines": "行数", "units": "個数", "picked_by": "担当者",
        "notes": "備考", "testpage": "テストページ", "profile": "機種", "columns": "桁数",
        "returns_hint": "返品の際は本レシートをお持ちください",
    },
    "zh": {
        "receipt": "收据", "return": "退货", "copy": "副本", "date": "日期", "till": "收银台",
        "cashier": "收银员", "subtotal": "小计", "total": "合计", "change": "找零", "tax": "税",
        "net": "净额", "gross": "总额", "rate": "税率", "items": "件数", "original": "原收据",
        "zreport": "日结报表", "business_day": "营业日", "opened": "开始", "closed": "结束",
        "sales": "销售", "returns": "退货", "voids": "作废", "discounts": "折扣",
        "net_sales": "净销售额", "tenders": "支付方式", "float": "备用金",
        "expected": "应有现金", "counted": "实点现金", "difference": "差额",
        "picklist": "拣货单", "order": "订单", "channel": "渠道", "ship_by": "发货期限",
        "printed": "打印", "loc": "货位", "qty": "数量", "item": "商品", "lines": "行数",
        "units": "件数", "picked_by": "拣货人", "notes": "备注", "testpage": "测试页",
        "profile": "型号", "columns": "列数", "returns_hint": "退换货请保留此收据",
    },
}
# fmt: on

_DECIMAL_COMMA: Final = frozenset({"de", "fr"})


def labels_for(language: str) -> dict[str, str]:
    """Return the receipt wording for a language code (``de``, ``de-AT``...); English if unknown."""
    return _LABELS.get(language.split("-")[0].lower(), _LABELS["en"])


def format_amount(amount: Money, language: str = "en") -> str:
    """Format an amount with the currency's decimals and the language's decimal mark."""
    text = amount.format()
    return text.replace(".", ",") if language.split("-")[0].lower() in _DECIMAL_COMMA else text


def format_quantity(quantity: Decimal, language: str = "en") -> str:
    """Format a quantity without trailing zeros (2, 0.532) with the language's decimal mark."""
    if quantity == quantity.to_integral_value():
        text = str(int(quantity))
    else:
        text = format(quantity.normalize(), "f")
    return text.replace(".", ",") if language.split("-")[0].lower() in _DECIMAL_COMMA else text


def format_rate(rate_bp: int, language: str = "en") -> str:
    """Format a tax rate in basis points as a percentage (700 -> 7%, 810 -> 8.1%)."""
    text = format((Decimal(rate_bp) / 100).normalize(), "f") + "%"
    return text.replace(".", ",") if language.split("-")[0].lower() in _DECIMAL_COMMA else text


def _require_utc(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ReceiptError(f"{what} must be an aware UTC datetime, got {value!r}")


def format_local_time(at_utc: datetime, tz: ZoneInfo) -> str:
    """Format a UTC instant as the store's local wall time with the zone's abbreviation."""
    _require_utc(at_utc, "time")
    local = at_utc.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or tz.key}"


# --------------------------------------------------------------------------- documents


class ReceiptKind(StrEnum):
    """A sale receipt or a return (refund) receipt."""

    SALE = "sale"
    RETURN = "return"


class TenderKind(StrEnum):
    """How a customer paid; cash opens the drawer."""

    CASH = "cash"
    CARD = "card"
    VOUCHER = "voucher"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class StoreHeader:
    """Who the receipt is from: name, address, tax id, footer, zone and language."""

    store_id: str
    name: str
    timezone: ZoneInfo
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    tax_id: str = ""
    footer_lines: tuple[str, ...] = ()
    language: str = "en"


@dataclass(frozen=True, slots=True)
class DiscountRow:
    """A discount shown on the receipt; ``amount`` is negative."""

    label: str
    amount: Money


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """One sold (or returned) item; ``amount`` is quantity x unit price before line discounts."""

    name: str
    quantity: Decimal
    unit_price: Money
    amount: Money
    tax_code: str = ""
    unit: str = ""
    discounts: tuple[DiscountRow, ...] = ()


@dataclass(frozen=True, slots=True)
class TaxSummaryRow:
    """Tax per rate: code, rate in basis points, net, tax and gross amounts."""

    code: str
    rate_bp: int
    net: Money
    tax: Money
    gross: Money


@dataclass(frozen=True, slots=True)
class TenderRow:
    """One payment (or refund) and its optional reference (card last digits, voucher)."""

    kind: TenderKind
    label: str
    amount: Money
    reference: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptDoc:
    """A completed sale or return, as the receipt shows it."""

    receipt_no: str
    store: StoreHeader
    completed_at_utc: datetime
    lines: tuple[ReceiptLine, ...]
    subtotal: Money
    total: Money
    tax_rows: tuple[TaxSummaryRow, ...] = ()
    tenders: tuple[TenderRow, ...] = ()
    change: Money | None = None
    discounts: tuple[DiscountRow, ...] = ()
    till_id: str = ""
    cashier: str = ""
    kind: ReceiptKind = ReceiptKind.SALE
    original_receipt_no: str = ""
    return_code: str = ""

    def __post_init__(self) -> None:
        _require_utc(self.completed_at_utc, "completed_at_utc")
        if not self.receipt_no.strip():
            raise ReceiptError("a receipt needs a receipt number")
        currency = self.total.currency
        amounts: list[Money] = [self.subtotal]
        for line in self.lines:
            amounts += [line.unit_price, line.amount, *(d.amount for d in line.discounts)]
        amounts += [d.amount for d in self.discounts]
        amounts += [t.amount for t in self.tenders]
        for row in self.tax_rows:
            amounts += [row.net, row.tax, row.gross]
        if self.change is not None:
            amounts.append(self.change)
        odd = sorted({m.currency for m in amounts if m.currency != currency})
        if odd:
            raise ReceiptError(f"receipt {self.receipt_no} mixes {currency} with {', '.join(odd)}")


@dataclass(frozen=True, slots=True)
class TenderTotalRow:
    """Takings of one tender kind over a shift."""

    kind: TenderKind
    label: str
    count: int
    amount: Money


@dataclass(frozen=True, slots=True)
class ZReportDoc:
    """End-of-shift (Z) totals for one till."""

    store: StoreHeader
    till_id: str
    z_number: int
    business_day: date
    opened_at_utc: datetime
    closed_at_utc: datetime
    sales_count: int
    sales_total: Money
    returns_count: int
    returns_total: Money
    voids_count: int
    discounts_total: Money
    net_total: Money
    tax_rows: tuple[TaxSummaryRow, ...] = ()
    tender_totals: tuple[TenderTotalRow, ...] = ()
    opening_float: Money | None = None
    cash_expected: Money | None = None
    cash_counted: Money | None = None
    cashier: str = ""

    def __post_init__(self) -> None:
        _require_utc(self.opened_at_utc, "opened_at_utc")
        _require_utc(self.closed_at_utc, "closed_at_utc")


@dataclass(frozen=True, slots=True)
class PickLine:
    """One line to pick: where, what and how many."""

    sku: str
    name: str
    location: str
    quantity: int
    gtin: str = ""


@dataclass(frozen=True, slots=True)
class PickListDoc:
    """A routed marketplace order the store must pick and pack."""

    order_id: str
    store: StoreHeader
    channel: str
    printed_at_utc: datetime
    lines: tuple[PickLine, ...]
    ship_by_utc: datetime | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_utc(self.printed_at_utc, "printed_at_utc")
        if self.ship_by_utc is not None:
            _require_utc(self.ship_by_utc, "ship_by_utc")
        if not self.order_id.strip():
            raise ReceiptError("a pick list needs an order id")


# --------------------------------------------------------------------------- builder


@dataclass(slots=True)
class _Page:
    """Collects commands, choosing Text or TextImage per line."""

    profile: LayoutProfile
    commands: list[PrintCommand] = field(default_factory=list)

    @property
    def cols(self) -> int:
        return self.profile.columns

    def line(
        self,
        text: str,
        align: Align = Align.LEFT,
        *,
        bold: bool = False,
        double_width: bool = False,
        double_height: bool = False,
    ) -> None:
        text = clean_text(text)
        cls = Text if self.profile.can_print(text) else TextImage
        self.commands.append(
            cls(
                text.rstrip() if align is not Align.LEFT else text,
                align,
                bold,
                double_width,
                double_height,
            )
        )

    def para(
        self,
        text: str,
        align: Align = Align.LEFT,
        *,
        bold: bool = False,
        double_width: bool = False,
        double_height: bool = False,
    ) -> None:
        width = self.cols // 2 if double_width else self.cols
        for part in wrap(clean_text(text), width):
            self.line(
                part, align, bold=bold, double_width=double_width, double_height=double_height
            )

    def pair(
        self, left: str, right: str, *, bold: bool = False, double_height: bool = False
    ) -> None:
        if not right.strip():
            self.para(left, bold=bold, double_height=double_height)
            return
        for part in two_columns(clean_text(left), clean_text(right), self.cols):
            self.line(part, bold=bold, double_height=double_height)

    def rule(self, ch: str = "-") -> None:
        self.commands.append(Text(ch * self.cols))

    def feed(self, lines: int = 1) -> None:
        self.commands.append(Feed(lines))

    def code(self, data: str, style: CodeStyle) -> None:
        """Print a reference as a CODE128 barcode and/or a QR code; QR when too wide."""
        data = clean_text(data).strip()
        if not data:
            return
        linear_ok = (
            data.isascii()
            and data.isprintable()
            and _code128_dots(data) <= self.profile.dots_per_line
        )
        if style in (CodeStyle.BARCODE, CodeStyle.BOTH) and linear_ok:
            self.commands.append(Barcode(data, Symbology.CODE128))
        if style in (CodeStyle.QR, CodeStyle.BOTH) or not linear_ok:
            self.commands.append(QRCode(data))


def _code128_dots(data: str, module_width: int = 2) -> int:
    """Width in dots of a CODE128 (code set B) symbol.

    The quiet zones are left out: the paper's unprintable margins (about 4 mm a
    side on 80 mm paper) provide them for a centred symbol.
    """
    modules = 11 * (len(data) + 2) + 13  # start, data, check character; stop
    return modules * module_width


def needs_drawer(doc: ReceiptDoc) -> bool:
    """Return True when the sale involves cash (paid or refunded), so the drawer must open."""
    return any(t.kind is TenderKind.CASH for t in doc.tenders)


def _store_header(page: _Page, store: StoreHeader) -> None:
    page.para(store.name, Align.CENTER, bold=True, double_width=True, double_height=True)
    for line in store.address_lines:
        page.para(line, Align.CENTER)
    if store.phone:
        page.para(store.phone, Align.CENTER)
    if store.tax_id:
        page.para(store.tax_id, Align.CENTER)


# --------------------------------------------------------------------------- layouts


def layout_receipt(
    doc: ReceiptDoc, profile: LayoutProfile, *, copy: bool = False
) -> list[PrintCommand]:
    """Lay out a sale or return receipt: header, lines, totals, tenders, tax, code, cut."""
    lang = doc.store.language
    lab = labels_for(lang)
    page = _Page(profile)

    def amt(m: Money) -> str:
        return format_amount(m, lang)

    _store_header(page, doc.store)
    page.feed()
    if doc.kind is ReceiptKind.RETURN:
        page.para(lab["return"], Align.CENTER, bold=True, double_width=True)
    if copy:
        page.para(f"*** {lab['copy']} ***", Align.CENTER, bold=True)
    page.pair(lab["receipt"], doc.receipt_no)
    page.pair(lab["date"], format_local_time(doc.completed_at_utc, doc.store.timezone))
    if doc.till_id or doc.cashier:
        left = f"{lab['till']} {doc.till_id}".strip() if doc.till_id else ""
        right = f"{lab['cashier']}: {doc.cashier}" if doc.cashier else ""
        page.pair(left, right)
    if doc.original_receipt_no:
        page.pair(lab["original"], doc.original_receipt_no)
    page.rule()

    code_width = max((text_width(clean_text(line.tax_code)) for line in doc.lines), default=0)
    suffix_pad = " " * (code_width + 1) if code_width else ""
    for line in doc.lines:
        code = pad_right(clean_text(line.tax_code), code_width) if code_width else ""
        page.pair(line.name, f"{amt(line.amount)} {code}" if code_width else amt(line.amount))
        if line.quantity != 1 or line.unit:
            qty = format_quantity(line.quantity, lang)
            unit = f" {line.unit}" if line.unit else ""
            per = f"/{line.unit}" if line.unit else ""
            page.para(f"  {qty}{unit} x {amt(line.unit_price)}{per}")
        for disc in line.discounts:
            page.pair(f"  {disc.label}", amt(disc.amount) + suffix_pad)
    page.rule()
    # Weighed or measured goods count as one item each.
    count = sum((Decimal(1) if line.unit else line.quantity for line in doc.lines), Decimal(0))
    page.para(f"{lab['items']} {format_quantity(count, lang)}")
    page.pair(lab["subtotal"], amt(doc.subtotal) + suffix_pad)
    for disc in doc.discounts:
        page.pair(disc.label, amt(disc.amount) + suffix_pad)
    page.rule("=")
    page.pair(lab["total"], f"{doc.total.currency} {amt(doc.total)}", bold=True, double_height=True)
    page.rule("=")
    for tender in doc.tenders:
        page.pair(tender.label, amt(tender.amount))
        if tender.reference:
            page.para(f"  {tender.reference}")
    if doc.change is not None and not doc.change.is_zero():
        page.pair(lab["change"], amt(doc.change), bold=True)
    if doc.tax_rows:
        page.rule()
        _tax_table(page, doc.tax_rows, lang)
    page.rule()
    for footer in doc.store.footer_lines:
        page.para(footer, Align.CENTER)
    page.para(lab["returns_hint"], Align.CENTER)
    page.code(doc.return_code or doc.receipt_no, profile.code_style)
    page.commands.append(Cut())
    return page.commands


def _tax_table(page: _Page, rows: Iterable[TaxSummaryRow], lang: str) -> None:
    lab = labels_for(lang)
    aw = 10 if page.cols >= 40 else 8
    first = page.cols - 3 * aw
    page.line(
        pad_right(lab["rate"], first)
        + pad_left(lab["net"], aw)
        + pad_left(lab["tax"], aw)
        + pad_left(lab["gross"], aw)
    )
    for row in rows:
        label = f"{row.code} {format_rate(row.rate_bp, lang)}".strip()
        page.line(
            pad_right(label, first)
            + pad_left(format_amount(row.net, lang), aw)
            + pad_left(format_amount(row.tax, lang), aw)
            + pad_left(format_amount(row.gross, lang), aw)
        )


def layout_z_report(doc: ZReportDoc, profile: LayoutProfile) -> list[PrintCommand]:
    """Lay out the end-of-shift Z report: counts, totals, tax, tenders and the cash count."""
    lang = doc.store.language
    lab = labels_for(lang)
    page = _Page(profile)

    def amt(m: Money) -> str:
        return format_amount(m, lang)

    _store_header(page, doc.store)
    page.feed()
    page.para(f"{lab['zreport']} #{doc.z_number}", Align.CENTER, bold=True, double_width=True)
    page.pair(lab["business_day"], doc.business_day.isoformat())
    if doc.till_id or doc.cashier:
        page.pair(f"{lab['till']} {doc.till_id}".strip(), doc.cashier)
    page.pair(lab["opened"], format_local_time(doc.opened_at_utc, doc.store.timezone))
    page.pair(lab["closed"], format_local_time(doc.closed_at_utc, doc.store.timezone))
    page.rule()
    page.pair(f"{lab['sales']} ({doc.sales_count})", amt(doc.sales_total))
    page.pair(f"{lab['returns']} ({doc.returns_count})", amt(doc.returns_total))
    page.pair(f"{lab['voids']} ({doc.voids_count})", "")
    page.pair(lab["discounts"], amt(doc.discounts_total))
    page.rule("=")
    page.pair(lab["net_sales"], f"{doc.net_total.currency} {amt(doc.net_total)}", bold=True)
    page.rule("=")
    if doc.tax_rows:
        _tax_table(page, doc.tax_rows, lang)
        page.rule()
    if doc.tender_totals:
        page.line(lab["tenders"], bold=True)
        for t in doc.tender_totals:
            page.pair(f"{t.label} ({t.count})", amt(t.amount))
        page.rule()
    if doc.opening_float is not None:
        page.pair(lab["float"], amt(doc.opening_float))
    if doc.cash_expected is not None:
        page.pair(lab["expected"], amt(doc.cash_expected))
    if doc.cash_counted is not None:
        page.pair(lab["counted"], amt(doc.cash_counted))
    if doc.cash_expected is not None and doc.cash_counted is not None:
        page.pair(lab["difference"], amt(doc.cash_counted - doc.cash_expected), bold=True)
    page.feed()
    page.commands.append(Cut())
    return page.commands


def layout_pick_list(doc: PickListDoc, profile: LayoutProfile) -> list[PrintCommand]:
    """Lay out a pick list: order id as barcode, lines sorted by location with quantities."""
    lang = doc.store.language
    lab = labels_for(lang)
    tz = doc.store.timezone
    page = _Page(profile)
    page.para(lab["picklist"], Align.CENTER, bold=True, double_width=True, double_height=True)
    page.para(f"{doc.store.store_id} {doc.store.name}", Align.CENTER)
    page.rule()
    page.pair(lab["order"], doc.order_id, bold=True)
    page.pair(lab["channel"], doc.channel)
    if doc.ship_by_utc is not None:
        page.pair(lab["ship_by"], format_local_time(doc.ship_by_utc, tz), bold=True)
    page.pair(lab["printed"], format_local_time(doc.printed_at_utc, tz))
    page.code(doc.order_id, CodeStyle.BARCODE)
    page.rule()
    loc_w = min(12, max([text_width(clean_text(line.location)) for line in doc.lines] + [4]))
    qty_w = 5
    name_w = page.cols - loc_w - qty_w - 2
    page.line(
        pad_right(lab["loc"], loc_w) + " " + pad_left(lab["qty"], qty_w) + " " + lab["item"],
        bold=True,
    )
    for line in sorted(doc.lines, key=lambda x: (x.location, x.sku)):
        names = wrap(clean_text(line.name), name_w)
        loc = clean_text(line.location)
        loc_lines = wrap(loc, loc_w) if text_width(loc) > loc_w else [loc]
        head = pad_right(loc_lines[0], loc_w) + " " + pad_left(str(line.quantity), qty_w) + " "
        page.line(head + names[0], bold=True)
        indent = " " * (loc_w + qty_w + 2)
        for extra_loc in loc_lines[1:]:
            page.line(extra_loc)
        for extra in names[1:]:
            page.line(indent + extra)
        page.line(
            indent + truncate(clean_text(" ".join(x for x in (line.sku, line.gtin) if x)), name_w)
        )
    page.rule()
    units = sum(line.quantity for line in doc.lines)
    page.pair(f"{lab['lines']} {len(doc.lines)}", f"{lab['units']} {units}", bold=True)
    for note in doc.notes:
        page.para(f"{lab['notes']}: {note}")
    page.feed()
    page.line(f"{lab['picked_by']}: " + "_" * max(4, page.cols - text_width(lab["picked_by"]) - 3))
    page.commands.append(Cut())
    return page.commands


TEST_SAMPLES: Final[tuple[tuple[str, str], ...]] = (
    ("de", "Grüße aus Köln: Bäckerei Müller, Straße"),
    ("fr", "Crème brûlée, œuf, garçon, à 3,50 €"),
    ("ja", "東京店 ありがとうございました"),
    ("zh", "上海店 欢迎光临 谢谢惠顾"),
)


def layout_test_page(
    profile: LayoutProfile, *, printed_at_utc: datetime, tz: ZoneInfo, title: str = ""
) -> list[PrintCommand]:
    """Lay out a test page: ruler, styles, alignments, de/fr/ja/zh samples, barcode, QR, cut."""
    page = _Page(profile)
    page.para(title or "Acorn", Align.CENTER, bold=True, double_width=True, double_height=True)
    page.para("TEST PAGE", Align.CENTER, bold=True)
    page.pair("Profile", profile.name)
    page.pair("Columns", str(profile.columns))
    page.pair("Printed", format_local_time(printed_at_utc, tz))
    digits = "".join(str(i % 10) for i in range(1, profile.columns + 1))
    page.line(digits)
    page.line("left")
    page.line("center", Align.CENTER)
    page.line("right", Align.RIGHT)
    page.line("bold", bold=True)
    page.line("double", double_width=True, double_height=True)
    page.rule()
    for lang, sample in TEST_SAMPLES:
        page.para(f"{lang}: {sample}")
    page.rule()
    page.commands.append(Barcode("4006381333931", Symbology.EAN13))
    page.commands.append(QRCode("acorn test page"))
    page.commands.append(Cut())
    return page.commands


def layout_drawer_kick(pin: int) -> list[PrintCommand]:
    """Return the command list that only opens the cash drawer."""
    if pin not in (2, 5):
        raise ReceiptError(f"the drawer pulse pin must be 2 or 5, got {pin}")
    return [DrawerKick(pin)]
