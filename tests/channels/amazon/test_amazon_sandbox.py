"""The SP-API sandbox over real HTTP: behaviour, traps, and answers valid against the models."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from hub.channels.amazon.sandbox import SandboxServer, SandboxState, Settings
from hub.channels.amazon.sandbox import spec as model_spec
from hub.channels.amazon.usage_plans import USAGE_PLANS
from tests.channels.amazon.conftest import (
    Scenario,
    SpApiHttp,
    ago,
    validate_json_schema,
    validate_response,
)
from tests.fixtures.util import wait_until

US = "ATVPDKIKX0DER"
DE = "A1PA6795UKMFR9"


def test_usage_plans_table_matches_the_models() -> None:
    plans = model_spec.usage_plans()
    assert {k: plans[k] for k in USAGE_PLANS} == USAGE_PLANS


# --- LWA and access tokens -----------------------------------------------------------------


def test_lwa_grants_expiring_tokens_and_refuses_bad_clients(
    sandbox: SandboxServer, seller: dict[str, Any]
) -> None:
    http = httpx.Client(base_url=sandbox.url)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": seller["refresh_token"],
        "client_id": seller["client_id"],
        "client_secret": seller["client_secret"],
    }
    ok = http.post("/auth/o2/token", data=form).json()
    assert ok["token_type"] == "bearer"
    assert ok["expires_in"] == 3600
    assert ok["access_token"].startswith("Atza|")
    bad_client = http.post("/auth/o2/token", data={**form, "client_secret": "nope"})
    assert (bad_client.status_code, bad_client.json()["error"]) == (401, "invalid_client")
    unknown = http.post("/auth/o2/token", data={**form, "refresh_token": "Atzr|unknown"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


def test_access_token_required_expired_and_revoked(scenario: Scenario, spapi: SpApiHttp) -> None:
    params = {"MarketplaceIds": US, "CreatedAfter": ago(hours=1)}
    missing = spapi.http.get("/orders/v0/orders", params=params)
    assert missing.status_code == 403
    assert (
        validate_response("ordersV0", "getOrders", missing)["errors"][0]["code"] == "Unauthorized"
    )
    assert "x-amzn-RateLimit-Limit" not in missing.headers

    assert spapi.request("GET", "/orders/v0/orders", params=params).status_code == 200
    scenario.call("POST", "/tokens/expire", {"seller_id": spapi.seller["seller_id"]})
    expired = spapi.request("GET", "/orders/v0/orders", params=params)
    assert expired.status_code == 403
    assert expired.json()["errors"][0]["details"] == "The access token you provided has expired."

    spapi.token = spapi.fresh_token()
    scenario.call("POST", f"/sellers/{spapi.seller['seller_id']}/revoke")
    assert spapi.request("GET", "/orders/v0/orders", params=params).status_code == 403
    again = spapi.http.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": spapi.seller["refresh_token"],
            "client_id": spapi.seller["client_id"],
            "client_secret": spapi.seller["client_secret"],
        },
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


# --- Orders v0 -------------------------------------------------------------------------------


def test_get_orders_pages_with_a_next_token_that_needs_encoding(
    scenario: Scenario, spapi: SpApiHttp
) -> None:
    sid = spapi.seller["seller_id"]
    created = scenario.add_orders(sid, count=7, purchase_date=ago(minutes=30))
    seen: list[str] = []
    params: dict[str, Any] = {
        "MarketplaceIds": US,
        "LastUpdatedAfter": ago(hours=1),
        "MaxResultsPerPage": 3,
    }
    tokens: list[str] = []
    for _ in range(5):
        response = spapi.request("GET", "/orders/v0/orders", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["x-amzn-RateLimit-Limit"] == "1.67"  # 0.0167/s x100 (fast mode)
        payload = validate_response("ordersV0", "getOrders", response)["payload"]
        assert "LastUpdatedBefore" in payload
        seen += [o["AmazonOrderId"] for o in payload["Orders"]]
        if not payload.get("NextToken"):
            break
        tokens.append(payload["NextToken"])
        params = {"MarketplaceIds": US, "NextToken": payload["NextToken"]}
    assert sorted(seen) == sorted(o["AmazonOrderId"] for o in created)
    assert len(tokens) == 2
    assert all(set(t) & set("+/=") for t in tokens)
    # a token sent twice URL-encoded is the classic "could not decode" failure
    double = spapi.request(
        "GET",
        f"/orders/v0/orders?MarketplaceIds={US}&NextToken={quote(quote(tokens[0], safe=''))}",
    )
    assert double.status_code == 400
    assert "decode" in validate_response("ordersV0", "getOrders", double)["errors"][0]["message"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"LastUpdatedAfter": {"hours": 1}, "LastUpdatedBefore": {"seconds": 30}}, "two minutes"),
        ({"CreatedAfter": {"hours": 1}, "LastUpdatedAfter": {"hours": 1}}, "cannot be set"),
        ({}, "required"),
        ({"LastUpdatedAfter": "2026-11-27 00:00:00+00:00"}, "ISO8601"),
        ({"LastUpdatedAfter": "2026-11-27T00:00:00+0000"}, "ISO8601"),
        ({"LastUpdatedAfter": {"hours": 1}, "MaxResultsPerPage": "101"}, "between 1 and 100"),
        ({"LastUpdatedAfter": {"hours": 1}, "OrderStatuses": "Lost"}, "OrderStatuses"),
    ],
)
def test_get_orders_refuses_what_amazon_refuses(
    spapi: SpApiHttp, params: dict[str, Any], fragment: str
) -> None:
    # Relative times are resolved now, not at collection: the suite may collect minutes earlier.
    query = {k: ago(**v) if isinstance(v, dict) else v for k, v in params.items()}
    response = spapi.request("GET", "/orders/v0/orders", params={"MarketplaceIds": US, **query})
    assert response.status_code == 400
    body = validate_response("ordersV0", "getOrders", response)
    assert body["errors"][0]["code"] == "InvalidInput"
    assert fragment in body["errors"][0]["message"]
    assert response.headers["x-amzn-RateLimit-Limit"]


def test_orders_are_filtered_by_window_status_channel_and_visibility(
    scenario: Scenario, spapi: SpApiHttp
) -> None:
    sid = spapi.seller["seller_id"]
    old = scenario.add_orders(sid, purchase_date=ago(hours=5))[0]
    afn = scenario.add_orders(
        sid, purchase_date=ago(minutes=20), fulfillment_channel="AFN", status="Shipped"
    )[0]
    mfn = scenario.add_orders(sid, purchase_date=ago(minutes=20))[0]
    later = scenario.add_orders(sid, purchase_date=ago(minutes=20), visible_after_s=3600)[0]
    base = {"MarketplaceIds": US, "LastUpdatedAfter": ago(hours=1)}

    def ids(**extra: str) -> set[str]:
        response = spapi.request("GET", "/orders/v0/orders", params={**base, **extra})
        return {
            o["AmazonOrderId"]
            for o in validate_response("ordersV0", "getOrders", response)["payload"]["Orders"]
        }

    assert ids() == {afn["AmazonOrderId"], mfn["AmazonOrderId"]}
    assert ids(FulfillmentChannels="MFN") == {mfn["AmazonOrderId"]}
    assert ids(OrderStatuses="Shipped,Canceled") == {afn["AmazonOrderId"]}
    assert old["AmazonOrderId"] not in ids()
    assert later["AmazonOrderId"] not in ids()


def test_get_order_and_items_hide_prices_while_pending(
    scenario: Scenario, spapi: SpApiHttp
) -> None:
    sid = spapi.seller["seller_id"]
    order = scenario.add_orders(
        sid,
        status="Pending",
        items=[{"seller_sku": "P-1", "quantity": 2, "unit_price": "12.50", "item_tax": "2.00"}],
    )[0]
    oid = order["AmazonOrderId"]
    pending = validate_response(
        "ordersV0", "getOrder", spapi.request("GET", f"/orders/v0/orders/{oid}")
    )
    assert "OrderTotal" not in pending["payload"]
    items = validate_response(
        "ordersV0", "getOrderItems", spapi.request("GET", f"/orders/v0/orders/{oid}/orderItems")
    )
    assert "ItemPrice" not in items["payload"]["OrderItems"][0]
    scenario.call("POST", f"/orders/{oid}/status", {"status": "Unshipped"})
    paid = validate_response(
        "ordersV0", "getOrder", spapi.request("GET", f"/orders/v0/orders/{oid}")
    )
    assert paid["payload"]["OrderTotal"] == {"CurrencyCode": "USD", "Amount": "27.00"}
    line = validate_response(
        "ordersV0", "getOrderItems", spapi.request("GET", f"/orders/v0/orders/{oid}/orderItems")
    )["payload"]["OrderItems"][0]
    assert line["ItemPrice"] == {"CurrencyCode": "USD", "Amount": "25.00"}  # the line, not the unit
    missing = spapi.request("GET", "/orders/v0/orders/111-0000000-0000000")
    assert missing.status_code == 404
    validate_response("ordersV0", "getOrder", missing)


def test_confirm_shipment_moves_the_order_and_is_read_back(
    scenario: Scenario, spapi: SpApiHttp
) -> None:
    sid = spapi.seller["seller_id"]
    order = scenario.add_orders(
        sid, items=[{"seller_sku": "A", "quantity": 2}, {"seller_sku": "B", "quantity": 1}]
    )[0]
    oid = order["AmazonOrderId"]
    items = spapi.request("GET", f"/orders/v0/orders/{oid}/orderItems").json()["payload"][
        "OrderItems"
    ]
    first, second = items[0]["OrderItemId"], items[1]["OrderItemId"]

    def confirm(
        ref: str, lines: list[tuple[str, int]], ship_date: str = "2026-11-27T12:00:00Z"
    ) -> httpx.Response:
        body = {
            "marketplaceId": US,
            "packageDetail": {
                "packageReferenceId": ref,
                "carrierCode": "UPS",
                "trackingNumber": f"1Z{ref}",
                "shipDate": ship_date,
                "orderItems": [{"orderItemId": i, "quantity": q} for i, q in lines],
            },
        }
        return spapi.request("POST", f"/orders/v0/orders/{oid}/shipmentConfirmation", json=body)

    bad_date = confirm("1", [(first, 2)], ship_date="02/21/2022")
    assert bad_date.status_code == 400
    validate_response("ordersV0", "confirmShipment", bad_date)
    assert validate_response("ordersV0", "confirmShipment", confirm("1", [(first, 2)])) is None
    status = spapi.request("GET", f"/orders/v0/orders/{oid}").json()["payload"]["OrderStatus"]
    assert status == "PartiallyShipped"
    assert confirm("1", [(first, 2)]).status_code == 204  # the same package again: accepted
    assert confirm("2", [(second, 5)]).status_code == 400  # more than ordered
    assert confirm("2", [(second, 1)]).status_code == 204
    assert (
        spapi.request("GET", f"/orders/v0/orders/{oid}").json()["payload"]["OrderStatus"]
        == "Shipped"
    )
    shipments = scenario.call("GET", f"/sellers/{sid}/shipments")["shipments"]
    assert [(s["package_reference_id"], s["tracking_number"]) for s in shipments] == [
        ("1", "1Z1"),
        ("2", "1Z2"),
    ]


def test_static_sandbox_cases_are_served_verbatim(spapi: SpApiHttp) -> None:
    response = spapi.request(
        "GET", "/orders/v0/orders", params={"MarketplaceIds": US, "CreatedAfter": "TEST_CASE_200"}
    )
    payload = response.json()["payload"]
    assert payload["Orders"][0]["AmazonOrderId"] == "902-1845936-5435065"
    assert (
        spapi.request(
            "GET", "/orders/v0/orders", params={"CreatedAfter": "TEST_CASE_400"}
        ).status_code
        == 400
    )


# --- Orders 2026-01-01 -------------------------------------------------------------------------


def test_search_orders_2026_shape_and_token_rules(scenario: Scenario, spapi: SpApiHttp) -> None:
    sid = spapi.seller["seller_id"]
    made = scenario.add_orders(
        sid,
        count=3,
        purchase_date=ago(minutes=15),
        seller_order_id="S-1",
        items=[{"seller_sku": "Z", "quantity": 1, "unit_price": "9.99"}],
    )
    params = {
        "lastUpdatedAfter": ago(hours=1),
        "marketplaceIds": US,
        "maxResultsPerPage": 2,
        "includedData": "FULFILLMENT,PROCEEDS,RECIPIENT,PACKAGES",
    }
    first = spapi.request("GET", "/orders/2026-01-01/orders", params=params)
    body = validate_response("orders2026", "searchOrders", first)
    assert body["orders"][0]["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert body["orders"][0]["proceeds"]["grandTotal"] == {"currencyCode": "USD", "amount": "9.99"}
    token = body["pagination"]["nextToken"]
    changed = spapi.request(
        "GET",
        "/orders/2026-01-01/orders",
        params={**params, "fulfilledBy": "AMAZON", "paginationToken": token},
    )
    assert changed.status_code == 400
    second = spapi.request(
        "GET",
        "/orders/2026-01-01/orders",
        params={**params, "includedData": "FULFILLMENT", "paginationToken": token},
    )
    rest = validate_response("orders2026", "searchOrders", second)
    assert "pagination" not in rest
    got = [o["orderId"] for o in body["orders"] + rest["orders"]]
    assert sorted(got) == sorted(o["AmazonOrderId"] for o in made)
    one = spapi.request(
        "GET", f"/orders/2026-01-01/orders/{got[0]}", params={"includedData": "FULFILLMENT"}
    )
    assert validate_response("orders2026", "getOrder", one)["order"]["orderId"] == got[0]


# --- Listings ----------------------------------------------------------------------------------


def test_patch_is_accepted_then_visible_later_and_invalid_on_bad_input(
    scenario: Scenario, spapi: SpApiHttp
) -> None:
    sid = spapi.seller["seller_id"]
    scenario.add_listing(sid, "MUG/RED 1", 3)
    scenario.add_listing(sid, "BLOCKED", 3, reject_reason="The listing is suppressed.")
    path = f"/listings/2021-08-01/items/{sid}/{quote('MUG/RED 1', safe='')}"
    params = {
        "marketplaceIds": US,
        "includedData": "summaries,attributes,offers,fulfillmentAvailability,issues",
    }

    def patch(quantity: Any, sku_path: str = path, **extra: str) -> httpx.Response:
        body = {
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
                }
            ],
        }
        return spapi.request("PATCH", sku_path, params={"marketplaceIds": US, **extra}, json=body)

    preview = validate_response(
        "listings", "patchListingsItem", patch(9, mode="VALIDATION_PREVIEW")
    )
    assert preview["status"] == "VALID"
    accepted = validate_response("listings", "patchListingsItem", patch(9))
    assert accepted["status"] == "ACCEPTED"
    item = validate_response(
        "listings", "getListingsItem", spapi.request("GET", path, params=params)
    )
    assert item["attributes"]["fulfillment_availability"][0]["quantity"] == 9  # what was written
    wait_until(
        lambda: (
            spapi.request("GET", path, params=params).json()["fulfillmentAvailability"][0][
                "quantity"
            ]
            == 9
        ),
        timeout=5,
        message="the accepted quantity becomes visible",
    )
    negative = validate_response("listings", "patchListingsItem", patch(-1))
    assert negative["status"] == "INVALID"
    assert negative["issues"][0]["severity"] == "ERROR"
    blocked = patch(1, sku_path=f"/listings/2021-08-01/items/{sid}/BLOCKED")
    assert validate_response("listings", "patchListingsItem", blocked)["status"] == "INVALID"
    unknown = spapi.request("GET", f"/listings/2021-08-01/items/{sid}/NOPE", params=params)
    assert unknown.status_code == 404
    validate_response("listings", "getListingsItem", unknown)
    other_seller = spapi.request(
        "GET", f"/listings/2021-08-01/items/AOTHER/{quote('MUG/RED 1', safe='')}", params=params
    )
    assert other_seller.status_code == 403
    pushes = scenario.call("GET", f"/sellers/{sid}/pushes")
    assert pushes["latest"] == {"MUG/RED 1": {US: 9}}


def test_orders_take_units_off_the_listing(scenario: Scenario, spapi: SpApiHttp) -> None:
    sid = spapi.seller["seller_id"]
    scenario.add_listing(sid, "CUP", 5)
    scenario.add_orders(sid, items=[{"seller_sku": "CUP", "quantity": 2}])
    assert scenario.listings(sid)["CUP"]["offers"][US]["listed_quantity"] == 3


# --- Feeds -------------------------------------------------------------------------------------


def test_json_listings_feed_round_trip_with_processing_report(
    scenario: Scenario, spapi: SpApiHttp
) -> None:
    sid = spapi.seller["seller_id"]
    for sku in ("F-1", "F-2"):
        scenario.add_listing(sid, sku, 1)
    feed_doc = {
        "header": {"sellerId": sid, "version": "2.0"},
        "messages": [
            {
                "messageId": i + 1,
                "sku": sku,
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": qty}],
                    }
                ],
            }
            for i, (sku, qty) in enumerate([("F-1", 0), ("F-2", 7), ("F-404", 3)])
        ],
    }
    validate_json_schema("listings-feed-schema-v2.json", feed_doc)
    content_type = "application/json; charset=UTF-8"
    created = spapi.request(
        "POST", "/feeds/2021-06-30/documents", json={"contentType": content_type}
    )
    assert created.status_code == 201
    doc = validate_response("feeds", "createFeedDocument", created)
    wrong_type = httpx.put(doc["url"], content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 403
    assert (
        httpx.put(
            doc["url"],
            content=json.dumps(feed_doc).encode(),
            headers={"Content-Type": content_type},
        ).status_code
        == 200
    )
    response = spapi.request(
        "POST",
        "/feeds/2021-06-30/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [US],
            "inputFeedDocumentId": doc["feedDocumentId"],
        },
    )
    assert response.status_code == 202
    feed_id = validate_response("feeds", "createFeed", response)["feedId"]
    feed = wait_until(
        lambda: (
            (f := spapi.request("GET", f"/feeds/2021-06-30/feeds/{feed_id}").json())[
                "processingStatus"
            ]
            == "DONE"
            and f
        ),
        timeout=5,
        message="feed DONE",
    )
    validate_response(
        "feeds", "getFeed", spapi.request("GET", f"/feeds/2021-06-30/feeds/{feed_id}")
    )
    result = validate_response(
        "feeds",
        "getFeedDocument",
        spapi.request("GET", f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}"),
    )
    assert result["compressionAlgorithm"] == "GZIP"
    report = json.loads(gzip.decompress(httpx.get(result["url"]).content))
    validate_json_schema("listings-feed-processing-report-schema-v2.json", report)
    assert report["summary"]["messagesAccepted"] == 2
    assert report["summary"]["messagesInvalid"] == 1
    assert [(i["messageId"], i["sku"]) for i in report["issues"]] == [(3, "F-404")]
    listings = wait_until(
        lambda: (
            (rows := scenario.listings(sid))["F-2"]["offers"][US]["listed_quantity"] == 7 and rows
        ),
        timeout=5,
        message="feed quantities visible",
    )
    assert listings["F-1"]["offers"][US]["listed_quantity"] == 0


# --- Reports -----------------------------------------------------------------------------------


def test_settlement_report_listed_regardless_of_marketplace_filter(
    scenario: Scenario, sandbox: SandboxServer
) -> None:
    eu = scenario.add_seller(["DE", "FR"])
    api = SpApiHttp(sandbox.url, eu)
    order = scenario.add_orders(
        eu["seller_id"],
        marketplace="DE",
        purchase_date=ago(days=2),
        items=[{"seller_sku": "S", "quantity": 2, "unit_price": "10.00"}],
    )[0]
    item = api.request("GET", f"/eu/orders/v0/orders/{order['AmazonOrderId']}/orderItems").json()[
        "payload"
    ]["OrderItems"][0]
    api.request(
        "POST",
        f"/eu/orders/v0/orders/{order['AmazonOrderId']}/shipmentConfirmation",
        json={
            "marketplaceId": DE,
            "packageDetail": {
                "packageReferenceId": "1",
                "carrierCode": "DHL",
                "trackingNumber": "T1",
                "shipDate": ago(hours=1),
                "orderItems": [{"orderItemId": item["OrderItemId"], "quantity": 2}],
            },
        },
    )
    scenario.call("POST", f"/sellers/{eu['seller_id']}/settlements", {"marketplace": "DE"})
    listed = api.request(
        "GET",
        "/eu/reports/2021-06-30/reports",
        params={
            "reportTypes": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
            "marketplaceIds": "A13V1IB3VIYZZH",
        },
    )
    reports = validate_response("reports", "getReports", listed)["reports"]
    assert len(reports) == 1
    doc = validate_response(
        "reports",
        "getReportDocument",
        api.request("GET", f"/eu/reports/2021-06-30/documents/{reports[0]['reportDocumentId']}"),
    )
    raw = httpx.get(doc["url"])
    assert "charset=cp1252" in raw.headers["content-type"].lower()
    rows = [line.split("\t") for line in raw.content.decode("cp1252").splitlines()]
    assert len(rows[0]) == 24
    assert rows[0][0] == "settlement-id"
    summary, lines = rows[1], rows[2:]
    assert summary[5] == "EUR"
    amounts = [float(r[14].replace(",", ".")) for r in lines]
    assert round(sum(amounts), 2) == float(summary[4].replace(",", "."))
    assert ("ItemPrice", "Principal", "20,00") in [(r[12], r[13], r[14]) for r in lines]
    refused = api.request(
        "POST",
        "/eu/reports/2021-06-30/reports",
        json={"reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "marketplaceIds": [DE]},
    )
    assert refused.status_code == 400


# --- rate limits, faults, regions, snapshots ---------------------------------------------------


def test_usage_plan_burst_then_quota_exceeded(scenario: Scenario, spapi: SpApiHttp) -> None:
    params = {"MarketplaceIds": US, "CreatedAfter": ago(hours=1)}
    statuses = [spapi.request("GET", "/orders/v0/orders", params=params) for _ in range(24)]
    codes = [r.status_code for r in statuses]
    assert codes[:20] == [200] * 20  # the burst of getOrders
    throttled = next(r for r in statuses if r.status_code == 429)
    assert (
        validate_response("ordersV0", "getOrders", throttled)["errors"][0]["code"]
        == "QuotaExceeded"
    )
    assert "x-amzn-RateLimit-Limit" not in throttled.headers
    assert scenario.stats(spapi.seller["seller_id"])["ordersV0/getOrders"]["throttled"] >= 1


def test_injected_faults(scenario: Scenario, spapi: SpApiHttp) -> None:
    sid = spapi.seller["seller_id"]
    params = {"MarketplaceIds": US, "CreatedAfter": ago(hours=1)}
    scenario.fault(kind="error", operation="ordersV0/getOrders", seller_id=sid, count=1, status=503)
    failed = spapi.request("GET", "/orders/v0/orders", params=params)
    assert failed.status_code == 503
    assert (
        validate_response("ordersV0", "getOrders", failed)["errors"][0]["code"] == "InternalFailure"
    )
    scenario.fault(kind="throttle", operation="ordersV0", seller_id=sid, count=1, empty_body=True)
    empty = spapi.request("GET", "/orders/v0/orders", params=params)
    assert (empty.status_code, empty.content) == (429, b"")
    scenario.fault(kind="slow", seller_id=sid, count=1, delay_s=0.2)
    assert spapi.request("GET", "/orders/v0/orders", params=params).status_code == 200
    assert spapi.request("GET", "/orders/v0/orders", params=params).status_code == 200


def test_region_endpoints_serve_their_marketplaces_only(spapi: SpApiHttp) -> None:
    params = {"MarketplaceIds": US, "CreatedAfter": ago(hours=1)}
    assert spapi.request("GET", "/na/orders/v0/orders", params=params).status_code == 200
    wrong = spapi.request("GET", "/eu/orders/v0/orders", params=params)
    assert wrong.status_code == 400
    assert "EU region" in wrong.json()["errors"][0]["message"]
    participations = spapi.request("GET", "/na/sellers/v1/marketplaceParticipations").json()[
        "payload"
    ]
    assert sorted(p["marketplace"]["countryCode"] for p in participations) == ["CA", "US"]


def test_state_survives_a_restart_through_the_snapshot_file(tmp_path: Path) -> None:
    snapshot = tmp_path / "sandbox.json"
    with SandboxServer(SandboxState(settings=Settings.fast_mode()), state_file=snapshot) as first:
        scenario = Scenario(first.url)
        seller = scenario.add_seller(["US"])
        scenario.add_orders(seller["seller_id"], count=2)
        scenario.add_listing(seller["seller_id"], "KEEP", 4)
    restored = SandboxState.load_or_new(snapshot)
    with SandboxServer(restored) as second:
        again = Scenario(second.url)
        assert len(again.call("GET", f"/sellers/{seller['seller_id']}/orders")["orders"]) == 2
        assert again.listings(seller["seller_id"])["KEEP"]["offers"][US]["listed_quantity"] == 4
        token = httpx.post(
            f"{second.url}/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": seller["refresh_token"],
                "client_id": seller["client_id"],
                "client_secret": seller["client_secret"],
            },
        )
        assert token.status_code == 200


def test_clock_can_be_moved_forward(scenario: Scenario, spapi: SpApiHttp) -> None:
    before = scenario.call("GET", "/clock")["offset_s"]
    try:
        moved = scenario.call("POST", "/clock", {"advance_s": 7200})
        assert moved["offset_s"] == before + 7200
        expired = spapi.request(
            "GET", "/orders/v0/orders", params={"MarketplaceIds": US, "CreatedAfter": ago(hours=1)}
        )
        assert expired.status_code == 403  # the one-hour access token is two hours old now
    finally:
        scenario.call("POST", "/clock", {"advance_s": -7200})


@pytest.mark.parametrize(
    ("api", "operation", "method", "path"),
    [
        ("feeds", "createFeed", "POST", "/feeds/2021-06-30/feeds"),
        ("feeds", "createFeedDocument", "POST", "/feeds/2021-06-30/documents"),
        ("reports", "createReport", "POST", "/reports/2021-06-30/reports"),
        (
            "ordersV0",
            "confirmShipment",
            "POST",
            "/orders/v0/orders/111-0000000-0000001/shipmentConfirmation",
        ),
    ],
)
def test_a_body_that_is_not_json_is_invalid_input(
    spapi: SpApiHttp, api: str, operation: str, method: str, path: str
) -> None:
    response = spapi.request(
        method, path, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert validate_response(api, operation, response)["errors"][0]["code"] == "InvalidInput"
