"""The sell screen in headless Chromium: PIN keypad, keyboard-wedge scans, a cash sale.

A keyboard-wedge scanner types digits and Enter wherever the focus is, so the
test types that way too, after clicking elsewhere on the page: the scan field
must have taken the focus back.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.edge.store.helpers import BREAD_EAN, MILK_EAN, ean13
from tests.edge.ui.conftest import CASHIER, Till

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_touch_login_and_wedge_scans_ring_a_cash_sale(till: Till, browser: object) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    requests_outside: list[str] = []
    page.on(
        "request",
        lambda r: requests_outside.append(r.url) if not r.url.startswith(till.url) else None,
    )
    page.goto(till.url + "/")
    page.fill("#cashier-id", CASHIER[0])
    for digit in CASHIER[2]:
        page.click(f".keypad .key:text-is('{digit}')")
    page.click("button[type=submit]")
    page.wait_for_url(till.url + "/")

    # The shift: open it through the dialog.
    page.click("[data-action=shift]")
    page.fill("#dialog-fields input[name=float]", "50.00")
    page.click("#dialog-ok")
    expect(page.locator("#shift")).to_have_text("Shift open")

    page.click(".totals")  # focus wanders off...
    page.keyboard.type(MILK_EAN + "\n")  # ...and the scanner types anyway
    expect(page.locator("#lines tr")).to_have_count(1)
    page.keyboard.type(BREAD_EAN + "\n")
    expect(page.locator("#lines tr")).to_have_count(2)
    page.keyboard.type(ean13("777777777777") + "\n")
    expect(page.locator("#message")).to_contain_text("Unknown barcode")
    assert page.locator("#lines tr").count() == 2
    assert page.text_content("#total") == "3.78 GBP"

    page.click("[data-action=cash-exact]")
    expect(page.locator("#last-sale")).to_contain_text("Change due")
    assert "Change due: 0.00" in page.text_content("#last-sale")
    assert page.locator("#lines tr").count() == 0
    expect(page.locator("#scan")).to_be_focused()
    # Sync is off on this till: the sale waits in the outbox, and the bar says so.
    expect(page.locator("#link")).to_contain_text("1 queued, oldest")
    assert requests_outside == []  # everything came from the till itself
    page.close()
