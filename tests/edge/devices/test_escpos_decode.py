"""The ESC/POS decoder used by golden tests and the file sink: exact tokens, never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.devices.escpos_decode import Token, decode, listing, to_text


def test_decodes_styles_text_and_blocks() -> None:
    data = (
        b"\x1b@"  # init
        b"\x1ba\x01\x1b!\x38HEAD\n"  # centre, bold + double w/h
        b"\x1ba\x00\x1b!\x00\x1bE\x01bold\x1bE\x00\n"
        b"\x1dkI\x05{BR-1"  # CODE128, function B
        b"\x1dk\x02400638133393\x00"  # EAN13, function A
        b"\x1d(k\x07\x001P0R-42\x1d(k\x03\x001Q0"  # QR store + print
        b"\x1dv0\x00\x02\x00\x03\x00"
        + b"\x00" * 6  # raster image 16 x 3
        + b"\x1bd\x02\x1dV\x01\x1bp\x00\x19\xfa\x10\x04\x04"
    )
    assert decode(data) == [
        Token("init"),
        Token("align", "center"),
        Token("mode", 0x38),
        Token("text", "HEAD"),
        Token("lf"),
        Token("align", "left"),
        Token("mode", 0),
        Token("bold", True),
        Token("text", "bold"),
        Token("bold", False),
        Token("lf"),
        Token("barcode", ("CODE128", "R-1")),
        Token("barcode", ("EAN13", "400638133393")),
        Token("qr_store", "R-42"),
        Token("qr_print"),
        Token("image", (16, 3)),
        Token("feed", 2),
        Token("cut", "partial"),
        Token("drawer", 2),
        Token("status_query", 4),
    ]


def test_listing_and_text_picture() -> None:
    data = b"\x1b@\x1ba\x01\x1b!\x30Hi\n\x1ba\x02\x1b!\x00right\n\x1dV\x00"
    tokens = decode(data)
    assert listing(tokens) == ["[C 2x2] Hi", "[R] right", "CUT full"]
    picture = to_text(tokens, columns=10).splitlines()
    assert picture == ["    Hi", "     right", "-- cut ---"]


def test_code_pages_and_kanji_mode() -> None:
    tables = {
        0: bytes(range(128, 256)).decode("cp437"),
        16: bytes(range(128, 256)).decode("cp1252", "replace"),
    }
    data = b"\x1bt\x00K\x94ln \x1bt\x10\x80\n\x1c&" + "東京".encode("gb18030") + b"\x1c."
    assert [t.value for t in decode(data, codepages=tables) if t.op == "text"] == [
        "Köln ",
        "€",
        "東京",
    ]
    sjis = b"\x1c&\x1cC\x01" + "ありがとう".encode("shift_jis") + b"\x1c."
    assert [t.value for t in decode(sjis) if t.op == "text"] == ["ありがとう"]


def test_truncated_and_unknown_commands_are_tokens_not_errors() -> None:
    assert decode(b"\x1dk\x49\x09{Bshort")[-1].op == "truncated"
    assert decode(b"\x1b\xfe")[0] == Token("unknown", "1bfe")
    assert decode(b"\x1b") == [Token("truncated", "1b")]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_decode_without_raising(data: bytes) -> None:
    tokens = decode(data)
    listing(tokens)
    assert isinstance(to_text(tokens), str)
