"""Printer models: width, columns, code pages and CJK font, mapped to python-escpos profiles."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Final

from edge_agent.devices import _escpos
from edge_agent.devices.errors import DeviceConfigError
from edge_agent.domain.receipt import CodeStyle, LayoutProfile

# ESC/POS selects the Shift-JIS code system for Kanji mode with FS C 1; GB2312/GB18030
# and Big5 models need no selection (their Kanji mode is the Chinese font).
_SHIFT_JIS_SELECT: Final = b"\x1c\x43\x01"


@dataclass(frozen=True, slots=True)
class PrinterProfile:
    """One printer model as Acorn drives it."""

    key: str
    escpos_profile: str
    columns: int
    dots_per_line: int
    description: str
    cjk_codec: str | None = None
    code_style: CodeStyle = CodeStyle.BARCODE

    @property
    def kanji_select(self) -> bytes:
        """Return the bytes that pick the Kanji code system after FS & (empty if none needed)."""
        return _SHIFT_JIS_SELECT if self.cjk_codec == "shift_jis" else b""

    def escpos_data(self) -> dict[str, object]:
        """Return python-escpos's database entry for the model."""
        profiles: dict[str, dict[str, object]] = _escpos.capabilities()["profiles"]
        return profiles[self.escpos_profile]

    def supports(self, feature: str) -> bool:
        """Return True if python-escpos says the model has a feature (qrCode, barcodeB, ...)."""
        features = self.escpos_data().get("features", {})
        return bool(isinstance(features, dict) and features.get(feature))


PROFILES: Final[dict[str, PrinterProfile]] = {
    p.key: p
    for p in (
        PrinterProfile("epson-tm-t88v", "TM-T88V", 42, 512, "Epson TM-T88V, 80 mm, 42 columns"),
        PrinterProfile("epson-tm-t20ii", "TM-T20II", 48, 576, "Epson TM-T20II, 80 mm, 48 columns"),
        PrinterProfile(
            "epson-tm-t88v-j",
            "TM-T88V",
            42,
            512,
            "Epson TM-T88V Japanese model (Kanji font, Shift-JIS), 80 mm, 42 columns",
            cjk_codec="shift_jis",
        ),
        PrinterProfile(
            "generic-80mm-gb18030",
            "TM-T20II",
            48,
            576,
            "Generic 80 mm Chinese-market printer (GB18030 font), 48 columns",
            cjk_codec="gb2312",
        ),
        PrinterProfile("generic-58mm", "POS-5890", 32, 384, "Generic 58 mm printer, 32 columns"),
    )
}

DEFAULT_PROFILE: Final = "epson-tm-t88v"


def resolve_profile(
    key: str, *, columns: int | None = None, code_style: CodeStyle | None = None
) -> PrinterProfile:
    """Return a built-in profile, optionally with another column count or code style."""
    try:
        profile = PROFILES[key]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise DeviceConfigError(f"unknown printer profile {key!r}; choose one of {known}") from None
    if columns is not None:
        # 42 vs 48 columns is a font/DIP-switch setting on many 80 mm models.
        dots = profile.dots_per_line
        if columns * 12 > dots:
            raise DeviceConfigError(
                f"{columns} columns of 12 dots do not fit the {dots}-dot line of {key}"
            )
        profile = replace(profile, columns=columns)
    if code_style is not None:
        profile = replace(profile, code_style=code_style)
    return profile


@lru_cache(maxsize=32)
def native_chars(escpos_profile: str) -> frozenset[str]:
    """Return the non-ASCII characters reachable through the model's code pages."""
    data = _escpos.capabilities()["profiles"][escpos_profile]
    chars: set[str] = set()
    for name in data.get("codePages", {}).values():
        if name and name != "Unknown":
            chars.update(_escpos.codepage_chars(name))
    return frozenset(ch for ch in chars if ord(ch) >= 0x80 and ch.isprintable())


def layout_profile(profile: PrinterProfile) -> LayoutProfile:
    """Return what the pure layout needs to know about a printer model."""
    return LayoutProfile(
        name=profile.key,
        columns=profile.columns,
        dots_per_line=profile.dots_per_line,
        native_chars=native_chars(profile.escpos_profile),
        cjk_codec=profile.cjk_codec,
        code_style=profile.code_style,
    )
