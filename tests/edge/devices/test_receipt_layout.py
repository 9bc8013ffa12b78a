"""The pure receipt layout: widths, wrapping, wording, local time, codes, and never crashing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.domain.receipt import (
    Align,
    Barcode,
    CodeStyle,
    Cut,
    DrawerKick,
    Feed,
    LayoutProfile,
    QRCode,
    ReceiptError,
    ReceiptKind,
    ReceiptLine,
    Symbology,
    Text,
    TextImage,
    char_width,
    commands_from_json,
    commands_to_json,
    format_amount,
    format_local_time,
    format_quantity,
    format_rate,
    layout_drawer_kick,
    layout_pick_list,
    layout_receipt,
    layout_test_page,
    layout_z_report,
    needs_drawer,
    text_width,
    truncate,
    two_columns,
    wrap,
)
from protocol.money import Money
from tests.edge.devices.samples import (
    chinese_sale,
    eur,
    german_sale,
    japanese_sale,
    pick_list,
    z_report,
)

# Latin-1 plus the French and euro additions of CP858/CP1252: what a Western printer has.
LATIN = frozenset(chr(c) for c in range(0xA0, 0x100)) | frozenset("œŒ€")
P42 = LayoutProfile("test-42", 42, 512, native_chars=LATIN)
P48 = LayoutProfile("test-48", 48, 576, native_chars=LATIN)
P32_ASCII = LayoutProfile("ascii-32", 32, 384)
P42_SJIS = LayoutProfile("sjis-42", 42, 512, native_chars=LATIN, cjk_codec="shift_jis")
P48_GB = LayoutProfile("gb-48", 48, 576, native_chars=LATIN, cjk_codec="gb2312")


def lines_of(commands: list) -> list[str]:
    return [c.text for c in commands if isinstance(c, Text | TextImage)]


def effective_columns(cmd: Text | TextImage, profile: LayoutProfile) -> int:
    return profile.columns // 2 if cmd.double_width else profile.columns


@pytest.mark.parametrize(
    ("text", "width"),
    [("abc", 3), ("Grüße", 5), ("東京", 4), ("ﾃｽﾄ", 3), ("e\u0301", 1), ("", 0)],
)
def test_text_width_counts_wide_and_combining_characters(text: str, width: int) -> None:
    assert text_width(text) == width


def test_truncate_never_splits_a_wide_character() -> None:
    assert truncate("東京タワー", 5) == "東京"
    assert text_width(truncate("東京タワー", 5)) == 4


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("one two three", 7, ["one two", "three"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("  2 x 1,29", 42, ["  2 x 1,29"]),
        ("", 10, [""]),
        ("東京 上海 北京", 5, ["東京", "上海", "北京"]),
    ],
)
def test_wrap(text: str, width: int, expected: list[str]) -> None:
    assert wrap(text, width) == expected


def test_two_columns_right_aligns_and_wraps_a_long_left_side() -> None:
    rows = two_columns("A very long product name that will not fit", "12,99 A", 24)
    assert all(text_width(r) <= 24 for r in rows)
    assert rows[-1].endswith(" 12,99 A")
    assert len(rows) > 1


@pytest.mark.parametrize(
    ("amount", "lang", "text"),
    [
        (Money.parse("1234.50", "EUR"), "de", "1234,50"),
        (Money.parse("1234.50", "EUR"), "fr-FR", "1234,50"),
        (Money.parse("-0.35", "GBP"), "en", "-0.35"),
        (Money(480, "JPY"), "ja", "480"),
        (Money.parse("1.250", "BHD"), "en", "1.250"),
    ],
)
def test_format_amount_uses_the_currency_decimals_and_the_language_mark(
    amount: Money, lang: str, text: str
) -> None:
    assert format_amount(amount, lang) == text


def test_format_quantity_and_rate() -> None:
    assert format_quantity(Decimal("2.000"), "de") == "2"
    assert format_quantity(Decimal("0.5320"), "de") == "0,532"
    assert format_rate(700) == "7%"
    assert format_rate(810, "fr") == "8,1%"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Berlin", "2026-11-27 11:00 CET"),
        ("Asia/Tokyo", "2026-11-27 19:00 JST"),
        ("America/Los_Angeles", "2026-11-27 02:00 PST"),
    ],
)
def test_local_time_is_printed_in_the_store_zone(zone: str, expected: str) -> None:
    assert format_local_time(datetime(2026, 11, 27, 10, 0, tzinfo=UTC), ZoneInfo(zone)) == expected


def test_summer_time_is_printed_as_such() -> None:
    at = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert format_local_time(at, ZoneInfo("Europe/Berlin")) == "2026-07-01 12:00 CEST"


def test_naive_or_non_utc_times_are_refused() -> None:
    with pytest.raises(ReceiptError, match="aware UTC"):
        format_local_time(datetime(2026, 11, 27, 10, 0), ZoneInfo("Europe/Berlin"))
    with pytest.raises(ReceiptError, match="aware UTC"):
        replace(
            german_sale(),
            completed_at_utc=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        )


def test_mixed_currencies_in_one_receipt_are_refused() -> None:
    doc = german_sale()
    bad_line = ReceiptLine("Tea", Decimal(1), Money(100, "USD"), Money(100, "USD"))
    with pytest.raises(ReceiptError, match="mixes EUR with USD"):
        replace(doc, lines=(*doc.lines, bad_line))


@pytest.mark.parametrize("profile", [P42, P48], ids=["42", "48"])
def test_german_receipt_content(profile: LayoutProfile) -> None:
    commands = layout_receipt(german_sale(), profile)
    lines = lines_of(commands)
    header = commands[0]
    assert isinstance(header, Text)
    assert (header.text, header.align, header.bold, header.double_width) == (
        "Bäckerei Müller",
        Align.CENTER,
        True,
        True,
    )
    assert any(line.startswith("Beleg") and line.endswith("R-042-3-000123") for line in lines)
    assert any(line.startswith("Datum") and line.endswith("2026-11-27 11:00 CET") for line in lines)
    assert "  2 x 1,29" in lines
    assert "  0,532 kg x 2,99/kg" in lines
    assert any(line.startswith("  Rabatt 10%") and "-0,35" in line for line in lines)
    total = next(c for c in commands if isinstance(c, Text) and c.text.startswith("SUMME"))
    assert total.text.endswith("EUR 16,72")
    assert total.bold
    assert total.double_height
    assert any(line.startswith("Rückgeld") and line.endswith("3,28") for line in lines)
    assert any(line.startswith("A 7%") and line.endswith("9,73") for line in lines)
    assert commands[-1] == Cut()
    assert Barcode("R-042-3-000123", Symbology.CODE128) in commands
    # Everything German prints in the code pages: no bitmaps needed.
    assert not any(isinstance(c, TextImage) for c in commands)


@pytest.mark.parametrize("profile", [P42, P48, P32_ASCII, P42_SJIS, P48_GB])
@pytest.mark.parametrize("doc", [german_sale(), japanese_sale(), chinese_sale()])
def test_no_line_is_wider_than_the_paper(profile: LayoutProfile, doc) -> None:
    for cmd in layout_receipt(doc, profile):
        if isinstance(cmd, Text | TextImage):
            assert text_width(cmd.text) <= effective_columns(cmd, profile), cmd


def test_amount_columns_line_up() -> None:
    lines = lines_of(layout_receipt(german_sale(), P42))
    money_lines = [line for line in lines if line.rstrip().endswith((" A", " B"))]
    assert money_lines
    assert {len(line) for line in money_lines} == {42}


def test_cjk_lines_become_images_on_a_latin_printer() -> None:
    commands = layout_receipt(japanese_sale(), P42)
    images = [c for c in commands if isinstance(c, TextImage)]
    assert any("東京店" in c.text for c in images)
    assert any("抹茶ラテ" in c.text for c in images)
    assert any(isinstance(c, TextImage) and c.text.endswith("R-081-1-000007") for c in commands)
    # Lines without Japanese stay text even in a Japanese store.
    assert Text("-" * 42) in commands


def test_a_printer_with_a_kanji_font_prints_japanese_natively_but_not_simplified_chinese() -> None:
    ja = layout_receipt(japanese_sale(), P42_SJIS)
    assert not any(isinstance(c, TextImage) for c in ja)
    zh = layout_receipt(chinese_sale(), P42_SJIS)
    assert any(isinstance(c, TextImage) and "绿茶" in c.text for c in zh)


def test_a_gb2312_printer_prints_chinese_natively() -> None:
    zh = layout_receipt(chinese_sale(), P48_GB)
    assert not any(isinstance(c, TextImage) for c in zh)
    assert any(isinstance(c, Text) and c.text.startswith("绿茶") for c in zh)


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (CodeStyle.BARCODE, [Barcode]),
        (CodeStyle.QR, [QRCode]),
        (CodeStyle.BOTH, [Barcode, QRCode]),
    ],
)
def test_receipt_number_code_style(style: CodeStyle, expected: list[type]) -> None:
    commands = layout_receipt(german_sale(), replace(P42, code_style=style))
    kinds = [type(c) for c in commands if isinstance(c, Barcode | QRCode)]
    assert kinds == expected


def test_a_reference_too_wide_for_a_linear_barcode_falls_back_to_qr() -> None:
    doc = replace(german_sale(), receipt_no="R-" + "9" * 40)
    codes = [c for c in layout_receipt(doc, P32_ASCII) if isinstance(c, Barcode | QRCode)]
    assert codes == [QRCode("R-" + "9" * 40)]


def test_return_receipt_and_copy_are_marked() -> None:
    doc = replace(german_sale(), kind=ReceiptKind.RETURN, original_receipt_no="R-042-3-000100")
    lines = lines_of(layout_receipt(doc, P42, copy=True))
    assert "RÜCKGABE" in lines
    assert "*** KOPIE ***" in lines
    assert any(line.startswith("Ursprungsbeleg") for line in lines)


def test_drawer_is_needed_only_for_cash() -> None:
    assert needs_drawer(german_sale(cash=True))
    assert not needs_drawer(german_sale(cash=False))
    assert layout_drawer_kick(5) == [DrawerKick(5)]
    with pytest.raises(ReceiptError):
        layout_drawer_kick(3)


def test_card_reference_is_printed() -> None:
    lines = lines_of(layout_receipt(german_sale(cash=False), P42))
    assert "  **** 4242" in lines
    assert not any(line.startswith("Rückgeld") for line in lines)


def test_pick_list_sorted_by_location_with_order_barcode() -> None:
    commands = layout_pick_list(pick_list(), P42)
    lines = lines_of(commands)
    assert Barcode("302-1234567-7654321", Symbology.CODE128) in commands
    item_rows = [line for line in lines if line.startswith(("A-11-04", "B-02-01"))]
    assert [row.split()[0] for row in item_rows] == ["A-11-04", "B-02-01"]
    assert item_rows[1].split()[1] == "2"
    assert any("4006381333931" in line for line in lines)
    assert any(line.startswith("Versand bis") and line.endswith("14:00 CET") for line in lines)
    assert any(line.startswith("Positionen 2") and line.endswith("Stück 3") for line in lines)
    assert commands[-1] == Cut()


def test_z_report_shows_the_cash_difference() -> None:
    lines = lines_of(layout_z_report(z_report(), P48))
    assert "Z-BON #118" in lines
    assert any(line.startswith("Differenz") and line.endswith("-0,50") for line in lines)
    assert any(line.startswith("Bar (120)") and line.endswith("1490,10") for line in lines)


def test_test_page_has_samples_ruler_and_codes() -> None:
    commands = layout_test_page(
        P42, printed_at_utc=datetime(2026, 11, 27, 10, tzinfo=UTC), tz=ZoneInfo("Europe/Paris")
    )
    lines = lines_of(commands)
    assert "123456789012345678901234567890123456789012" in lines
    assert any(isinstance(c, TextImage) and c.text.startswith("ja:") for c in commands)
    assert any(isinstance(c, Text) and c.text.startswith("fr: Crème") for c in commands)
    assert [type(c) for c in commands[-3:]] == [Barcode, QRCode, Cut]


def test_commands_round_trip_through_json() -> None:
    commands = [
        *layout_receipt(japanese_sale(), P42),
        Feed(2),
        DrawerKick(5),
        Cut(partial=True),
    ]
    assert commands_from_json(commands_to_json(commands)) == commands


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"op": "text"}', "JSON list"),
        ('[{"op": "laser"}]', "unknown print command"),
        ('[{"op": "text", "text": "x", "colour": "red"}]', "no field"),
        ('[{"op": "text", "text": "x", "align": "middle"}]', "bad align"),
        ('[{"op": "feed"}, {"op": "text"}]', "bad print command"),
    ],
)
def test_bad_command_json_is_refused_with_a_reason(payload: str, message: str) -> None:
    with pytest.raises(ReceiptError, match=message):
        commands_from_json(payload)


names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=80)


@settings(max_examples=150, deadline=None)
@given(name=names, store_name=names, footer=names)
def test_any_unicode_never_crashes_and_never_overflows(
    name: str, store_name: str, footer: str
) -> None:
    base = german_sale()
    doc = replace(
        base,
        store=replace(base.store, name=store_name, footer_lines=(footer,)),
        lines=(replace(base.lines[0], name=name), *base.lines[1:]),
    )
    for profile in (P42, P32_ASCII, P42_SJIS):
        commands = layout_receipt(doc, profile)
        for cmd in commands:
            if isinstance(cmd, Text):
                assert profile.can_print(cmd.text)
            if isinstance(cmd, Text | TextImage):
                assert text_width(cmd.text) <= effective_columns(cmd, profile)
                assert "\n" not in cmd.text


def test_char_width_of_ascii_is_one() -> None:
    assert {char_width(chr(c)) for c in range(0x20, 0x7F)} == {1}


def test_sample_amounts_add_up() -> None:
    doc = german_sale()
    line_discounts = [d.amount for line in doc.lines for d in line.discounts]
    assert sum([line.amount for line in doc.lines] + line_discounts, eur("0")) == doc.subtotal
    assert sum([d.amount for d in doc.discounts], doc.subtotal) == doc.total
    assert sum((row.gross for row in doc.tax_rows), eur("0")) == doc.total
    assert all(row.net + row.tax == row.gross for row in doc.tax_rows)
