"""Golden receipts: render through python-escpos, decode the bytes, compare what the printer does.

The golden files hold the decoded command stream (one line per printed line
with its alignment and style, and one per barcode, QR code, feed and cut), so a
change in layout or rendering shows up as a readable diff. Regenerate after an
intended change with ``ACORN_UPDATE_GOLDEN=1 pytest tests/edge/devices``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_agent.devices.escpos_decode import Token, codepage_tables, decode, listing
from edge_agent.devices.profiles import PROFILES, layout_profile
from edge_agent.devices.render import EscposRenderer
from edge_agent.domain.receipt import layout_pick_list, layout_receipt, layout_z_report
from tests.edge.devices.samples import german_sale, pick_list, z_report

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ACORN_UPDATE_GOLDEN") == "1"


def decoded(profile_key: str, commands: list) -> tuple[list[Token], list[str]]:
    profile = PROFILES[profile_key]
    data = EscposRenderer(profile, font_paths=()).render_bytes(commands)
    tokens = decode(data, codepages=codepage_tables(profile.escpos_profile))
    return tokens, listing(tokens)


def check_golden(name: str, lines: list[str]) -> None:
    path = GOLDEN / name
    text = "\n".join(lines) + "\n"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with ACORN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("profile_key", "columns"), [("epson-tm-t88v", 42), ("epson-tm-t20ii", 48)]
)
def test_german_receipt_golden(profile_key: str, columns: int) -> None:
    commands = layout_receipt(german_sale(), layout_profile(PROFILES[profile_key]))
    tokens, lines = decoded(profile_key, commands)
    check_golden(f"receipt_de_{profile_key}.txt", lines)

    # And the essentials, spelled out, so a wrong golden file cannot hide them.
    assert tokens[0] == Token("init")
    assert lines[0] == "[C B 2x2] Bäckerei Müller"
    assert f"[L] {'-' * columns}" in lines
    assert any(line.startswith("[L B 1x2] SUMME") and line.endswith("EUR 16,72") for line in lines)
    assert any(line.startswith("[L] Crème brûlée") for line in lines)
    assert any(line.startswith("[L] Weißwein") for line in lines)
    text_lines = [line for line in lines if line.startswith("[")]
    assert all(len(line.split("] ", 1)[1]) <= columns for line in text_lines)
    assert 'BARCODE CODE128 "R-042-3-000123" [C]' in lines
    assert lines[-1] == "CUT full"
    assert not any(t.op in ("image", "unknown", "truncated", "drawer") for t in tokens)


def test_pick_list_golden() -> None:
    commands = layout_pick_list(pick_list(), layout_profile(PROFILES["epson-tm-t88v"]))
    tokens, lines = decoded("epson-tm-t88v", commands)
    check_golden("picklist_epson-tm-t88v.txt", lines)
    assert 'BARCODE CODE128 "302-1234567-7654321" [C]' in lines
    assert any(
        line.startswith("[L B] A-11-04") and line.endswith("Weißwein Riesling trocken")
        for line in lines
    )


def test_z_report_golden() -> None:
    commands = layout_z_report(z_report(), layout_profile(PROFILES["epson-tm-t20ii"]))
    _, lines = decoded("epson-tm-t20ii", commands)
    check_golden("zreport_epson-tm-t20ii.txt", lines)
    assert "[C B 2x1] Z-BON #118" in lines
