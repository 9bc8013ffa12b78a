"""The Online orders screen in a real Chromium: a new order announces itself, then the steps.

No sound check (a headless browser has no speaker); the banner, the title and the
steps are what staff see. Every request stays on the till (no CDN).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.edge.orders.test_online_orders import deliver, routed
from tests.edge.store.helpers import BREAD_EAN, MILK_EAN
from tests.edge.ui.conftest import CASHIER, Till

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_a_new_order_is_announced_and_picked_with_scans(till: Till, browser: object) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(till.url) else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(till.url + "/login")
    page.fill("#cashier-id", CASHIER[0])
    for digit in CASHIER[2]:
        page.click(f".keypad .key:text-is('{digit}')")
    page.click("button[type=submit]")
    page.wait_for_url(till.url + "/")
    page.goto(till.url + "/orders")
    expect(page.locator("#empty")).to_be_visible()
    assert page.locator("#alert").is_hidden()

    deliver(till.store, routed(till.store.store_id, "B-1", [("MILK-1L", 1)]))
    expect(page.locator("#alert")).to_contain_text("New online order B-1", timeout=10_000)
    expect(page.locator("tr[data-order='B-1'] td.status")).to_have_text("routed")
    assert page.title().startswith("(1) New online order")

    page.click("tr[data-order='B-1'] a")
    page.wait_for_url(till.url + "/orders/B-1")
    page.click("#accept")
    expect(page.locator("#status")).to_have_text("accepted")
    page.fill("#scan", BREAD_EAN)
    page.press("#scan", "Enter")
    expect(page.locator("#message")).to_contain_text("wrong item: BREAD is not on order B-1")
    page.fill("#scan", MILK_EAN)
    page.press("#scan", "Enter")
    expect(page.locator("#message")).to_contain_text("All picked")
    page.click("#pack")
    expect(page.locator("#status")).to_have_text("packed")
    page.fill("#carrier", "DHL")
    page.fill("#tracking", "JJD000390007")
    page.click("#handover-form button[type=submit]")
    expect(page.locator("#done-text")).to_have_text("Handed over to DHL (JJD000390007).")
    assert outside == []
    assert errors == []
