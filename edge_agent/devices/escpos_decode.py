"""Decode an ESC/POS byte stream into tokens, a line listing and readable text.

Used by the golden tests (assert on what a printer would do, not on byte
counts), by the file-sink printer (a ``.txt`` next to every ``.bin`` for people
to read in the demo) and by field diagnostics. It understands the commands
python-escpos emits and the common ESC/POS set; anything else becomes an
``unknown`` token. It never raises on malformed input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from edge_agent.devices import _escpos

ESC: Final = 0x1B
GS: Final = 0x1D
DLE: Final = 0x10
FS: Final = 0x1C

_ALIGN: Final = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
_BARCODE_A: Final = {0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "NW7"}
_BARCODE_B: Final = {
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "NW7",
    72: "CODE93", 73: "CODE128", 74: "GS1-128", 75: "GS1 DataBar Omnidirectional",
    76: "GS1 DataBar Truncated", 77: "GS1 DataBar Limited", 78: "GS1 DataBar Expanded",
}  # fmt: skip
# ESC commands with one parameter byte.
_ESC_ONE_ARG: Final = frozenset(b"!-EGMRVa{ tcdJ3=rU")


@dataclass(frozen=True, slots=True)
class Token:
    """One decoded printer action: ``op`` names it, ``value`` carries its argument."""

    op: str
    value: Any = None


@lru_cache(maxsize=16)
def codepage_tables(escpos_profile: str = "default") -> dict[int, str]:
    """Return slot -> upper-half characters for a python-escpos profile's code pages."""
    data = _escpos.capabilities()["profiles"].get(escpos_profile, {})
    tables: dict[int, str] = {}
    for slot, name in data.get("codePages", {}).items():
        chars = _escpos.codepage_chars(name) if name and name != "Unknown" else ""
        if len(chars) == 128:
            tables[int(slot)] = chars
    return tables


_CP437: Final = bytes(range(128, 256)).decode("cp437")


def decode(
    data: bytes,
    *,
    codepages: Mapping[int, str] | None = None,
    kanji_codec: str = "gb18030",
) -> list[Token]:
    """Decode ESC/POS bytes; ``codepages`` maps ESC t slots to their upper-half characters."""
    tables = codepages if codepages is not None else {0: _CP437}
    tokens: list[Token] = []
    text: list[str] = []
    slot = 0
    kanji = False
    codec = kanji_codec
    i = 0
    n = len(data)

    def flush() -> None:
        if text:
            tokens.append(Token("text", "".join(text)))
            text.clear()

    def need(count: int) -> bool:
        return i + count <= n

    while i < n:
        b = data[i]
        if b == 0x0A:
            flush()
            tokens.append(Token("lf"))
            i += 1
        elif b == 0x0D:
            i += 1
        elif b == 0x09:
            text.append("\t")
            i += 1
        elif b == ESC:
            flush()
            if not need(2):
                tokens.append(Token("truncated", data[i:].hex()))
                break
            c = data[i + 1]
            if c == ord("@"):
                tokens.append(Token("init"))
                slot, kanji = 0, False
                i += 2
            elif c == ord("p"):
                if not need(5):
                    tokens.append(Token("truncated", data[i:].hex()))
                    break
                m = data[i + 2]
                tokens.append(Token("drawer", 2 if m in (0, 48) else 5))
                i += 5
            elif c == ord("*"):
                if not need(5):
                    tokens.append(Token("truncated", data[i:].hex()))
                    break
                m, cols = data[i + 2], data[i + 3] + 256 * data[i + 4]
                size = cols * (1 if m in (0, 1) else 3)
                tokens.append(Token("image", (cols, 8 if m in (0, 1) else 24)))
                i += 5 + size
            elif c == ord("2"):
                i += 2
            elif c in _ESC_ONE_ARG:
                if not need(3):
                    tokens.append(Token("truncated", data[i:].hex()))
                    break
                arg = data[i + 2]
                i += 3
                if c == ord("!"):
                    tokens.append(Token("mode", arg))
                elif c == ord("E"):
                    tokens.append(Token("bold", bool(arg & 1)))
                elif c == ord("-"):
                    tokens.append(Token("underline", arg % 48 if arg >= 48 else arg))
                elif c == ord("a"):
                    tokens.append(Token("align", _ALIGN.get(arg, f"?{arg}")))
                elif c == ord("t"):
                    slot = arg
                    tokens.append(Token("codepage", arg))
                elif c == ord("d"):
                    tokens.append(Token("feed", arg))
                elif c == ord("M"):
                    tokens.append(Token("font", arg))
                elif c == ord("c"):
                    # ESC c 5 n (panel buttons) has a second parameter byte.
                    i += 1
            else:
                tokens.append(Token("unknown", data[i : i + 2].hex()))
                i += 2
        elif b == GS:
            flush()
            if not need(2):
                tokens.append(Token("truncated", data[i:].hex()))
                break
            c = data[i + 1]
            consumed, token = _decode_gs(data, i, c)
            if consumed == 0:
                tokens.append(Token("truncated", data[i:].hex()))
                break
            if token is not None:
                tokens.append(token)
            i += consumed
        elif b == DLE:
            flush()
            if need(3) and data[i + 1] == 0x04:
                tokens.append(Token("status_query", data[i + 2]))
                i += 3
            elif need(5) and data[i + 1] == 0x14 and data[i + 2] == 1:
                tokens.append(Token("drawer", 2 if data[i + 3] == 0 else 5))
                i += 5
            else:
                tokens.append(Token("unknown", data[i : i + 2].hex()))
                i += 2
        elif b == FS:
            flush()
            c = data[i + 1] if need(2) else -1
            if c == ord("&"):
                kanji = True
                tokens.append(Token("kanji", True))
                i += 2
            elif c == ord("."):
                kanji = False
                tokens.append(Token("kanji", False))
                i += 2
            elif c == ord("C") and need(3):
                codec = "shift_jis" if data[i + 2] in (1, 49) else kanji_codec
                i += 3
            elif c in (ord("!"), ord("-"), ord("W")) and need(3):
                i += 3
            else:
                tokens.append(Token("unknown", data[i : i + 2].hex()))
                i += 2
        elif b < 0x20 or b == 0x7F:
            flush()
            tokens.append(Token("ctrl", b))
            i += 1
        elif b >= 0x80 and kanji:
            pair = data[i : i + 2]
            try:
                text.append(pair.decode(codec))
            except UnicodeDecodeError:
                text.append("\ufffd")
            i += 2
        elif b >= 0x80:
            table = tables.get(slot, "")
            ch = table[b - 0x80] if len(table) == 128 else "\ufffd"
            text.append(ch)
            i += 1
        else:
            text.append(chr(b))
            i += 1
    flush()
    return tokens


def _decode_gs(data: bytes, i: int, c: int) -> tuple[int, Token | None]:
    """Decode one GS command at ``i``; return (bytes consumed, token); 0 means truncated."""
    n = len(data)
    if c == ord("!"):
        if i + 3 > n:
            return 0, None
        arg = data[i + 2]
        return 3, Token("size", ((arg >> 4) + 1, (arg & 0x0F) + 1))
    if c == ord("V"):
        if i + 3 > n:
            return 0, None
        m = data[i + 2]
        if m in (65, 66):
            return (4 if i + 4 <= n else 0), Token("cut", "full" if m == 65 else "partial")
        return 3, Token("cut", "full" if m in (0, 48) else "partial")
    if c in (ord("h"), ord("w"), ord("f"), ord("H"), ord("B"), ord("b"), ord("a"), ord("r")):
        return (3 if i + 3 <= n else 0), None
    if c in (ord("L"), ord("W")):
        return (4 if i + 4 <= n else 0), None
    if c == ord("k"):
        if i + 3 > n:
            return 0, None
        m = data[i + 2]
        if m in _BARCODE_A:
            end = data.find(b"\x00", i + 3)
            if end < 0:
                return 0, None
            return end + 1 - i, Token(
                "barcode", (_BARCODE_A[m], data[i + 3 : end].decode("latin-1"))
            )
        if i + 4 > n:
            return 0, None
        length = data[i + 3]
        if i + 4 + length > n:
            return 0, None
        raw = data[i + 4 : i + 4 + length].decode("latin-1")
        name = _BARCODE_B.get(m, f"?{m}")
        if name in ("CODE128", "GS1-128") and len(raw) >= 2 and raw[0] == "{" and raw[1] in "ABC":
            raw = raw[2:]
        return 4 + length, Token("barcode", (name, raw))
    if c == ord("(") and i + 5 <= n:
        kind = data[i + 2]
        length = data[i + 3] + 256 * data[i + 4]
        if i + 5 + length > n:
            return 0, None
        body = data[i + 5 : i + 5 + length]
        if kind == ord("k") and len(body) >= 2 and body[0] == ord("1"):
            fn = body[1]
            if fn == 80:
                return 5 + length, Token("qr_store", body[3:].decode("utf-8", "replace"))
            if fn == 81:
                return 5 + length, Token("qr_print")
            return 5 + length, None
        if kind == ord("L"):
            return 5 + length, Token("graphics", length)
        return 5 + length, None
    if c == ord("v") and i + 8 <= n:
        width_bytes = data[i + 4] + 256 * data[i + 5]
        height = data[i + 6] + 256 * data[i + 7]
        size = width_bytes * height
        if i + 8 + size > n:
            return 0, None
        return 8 + size, Token("image", (width_bytes * 8, height))
    if c in (ord("("), ord("v")):
        return 0, None
    return 2, Token("unknown", data[i : i + 2].hex())


@dataclass(slots=True)
class _Style:
    align: str = "left"
    bold: bool = False
    underline: bool = False
    width: int = 1
    height: int = 1

    def tag(self) -> str:
        parts = [self.align[0].upper()]
        if self.bold:
            parts.append("B")
        if self.underline:
            parts.append("U")
        if (self.width, self.height) != (1, 1):
            parts.append(f"{self.width}x{self.height}")
        return " ".join(parts)


def listing(tokens: list[Token]) -> list[str]:
    """Return one line per printed line or block, with its style: the golden-test format.

    Text lines read ``[C B 2x2] text``; blocks read ``BARCODE CODE128 "data" [C]``,
    ``QR "data" [C]``, ``IMAGE 512x24``, ``FEED 1``, ``CUT full``, ``DRAWER pin 2``.
    """
    out: list[str] = []
    style = _Style()
    line: list[str] = []
    line_tag: str | None = None
    qr_data = ""
    for tok in tokens:
        op, value = tok.op, tok.value
        if op == "text":
            if line_tag is None:
                line_tag = style.tag()
            line.append(value)
        elif op == "lf":
            if line_tag is not None or line:
                out.append(f"[{line_tag or style.tag()}] {''.join(line)}")
            line, line_tag = [], None
        elif op == "init":
            style = _Style()
        elif op == "mode":
            style.bold = bool(value & 0x08)
            style.height = 2 if value & 0x10 else 1
            style.width = 2 if value & 0x20 else 1
            style.underline = bool(value & 0x80)
        elif op == "bold":
            style.bold = value
        elif op == "underline":
            style.underline = bool(value)
        elif op == "size":
            style.width, style.height = value
        elif op == "align":
            style.align = value
        elif op == "feed":
            out.append(f"FEED {value}")
        elif op == "cut":
            out.append(f"CUT {value}")
        elif op == "drawer":
            out.append(f"DRAWER pin {value}")
        elif op == "barcode":
            out.append(f'BARCODE {value[0]} "{value[1]}" [{style.align[0].upper()}]')
        elif op == "qr_store":
            qr_data = value
        elif op == "qr_print":
            out.append(f'QR "{qr_data}" [{style.align[0].upper()}]')
        elif op == "image":
            out.append(f"IMAGE {value[0]}x{value[1]}")
        elif op in ("unknown", "truncated"):
            out.append(f"{op.upper()} {value}")
    if line:
        out.append(f"[{line_tag or style.tag()}] {''.join(line)}")
    return out


def to_text(tokens: list[Token], columns: int = 42) -> str:
    """Return a plain-text picture of the paper (alignment applied) for people to read."""
    rows: list[str] = []
    for entry in listing(tokens):
        if entry.startswith("["):
            tag, _, body = entry.partition("] ")
            align = tag[1]
            if align == "C":
                rows.append(body.strip().center(columns).rstrip())
            elif align == "R":
                rows.append(body.strip().rjust(columns))
            else:
                rows.append(body.rstrip())
        elif entry.startswith("FEED"):
            rows.extend([""] * int(entry.split()[1]))
        elif entry.startswith("CUT"):
            rows.append(" cut ".center(columns, "-"))
        elif entry.startswith("IMAGE"):
            rows.append(f"[image {entry.split()[1]} dots]")
        elif entry.startswith(("BARCODE", "QR")):
            rows.append(f"[{entry.rsplit(' [', 1)[0]}]".center(columns).rstrip())
        else:
            rows.append(f"[{entry}]")
    return "\n".join(rows) + "\n"


def describe(data: bytes, *, escpos_profile: str = "default", kanji_codec: str = "gb18030") -> str:
    """Decode bytes with a profile's code pages and return the plain-text picture."""
    columns = 42
    fonts = _escpos.capabilities()["profiles"].get(escpos_profile, {}).get("fonts", {})
    if isinstance(fonts, dict) and "0" in fonts:
        columns = int(fonts["0"].get("columns", 42))
    tokens = decode(data, codepages=codepage_tables(escpos_profile), kanji_codec=kanji_codec)
    return to_text(tokens, columns)
