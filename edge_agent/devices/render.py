"""Render printer-neutral commands into ESC/POS bytes through python-escpos.

The layout (``edge_agent.domain.receipt``) decides what goes on paper; this
module only translates: ``Text`` through python-escpos's code page switching
(and the model's Kanji mode for CJK characters it has a font for),
``TextImage`` as a bitmap drawn with Pillow on the printer's character grid,
barcodes and QR codes in hardware when the model has them, cut and drawer kick.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from PIL import Image, ImageDraw, ImageFont

from edge_agent.devices import _escpos
from edge_agent.devices.errors import PrintJobError
from edge_agent.devices.profiles import PrinterProfile, layout_profile
from edge_agent.domain.receipt import (
    Align,
    Barcode,
    Cut,
    DrawerKick,
    Feed,
    LayoutProfile,
    PrintCommand,
    QRCode,
    Symbology,
    Text,
    TextImage,
    char_width,
)

_LOGGER = logging.getLogger(__name__)

# Kanji mode on / off (FS & / FS .).
KANJI_ON: Final = b"\x1c\x26"
KANJI_OFF: Final = b"\x1c\x2e"

CELL_WIDTH_DOTS: Final = 12
CELL_HEIGHT_DOTS: Final = 24

# Searched in order for each character of a TextImage; the first font that has the
# glyph draws it. Configured paths come first. Pillow's built-in font is the last resort.
DEFAULT_FONT_PATHS: Final[tuple[str, ...]] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
_MISSING_PROBE: Final = "\U0010fffd"
_FALLBACK_CHAR: Final = "?"


def drawer_pulse_realtime(pin: int) -> bytes:
    """Return DLE DC4 1 m t: a drawer pulse the printer executes even while offline."""
    if pin not in (2, 5):
        raise PrintJobError(f"drawer pin must be 2 or 5, got {pin}")
    return b"\x10\x14\x01" + bytes([0 if pin == 2 else 1, 1])


@dataclass(frozen=True, slots=True)
class RenderResult:
    """ESC/POS bytes plus the characters no font could draw (printed as '?')."""

    data: bytes
    missing_glyphs: frozenset[str] = frozenset()


FontLike = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=16)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


@lru_cache(maxsize=4)
def _builtin_font(size: int) -> FontLike:
    return ImageFont.load_default(size)


class GlyphFonts:
    """A chain of fonts; picks, per character, the first font that has a glyph for it."""

    def __init__(self, paths: Sequence[str], size: int) -> None:
        fonts: list[FontLike] = []
        for path in paths:
            if os.path.exists(path):
                font = _load_font(path, size)
                if font is not None:
                    fonts.append(font)
        fonts.append(_builtin_font(size))
        self.fonts = fonts
        self._choice: dict[str, FontLike | None] = {}
        self._tiles: dict[tuple[str, bool, int, int], tuple[Image.Image, bool]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _has_glyph(font: FontLike, ch: str) -> bool:
        # A missing glyph renders as the font's .notdef glyph: compare with a code
        # point no font maps (plane 16 private use) to find out.
        try:
            mask = font.getmask(ch)
            probe = font.getmask(_MISSING_PROBE)
        except (UnicodeError, ValueError, OSError):
            return False
        return not (mask.size == probe.size and bytes(mask) == bytes(probe))

    def tile(self, ch: str, *, bold: bool, slot_w: int, cell_h: int) -> tuple[Image.Image, bool]:
        """Return the drawn glyph for one cell (cached) and whether it had to be '?'."""
        key = (ch, bold, slot_w, cell_h)
        with self._lock:
            hit = self._tiles.get(key)
        if hit is not None:
            return hit
        font = self.font_for(ch)
        glyph = ch
        missing = font is None
        if font is None:
            glyph = _FALLBACK_CHAR
            font = self.font_for(_FALLBACK_CHAR) or self.fonts[-1]
        advance = max(1, int(round(font.getlength(glyph))))
        tile = Image.new("L", (advance + 2, cell_h), 255)
        ImageDraw.Draw(tile).text(
            (1, int(cell_h * 0.8)),
            glyph,
            font=font,
            fill=0,
            anchor="ls",
            stroke_width=1 if bold else 0,
            stroke_fill=0,
        )
        if tile.width > slot_w:
            tile = tile.resize((slot_w, cell_h))
        with self._lock:
            if len(self._tiles) < 4096:
                self._tiles[key] = (tile, missing)
        return tile, missing

    def font_for(self, ch: str) -> FontLike | None:
        """Return the font that draws ``ch``, or None when no font has it."""
        with self._lock:
            if ch in self._choice:
                return self._choice[ch]
            found = next((f for f in self.fonts if self._has_glyph(f, ch)), None)
            self._choice[ch] = found
            return found


def draw_text_line(
    text: str,
    *,
    fonts: GlyphFonts,
    columns: int,
    dots_per_line: int,
    align: Align = Align.LEFT,
    bold: bool = False,
    double_width: bool = False,
    double_height: bool = False,
    underline: bool = False,
) -> tuple[Image.Image, frozenset[str]]:
    """Draw one line on the printer's character grid (wide characters take two cells)."""
    cell_w = max(6, dots_per_line // columns)
    cell_h = CELL_HEIGHT_DOTS
    sx = 2 if double_width else 1
    sy = 2 if double_height else 1
    grid_cols = dots_per_line // (cell_w * sx)
    cells: list[tuple[str, int]] = []
    used = 0
    for ch in text:
        w = char_width(ch)
        if w == 0:
            continue
        if used + w > grid_cols:
            break
        cells.append((ch, w))
        used += w
    line_w = used * cell_w
    canvas = Image.new("L", (max(line_w, 1), cell_h), 255)
    missing: set[str] = set()
    x = 0
    for ch, w in cells:
        slot_w = w * cell_w
        if ch != " ":
            tile, lost = fonts.tile(ch, bold=bold, slot_w=slot_w, cell_h=cell_h)
            if lost:
                missing.add(ch)
            canvas.paste(tile, (x + (slot_w - tile.width) // 2, 0))
        x += slot_w
    if underline and line_w:
        ImageDraw.Draw(canvas).line([(0, cell_h - 2), (line_w, cell_h - 2)], fill=0, width=2)
    if sx != 1 or sy != 1:
        canvas = canvas.resize((canvas.width * sx, canvas.height * sy))
    page = Image.new("L", (dots_per_line, canvas.height), 255)
    if align is Align.CENTER:
        left = (dots_per_line - canvas.width) // 2
    elif align is Align.RIGHT:
        left = dots_per_line - canvas.width
    else:
        left = 0
    page.paste(canvas, (max(0, left), 0))
    return page.convert("1", dither=Image.Dither.NONE), frozenset(missing)


_QR_EC_M: Final = 1
_SYMBOLOGY: Final[dict[Symbology, tuple[str, str]]] = {
    # (python-escpos name, ESC/POS function type)
    Symbology.CODE128: ("CODE128", "B"),
    Symbology.EAN13: ("EAN13", "A"),
    Symbology.EAN8: ("EAN8", "A"),
    Symbology.CODE39: ("CODE39", "A"),
}


class EscposRenderer:
    """Turns a command list into the bytes for one printer model."""

    def __init__(self, profile: PrinterProfile, *, font_paths: Sequence[str] | None = None) -> None:
        self.profile = profile
        self.layout: LayoutProfile = layout_profile(profile)
        paths = tuple(font_paths) if font_paths is not None else DEFAULT_FONT_PATHS
        self.fonts = GlyphFonts(paths, size=int(CELL_HEIGHT_DOTS * 0.8))
        self._native_qr = profile.supports("qrCode")
        self._hw_barcode = profile.supports("barcodeB") or profile.supports("barcodeA")
        self._warned: set[str] = set()

    def render(self, commands: Iterable[PrintCommand]) -> RenderResult:
        """Render a whole job; it starts with ESC @ so no state leaks in from an earlier job."""
        printer_cls = _escpos.printer_module().Dummy
        p = printer_cls(profile=self.profile.escpos_profile)
        p.hw("INIT")
        missing: set[str] = set()
        for cmd in commands:
            try:
                self._one(p, cmd, missing)
            except PrintJobError:
                raise
            except (ValueError, TypeError, KeyError) as err:
                raise PrintJobError(f"cannot render {type(cmd).__name__}: {err}") from err
            except _escpos.exceptions_module().Error as err:
                raise PrintJobError(f"cannot render {type(cmd).__name__}: {err}") from err
        new = missing - self._warned
        if new:
            self._warned |= new
            _LOGGER.warning(
                "no font has glyphs for %r; printed as '?'. Install fonts-noto-cjk or set "
                "printer.font_paths",
                "".join(sorted(new))[:64],
            )
        return RenderResult(bytes(p.output), frozenset(missing))

    def render_bytes(self, commands: Iterable[PrintCommand]) -> bytes:
        """Render and return only the bytes."""
        return self.render(commands).data

    def _one(self, p: Any, cmd: PrintCommand, missing: set[str]) -> None:
        if isinstance(cmd, Text):
            self._style(p, cmd.align, cmd.bold, cmd.underline, cmd.double_width, cmd.double_height)
            self._text(p, cmd.text)
            p.text("\n")
        elif isinstance(cmd, TextImage):
            img, lost = draw_text_line(
                cmd.text,
                fonts=self.fonts,
                columns=self.profile.columns,
                dots_per_line=self.profile.dots_per_line,
                align=cmd.align,
                bold=cmd.bold,
                double_width=cmd.double_width,
                double_height=cmd.double_height,
                underline=cmd.underline,
            )
            missing |= lost
            self._style(p, Align.LEFT, False, False, False, False)
            p.image(img, impl="bitImageRaster", center=False)
        elif isinstance(cmd, Barcode):
            self._barcode(p, cmd)
        elif isinstance(cmd, QRCode):
            self._style(p, cmd.align, False, False, False, False)
            if self._native_qr:
                p.qr(cmd.data, ec=_QR_EC_M, size=cmd.module_size, native=True)
                p.text("\n")
            else:
                p.qr(
                    cmd.data,
                    ec=_QR_EC_M,
                    size=cmd.module_size,
                    native=False,
                    center=cmd.align is Align.CENTER,
                )
        elif isinstance(cmd, Feed):
            p.print_and_feed(max(0, min(cmd.lines, 255)))
        elif isinstance(cmd, Cut):
            p.cut(mode="PART" if cmd.partial else "FULL")
        elif isinstance(cmd, DrawerKick):
            if cmd.pin not in (2, 5):
                raise PrintJobError(f"drawer pin must be 2 or 5, got {cmd.pin}")
            p.cashdraw(cmd.pin)
        else:  # pragma: no cover - the union is closed
            raise PrintJobError(f"unknown command {cmd!r}")

    @staticmethod
    def _style(
        p: Any, align: Align, bold: bool, underline: bool, double_w: bool, double_h: bool
    ) -> None:
        p.set(
            align=align.value,
            bold=bold,
            underline=1 if underline else 0,
            double_width=double_w,
            double_height=double_h,
            normal_textsize=not (double_w or double_h),
        )

    def _text(self, p: Any, text: str) -> None:
        """Write text in runs: code-page text via python-escpos, CJK via the Kanji font."""
        layout = self.layout
        codec = self.profile.cjk_codec
        run: list[str] = []
        kanji = False

        def flush() -> None:
            if not run:
                return
            chunk = "".join(run)
            run.clear()
            if kanji and codec is not None:
                p._raw(KANJI_ON + self.profile.kanji_select + chunk.encode(codec) + KANJI_OFF)
            else:
                p.text(chunk)

        for ch in text:
            wide = codec is not None and char_width(ch) == 2 and layout.can_print_char(ch)
            if not wide and not layout.can_print_char(ch):
                # Never hand python-escpos a character the model cannot print: its
                # "magic" encoder would switch to GB18030 for any Han character,
                # which prints garbage on a Latin-only printer.
                ch = _FALLBACK_CHAR
            if wide != kanji:
                flush()
                kanji = wide
            run.append(ch)
        flush()

    def _barcode(self, p: Any, cmd: Barcode) -> None:
        name, function = _SYMBOLOGY[cmd.symbology]
        data = cmd.data
        if cmd.symbology is Symbology.CODE128:
            data = "{B" + data
        self._style(p, cmd.align, False, False, False, False)
        height = max(1, min(cmd.height_dots, 255))
        width = max(2, min(cmd.module_width, 6))
        if self._hw_barcode:
            p.barcode(
                data,
                name,
                height=height,
                width=width,
                pos="BELOW" if cmd.show_text else "OFF",
                font="A",
                align_ct=False,
                function_type=function,
            )
        else:
            p.barcode(cmd.data, name, height=height, width=width, force_software=True)
        p.text("\n")
