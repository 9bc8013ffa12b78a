"""The cashier UI driven through its HTTP API, on a real server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid

import httpx

from edge_agent.store.models import OutboxEvent, Sale
from tests.edge.store.helpers import BREAD_EAN, MILK_EAN, ean13
from tests.edge.ui.conftest import CASHIER, MANAGER, Till

APPROVAL = {"manager_id": MANAGER[0], "pin": MANAGER[2]}


def _cart(client: httpx.Client) -> dict:
    return client.get("/api/cart").json()["cart"]


def _event_types(till: Till) -> list[str]:
    return [e.type for e in OutboxEvent.select().order_by(OutboxEvent.seq)]


def test_login_needs_the_right_pin_and_locks_after_repeated_failures(till: Till) -> None:
    client = till.client()
    assert client.get("/api/cart").status_code == 401
    bad = client.post("/api/login", json={"cashier_id": "c1", "pin": "0000"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "auth_failed"
    for _ in range(4):
        client.post("/api/login", json={"cashier_id": "c1", "pin": "0000"})
    locked = client.post("/api/login", json={"cashier_id": "c1", "pin": CASHIER[2]})
    assert locked.status_code == 429
    assert "try again" in locked.json()["message"]
    manager = till.login(MANAGER)
    assert manager.get("/api/me").json()["cashier"]["role"] == "manager"


def test_unknown_and_invalid_barcodes_say_so_and_change_nothing(cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": MILK_EAN})
    before = _cart(cashier)
    unknown = cashier.post("/api/cart/scan", json={"code": ean13("777777777777")})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_barcode"
    assert "not in this store's catalog" in unknown.json()["message"]
    invalid = cashier.post("/api/cart/scan", json={"code": MILK_EAN[:-1] + "0"})
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "invalid_barcode"
    assert "check digit" in invalid.json()["message"]
    assert _cart(cashier) == before


def test_a_whole_sale_scan_qty_discount_cash_and_change(till: Till, cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": MILK_EAN})
    cashier.post("/api/cart/scan", json={"code": MILK_EAN})  # same item: the line goes to 2
    found = cashier.get("/api/products", params={"q": "wine"}).json()["products"]
    cashier.post("/api/cart/items", json={"sku": found[0]["sku"], "qty": 1})
    cart = _cart(cashier)
    assert [(line["sku"], line["qty"]) for line in cart["lines"]] == [
        ("MILK-1L", 2),
        ("WINE-RED", 1),
    ]
    cart = cashier.patch("/api/cart/lines/1", json={"qty": 3}).json()["cart"]
    assert cart["total"]["minor"] == 3 * 129 + 899
    discounted = cashier.post(
        "/api/cart/lines/2/discount", json={"kind": "percent", "value": 500, "reason": "scuffed"}
    )
    assert discounted.status_code == 200
    total = discounted.json()["cart"]["total"]["minor"]
    assert total == 3 * 129 + 899 - 45
    done = cashier.post(
        "/api/cart/complete",
        json={"cart_id": cart["cart_id"], "tenders": [{"kind": "cash", "amount_minor": 2000}]},
    )
    assert done.status_code == 201, done.text
    sale = done.json()["sale"]
    assert sale["change"]["minor"] == 2000 - total
    assert sale["receipt_no"] == "s-001-000001"
    assert done.json()["cart"]["lines"] == []  # a new cart is open
    status = till.client().get("/api/status").json()
    assert status["queued_events"] == 1
    assert status["online"] is False
    # A double tap sends the same cart again: the same sale comes back, nothing is charged.
    again = cashier.post(
        "/api/cart/complete",
        json={"cart_id": cart["cart_id"], "tenders": [{"kind": "cash", "amount_minor": 2000}]},
    )
    assert again.status_code == 200
    assert again.json()["sale"]["receipt_no"] == sale["receipt_no"]
    assert again.json()["sale"]["duplicate"] is True
    assert Sale.select().count() == 1
    assert _event_types(till) == ["sale.completed"]
    reprint = cashier.post(f"/api/sales/{sale['receipt_no']}/reprint")
    assert reprint.status_code == 200
    assert reprint.json()["print_job"] is None  # no printer configured on this till
    assert reprint.json()["sale"]["total"]["minor"] == total


def test_short_tender_is_refused_with_the_amount_missing(cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": BREAD_EAN})
    short = cashier.post(
        "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 200}]}
    )
    assert short.status_code == 422
    assert short.json()["error"] == "insufficient_tender"
    assert "0.49 GBP is still to pay" in short.json()["message"]
    card = cashier.post(
        "/api/cart/complete", json={"tenders": [{"kind": "card", "amount_minor": 249}]}
    )
    assert card.json()["error"] == "tender_reference_required"
    assert len(_cart(cashier)["lines"]) == 1


def test_large_discount_and_price_override_need_a_manager(cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": MILK_EAN})
    body = {"kind": "percent", "value": 5000, "reason": "manager special"}
    refused = cashier.post("/api/cart/discount", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"] == "approval_required"
    as_cashier = cashier.post(
        "/api/cart/discount",
        json={**body, "approval": {"manager_id": CASHIER[0], "pin": CASHIER[2]}},
    )
    assert as_cashier.status_code == 403
    assert "not a manager" in as_cashier.json()["message"]
    ok = cashier.post("/api/cart/discount", json={**body, "approval": APPROVAL})
    assert ok.json()["cart"]["total"]["minor"] == 64  # 50 % of 1.29 rounds to 0.65 off
    price = cashier.post("/api/cart/lines/1/price", json={"unit_price_minor": 100})
    assert price.json()["error"] == "approval_required"
    price = cashier.post(
        "/api/cart/lines/1/price", json={"unit_price_minor": 100, "approval": APPROVAL}
    )
    assert price.json()["cart"]["lines"][0]["price_overridden"] is True


def test_void_records_the_cart_and_starts_a_new_one(till: Till, cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": MILK_EAN})
    voided = cashier.post("/api/cart/void", json={"reason": "customer walked away"})
    assert voided.status_code == 200
    assert voided.json()["cart"]["lines"] == []
    assert _event_types(till) == ["sale.voided"]
    empty = cashier.post("/api/cart/void", json={"reason": "again"})
    assert empty.json()["error"] == "empty_cart"


def test_returns_with_and_without_a_receipt(till: Till, cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": MILK_EAN, "qty": 2})
    sale = cashier.post(
        "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 258}]}
    ).json()["sale"]
    request = {"receipt_no": sale["receipt_no"], "lines": [{"line_no": 1, "qty": 1}]}
    quote = cashier.post("/api/returns/quote", json=request).json()["quote"]
    assert quote["refund_total"]["minor"] == 129
    return_id = str(uuid.uuid4())
    done = cashier.post("/api/returns", json={**request, "return_id": return_id})
    assert done.status_code == 201, done.text
    assert done.json()["return"]["refund_total"]["minor"] == 129
    again = cashier.post("/api/returns", json={**request, "return_id": return_id})
    assert again.status_code == 200
    assert again.json()["return"]["duplicate"] is True
    too_many = cashier.post("/api/returns", json={**request, "lines": [{"line_no": 1, "qty": 2}]})
    assert too_many.json()["error"] == "return_exceeds_sold"
    blind = {"items": [{"code": BREAD_EAN, "qty": 1}], "reason": "no receipt"}
    assert cashier.post("/api/returns", json=blind).json()["error"] == "approval_required"
    ok = cashier.post("/api/returns", json={**blind, "approval": APPROVAL})
    assert ok.status_code == 201
    assert ok.json()["return"]["blind"] is True
    assert ok.json()["return"]["manager_id"] == "m1"
    assert _event_types(till).count("return.completed") == 2


def test_shift_close_gives_the_z_report_and_selling_needs_a_shift(
    till: Till, cashier: httpx.Client
) -> None:
    cashier.post("/api/cart/scan", json={"code": BREAD_EAN})
    cashier.post("/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 500}]})
    closed = cashier.post("/api/shift/close", json={"counted_cash_minor": 10_000 + 249})
    assert closed.status_code == 200
    report = closed.json()["report"]
    assert report["sales_count"] == 1
    assert report["over_short_minor"] == 0
    assert report["tenders"]["cash"]["net_minor"] == 249
    cashier.post("/api/cart/scan", json={"code": BREAD_EAN})
    no_shift = cashier.post(
        "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 500}]}
    )
    assert no_shift.status_code == 409
    assert "open a shift" in no_shift.json()["message"]
    assert cashier.get("/api/reports/z").status_code == 403  # day reports are for managers
    manager = till.login(MANAGER)
    day = manager.get("/api/reports/z").json()["report"]
    assert day["sales_count"] == 1
    assert day["net_total_minor"] == 249
    assert _event_types(till) == ["sale.completed", "shift.closed"]


def test_locked_database_refuses_the_sale_cleanly(till: Till, cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": BREAD_EAN})
    other = sqlite3.connect(till.settings.database, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        refused = cashier.post(
            "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 249}]}
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert refused.status_code == 503
    assert refused.json()["error"] == "database_locked"
    assert "nothing was saved" in refused.json()["message"]
    assert Sale.select().count() == 0
    assert len(_cart(cashier)["lines"]) == 1  # the cart is still there: just try again
    ok = cashier.post(
        "/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 249}]}
    )
    assert ok.status_code == 201
    assert ok.json()["sale"]["receipt_no"] == "s-001-000001"


def test_requests_must_be_json(cashier: httpx.Client) -> None:
    form = cashier.post("/api/cart/scan", data={"code": MILK_EAN})
    assert form.status_code == 400
    assert form.json()["error"] == "bad_request"
    wrong = cashier.post("/api/cart/scan", json={"code": MILK_EAN, "qty": "2"})
    assert wrong.status_code == 400


def test_dead_letters_are_listed_for_managers(till: Till, cashier: httpx.Client) -> None:
    till.store.inbound.dead_letter(
        "acorn/v1/store/s-001/down/catalog", b"{x", "invalid_json", "not JSON"
    )
    assert cashier.get("/api/dead-letters").status_code == 403
    rows = till.login(MANAGER).get("/api/dead-letters").json()["dead_letters"]
    assert [(r["reason"], r["payload_excerpt"]) for r in rows] == [("invalid_json", "{x")]
    status = till.client().get("/api/status").json()
    assert status["sync"]["dead_letters"] == 1


def test_pages_and_assets_are_served_locally(till: Till) -> None:
    client = till.client()
    assert client.get("/").status_code == 302
    login_page = client.get("/login")
    assert 'id="pin"' in login_page.text
    client.post("/api/login", json={"cashier_id": "c1", "pin": CASHIER[2]})
    page = client.get("/")
    assert page.status_code == 200
    assert '<input id="scan" class="scan" placeholder="Scan' in page.text
    assert "autofocus" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/app.css"):
        response = client.get(asset)
        assert response.status_code == 200
        assert re.search(r"https?://", response.text) is None  # nothing from the internet
    assert re.search(r"https?://", page.text) is None


def test_status_without_sync_reports_queued_events(till: Till, cashier: httpx.Client) -> None:
    cashier.post("/api/cart/scan", json={"code": MILK_EAN})
    cashier.post("/api/cart/complete", json={"tenders": [{"kind": "cash", "amount_minor": 129}]})
    status = till.client().get("/api/status").json()
    assert status["sync"]["state"] == "disabled"
    assert status["queued_events"] == 1
    assert status["oldest_unsynced_age_s"] >= 0
    assert status["shift"]["opening_float"]["minor"] == 10_000
    assert json.dumps(status)  # plain JSON all the way down
