"""Receipt render time: pure layout, ESC/POS rendering through python-escpos, and both together.

Run: .venv/bin/python bench/receipt_render.py [--runs 300] [--quick]
Prints median and p95 per stage for a 20-line German receipt on a 42-column and a
48-column printer, and for a Japanese receipt on a Latin-only printer (text as image).
The ceiling, in the same run: python-escpos alone writing the same number of plain
text lines to a Dummy printer (no layout, no code pages, no logo).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from _common import add_quick, apply_defaults, figure, load_line
from escpos.printer import Dummy

from edge_agent.devices.profiles import PROFILES, layout_profile
from edge_agent.devices.render import EscposRenderer
from edge_agent.domain.receipt import (
    LayoutProfile,
    ReceiptDoc,
    ReceiptLine,
    StoreHeader,
    TaxSummaryRow,
    TenderKind,
    TenderRow,
    layout_receipt,
)
from protocol.money import Money


def receipt(language: str, names: list[str], currency: str) -> ReceiptDoc:
    price = Money.parse("1.99", currency) if currency != "JPY" else Money(199, currency)
    lines = tuple(
        ReceiptLine(names[i % len(names)], Decimal(1 + i % 3), price, price * (1 + i % 3), "A")
        for i in range(20)
    )
    total = sum((line.amount for line in lines), Money.zero(currency))
    store = StoreHeader(
        "s-042",
        {"de": "Bäckerei Müller", "ja": "東京店"}[language],
        ZoneInfo("Europe/Berlin" if language == "de" else "Asia/Tokyo"),
        ("Hauptstraße 1",) if language == "de" else ("東京都千代田区1-1",),
        footer_lines=("Danke!",),
        language=language,
    )
    return ReceiptDoc(
        "R-042-3-000123",
        store,
        datetime(2026, 11, 27, 10, tzinfo=UTC),
        lines,
        total,
        total,
        (TaxSummaryRow("A", 700, total, Money.zero(currency), total),),
        (TenderRow(TenderKind.CASH, "Bar", total),),
        Money.zero(currency),
        till_id="3",
        cashier="Anna",
    )


def layout_and_render(renderer: EscposRenderer, doc: ReceiptDoc, lp: LayoutProfile) -> bytes:
    """Both stages, as the print queue runs them."""
    return renderer.render_bytes(layout_receipt(doc, lp))


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm-up (first render in a process loads fonts and code pages)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    logging.getLogger("edge_agent.devices").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--runs", type=int, help="renders per case (300)")
    args = apply_defaults(parser.parse_args(), {"runs": 300}, {"runs": 20})
    de = receipt("de", ["Milch 1L", "Brötchen", "Crème brûlée", "Weißwein"], "EUR")
    ja = receipt("ja", ["抹茶ラテ", "おにぎり", "緑茶"], "JPY")
    cases = [
        ("de, 20 lines", de, "epson-tm-t88v"),
        ("de, 20 lines", de, "epson-tm-t20ii"),
        ("ja, 20 lines (text as image)", ja, "epson-tm-t88v"),
        ("ja, 20 lines (Kanji font)", ja, "epson-tm-t88v-j"),
    ]
    notes: list[str] = []
    print(f"receipt render, {args.runs} runs each (ms: median / p95)")
    head = f"{'receipt':32} {'profile':18} {'layout':>15} {'escpos render':>15} {'both':>15}"
    print(f"{head} {'bytes':>7}")
    medians: dict[str, float] = {}
    for label, doc, key in cases:
        profile = PROFILES[key]
        lp = layout_profile(profile)
        renderer = EscposRenderer(profile)
        commands = layout_receipt(doc, lp)
        result = renderer.render(commands)
        size = len(result.data)
        if result.missing_glyphs:
            notes.append(
                f"{key}: {len(result.missing_glyphs)} characters had no font and printed as '?' "
                "(install fonts-noto-cjk for real glyphs; the drawing cost is similar)"
            )
        lay = timed(partial(layout_receipt, doc, lp), args.runs)
        ren = timed(partial(renderer.render_bytes, commands), args.runs)
        both = timed(partial(layout_and_render, renderer, doc, lp), args.runs)
        medians.setdefault(f"{label} {key}", both[0])
        print(
            f"{label:32} {key:18} {lay[0]:6.3f} / {lay[1]:6.3f} {ren[0]:6.3f} / {ren[1]:6.3f} "
            f"{both[0]:6.3f} / {both[1]:6.3f} {size:7d}"
        )
    for note in notes:
        print("note:", note)
    text = [f"{'Milch 1L':<30}{'1.99':>12}" for _ in range(30)]

    def plain() -> bytes:
        printer = Dummy()
        for line in text:
            printer.textln(line)
        printer.cut()
        return bytes(printer.output)

    floor = timed(plain, args.runs)
    print(f"ceiling: python-escpos Dummy, {len(text)} plain lines + cut: {floor[0]:.3f} ms median")
    print(load_line("at the end"))
    figure(
        "receipt layout + ESC/POS render, de 20 lines, epson-tm-t88v, median",
        medians["de, 20 lines epson-tm-t88v"],
        "ms",
        ceiling=f"python-escpos Dummy, {len(text)} plain text lines, median",
        ceiling_value=floor[0],
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
