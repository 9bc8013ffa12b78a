"""German, French, Japanese and Chinese: code pages, Kanji mode, text as image, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.devices.escpos_decode import Token, codepage_tables, decode, listing
from edge_agent.devices.profiles import PROFILES, layout_profile, resolve_profile
from edge_agent.devices.render import (
    DEFAULT_FONT_PATHS,
    EscposRenderer,
    GlyphFonts,
    draw_text_line,
    drawer_pulse_realtime,
)
from edge_agent.domain.receipt import (
    TEST_SAMPLES,
    Align,
    Barcode,
    Cut,
    DrawerKick,
    Feed,
    QRCode,
    Symbology,
    Text,
    TextImage,
    layout_receipt,
    layout_test_page,
)
from tests.edge.devices.samples import chinese_sale, japanese_sale


def render_and_decode(
    profile_key: str, commands: list, *, font_paths=()
) -> tuple[list[Token], frozenset[str]]:
    profile = PROFILES[profile_key]
    result = EscposRenderer(profile, font_paths=font_paths).render(commands)
    tokens = decode(
        result.data,
        codepages=codepage_tables(profile.escpos_profile),
        kanji_codec=profile.cjk_codec or "gb18030",
    )
    return tokens, result.missing_glyphs


def texts(tokens: list[Token]) -> list[str]:
    out, line = [], []
    for t in tokens:
        if t.op == "text":
            line.append(t.value)
        elif t.op == "lf":
            out.append("".join(line))
            line = []
    return out


@pytest.mark.parametrize("profile_key", ["epson-tm-t88v", "epson-tm-t20ii", "generic-58mm"])
@pytest.mark.parametrize(
    "sample",
    [
        "Grüße aus Köln: Bäckerei Müller, Straße, ÄÖÜ",
        "Crème brûlée, œuf, garçon, à 3,50 €, « déjà »",
        "Ça coûte 12,50 € – élève Noël",
    ],
)
def test_latin_text_round_trips_through_the_code_pages(profile_key: str, sample: str) -> None:
    layout = layout_profile(PROFILES[profile_key])
    assert layout.can_print(sample), [c for c in sample if not layout.can_print_char(c)]
    tokens, missing = render_and_decode(profile_key, [Text(sample)])
    assert texts(tokens) == [sample]
    assert any(t.op == "codepage" for t in tokens)
    assert not missing


def test_cjk_on_a_latin_printer_is_drawn_as_an_image_never_as_gb18030_bytes() -> None:
    tokens, _ = render_and_decode(
        "epson-tm-t88v", layout_receipt(japanese_sale(), layout_profile(PROFILES["epson-tm-t88v"]))
    )
    assert any(t.op == "image" for t in tokens)
    assert not any(t.op == "kanji" for t in tokens)
    assert not any("抹" in str(t.value) for t in tokens if t.op == "text")


def test_a_text_command_with_han_on_a_latin_printer_degrades_to_question_marks() -> None:
    # python-escpos alone would send GB18030 bytes for any Han character; we never let it.
    tokens, _ = render_and_decode("epson-tm-t88v", [Text("Tee 東京 ok")])
    assert texts(tokens) == ["Tee ?? ok"]


def test_shift_jis_printer_uses_kanji_mode() -> None:
    key = "epson-tm-t88v-j"
    commands = layout_receipt(japanese_sale(), layout_profile(PROFILES[key]))
    tokens, missing = render_and_decode(key, commands)
    assert Token("kanji", True) in tokens
    assert "東京店" in texts(tokens)
    assert any(line.startswith("抹茶ラテ") for line in texts(tokens))
    assert not any(t.op == "image" for t in tokens)
    assert not missing


def test_gb2312_printer_prints_chinese_in_kanji_mode() -> None:
    key = "generic-80mm-gb18030"
    tokens, _ = render_and_decode(
        key, layout_receipt(chinese_sale(), layout_profile(PROFILES[key]))
    )
    assert "上海店" in texts(tokens)
    assert any(line.startswith("绿茶 500毫升") for line in texts(tokens))
    assert not any(t.op == "image" for t in tokens)


def test_text_image_size_follows_paper_width_and_text_size() -> None:
    commands = [
        TextImage("東京店", Align.CENTER),
        TextImage("東京店", Align.CENTER, double_width=True, double_height=True),
    ]
    tokens, _ = render_and_decode("epson-tm-t20ii", commands)
    assert [t.value for t in tokens if t.op == "image"] == [(576, 24), (576, 48)]


def test_missing_glyphs_are_reported_and_drawn_as_question_marks() -> None:
    renderer = EscposRenderer(PROFILES["epson-tm-t88v"], font_paths=())
    result = renderer.render([TextImage("Tee 東京")])
    assert result.missing_glyphs == frozenset("東京")
    assert renderer.render([TextImage("Tea time")]).missing_glyphs == frozenset()


def test_text_image_draws_ink_in_the_right_place() -> None:
    fonts = GlyphFonts((), 19)
    left, _ = draw_text_line("AB", fonts=fonts, columns=42, dots_per_line=512)
    right, _ = draw_text_line("AB", fonts=fonts, columns=42, dots_per_line=512, align=Align.RIGHT)
    blank, _ = draw_text_line("  ", fonts=fonts, columns=42, dots_per_line=512)
    assert left.size == right.size == (512, 24)
    lbox, rbox = (
        left.convert("L").point(lambda v: 255 - v).getbbox(),
        right.convert("L").point(lambda v: 255 - v).getbbox(),
    )
    assert lbox is not None
    assert rbox is not None
    assert lbox[2] <= 24
    assert rbox[0] >= 512 - 24
    assert blank.convert("L").point(lambda v: 255 - v).getbbox() is None


def test_default_font_chain_renders_a_cjk_test_page_without_crashing() -> None:
    # Whatever fonts this machine has: the page renders, and anything missing is reported.
    profile = PROFILES["epson-tm-t88v"]
    commands = layout_test_page(
        layout_profile(profile),
        printed_at_utc=datetime(2026, 11, 27, tzinfo=UTC),
        tz=ZoneInfo("Asia/Tokyo"),
    )
    result = EscposRenderer(profile, font_paths=DEFAULT_FONT_PATHS).render(commands)
    tokens = decode(result.data, codepages=codepage_tables(profile.escpos_profile))
    assert sum(1 for t in tokens if t.op == "image") == 2  # the ja and zh sample lines
    assert result.missing_glyphs <= frozenset("".join(sample for _, sample in TEST_SAMPLES))


def test_codes_cut_feed_and_drawer_render_as_escpos() -> None:
    commands = [
        Barcode("4006381333931", Symbology.EAN13),
        Barcode("R-1", Symbology.CODE128, align=Align.LEFT),
        QRCode("https://example.invalid/r/1"),
        Feed(3),
        DrawerKick(5),
        Cut(partial=True),
    ]
    tokens, _ = render_and_decode("epson-tm-t88v", commands)
    lines = listing(tokens)
    assert lines == [
        'BARCODE EAN13 "4006381333931" [C]',
        'BARCODE CODE128 "R-1" [L]',
        'QR "https://example.invalid/r/1" [C]',
        "FEED 3",
        "DRAWER pin 5",
        "FEED 6",
        "CUT partial",
    ]


def test_realtime_drawer_pulse_decodes_as_a_drawer_kick() -> None:
    assert decode(drawer_pulse_realtime(2)) == [Token("drawer", 2)]
    assert decode(drawer_pulse_realtime(5)) == [Token("drawer", 5)]


def test_columns_override() -> None:
    assert resolve_profile("epson-tm-t20ii", columns=42).columns == 42


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_rendering_any_text_never_crashes(text: str) -> None:
    layout = layout_profile(PROFILES["epson-tm-t88v"])
    cls = Text if layout.can_print(text) else TextImage
    tokens, _ = render_and_decode("epson-tm-t88v", [cls(text), Cut()])
    assert tokens[-1] == Token("cut", "full")
    assert not any(t.op in ("unknown", "truncated") for t in tokens)
