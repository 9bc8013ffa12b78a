"""The sandbox's HTTP face: SP-API paths, the LWA token endpoint, documents, the scenario API.

Paths:

- ``/auth/o2/token``: Login with Amazon (refresh_token grant).
- SP-API operations at the root, or under ``/na``, ``/eu``, ``/fe`` to act as that
  region's endpoint (marketplaces of another region are then refused).
- ``/_s3/{documentId}``: presigned feed/report document URLs (no SP-API auth).
- ``/_sandbox/...``: the scenario API that tests and the demo drive.

Each SP-API call: access token check (403), injected faults, the (operation,
seller) token bucket (429 QuotaExceeded), then the operation. Every answer has
``x-amzn-RequestId``; 2xx/400/404 answers also ``x-amzn-RateLimit-Limit``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.channels.amazon.errors import UnknownMarketplace
from hub.channels.amazon.marketplaces import MARKETPLACES_BY_ID, Region, marketplace
from hub.channels.amazon.sandbox import listings_api, orders_api, reports_api, spec
from hub.channels.amazon.sandbox.state import (
    Fault,
    LwaError,
    SandboxApiError,
    SandboxState,
    Seller,
    Settings,
    invalid_input,
    iso,
    parse_iso,
)

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Handler = Callable[..., tuple[int, Any]]
"""(seller, now) -> (status, body); operations with a JSON body also get it, parsed."""
_REGION_KEY = "acorn.sandbox.region"
_RATE_HEADER_STATUSES = frozenset({200, 201, 202, 204, 400, 404})


def utc_now() -> datetime:
    """The host clock, aware UTC."""
    return datetime.now(UTC)


class _RegionPrefix:
    """ASGI middleware: ``/eu/orders/...`` is served as ``/orders/...`` for the EU region."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for region in Region:
                prefix = f"/{region.value.lower()}"
                if path.startswith(prefix + "/"):
                    scope = dict(scope)
                    scope["path"] = path[len(prefix) :]
                    raw = scope.get("raw_path")
                    if isinstance(raw, bytes) and raw.startswith(prefix.encode() + b"/"):
                        scope["raw_path"] = raw[len(prefix) :]
                    scope[_REGION_KEY] = region
                    break
        await self.app(scope, receive, send)


def _params(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


def _region(request: Request) -> Region | None:
    region = request.scope.get(_REGION_KEY)
    return region if isinstance(region, Region) else None


def _base_url(request: Request) -> str:
    # The Host header cannot be trusted: python-amazon-sp-api sends endpoint[8:],
    # which mangles http:// URLs. Use the socket the request came in on.
    server = request.scope.get("server")
    if server:
        host, port = server[0], server[1]
        return f"http://{host}:{port}"
    return str(request.base_url).rstrip("/")


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid_input("The request body is not valid JSON.") from None


def create_sandbox_app(
    state: SandboxState, clock: Clock = utc_now, *, state_file: Path | None = None
) -> FastAPI:
    """Build the sandbox ASGI app around ``state``; ``clock`` gives aware UTC datetimes."""
    app = FastAPI(
        title="Acorn SP-API sandbox",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = state

    def now() -> datetime:
        return clock() + timedelta(seconds=state.clock_offset_s)

    @app.middleware("http")
    async def _snapshot(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if state_file is not None and state.dirty:
            state.save(state_file)
        return response

    async def api(
        request: Request,
        api_name: str,
        operation_id: str,
        handler: Handler,
        *,
        path_params: dict[str, str] | None = None,
        json_body: bool = False,
    ) -> Response:
        operation = f"{api_name}/{operation_id}"
        raw = await request.body()
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-RequestId": request_id}
        at = now()
        state.advance(at)
        try:
            seller = state.authenticate(request.headers.get("x-amz-access-token"), at)
        except SandboxApiError as err:
            state.count("-", operation, "denied")
            return JSONResponse(err.body(), err.status, headers)
        fault = state.take_fault(operation, seller.seller_id)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
            at = now()
            state.advance(at)
            fault = None
        if fault is not None and fault.kind == "error":
            state.count(seller.seller_id, operation, "error")
            body = {
                "errors": [
                    {
                        "code": "InternalFailure",
                        "message": "We encountered an internal error. Please try again.",
                        "details": "",
                    }
                ]
            }
            if fault.empty_body:
                return Response(b"", fault.status, headers)
            return JSONResponse(body, fault.status, headers)
        if (fault is not None and fault.kind == "throttle") or not state.take_token(
            operation, seller.seller_id, at
        ):
            state.count(seller.seller_id, operation, "throttled")
            if fault is not None and fault.empty_body:
                return Response(b"", 429, headers)
            body = {
                "errors": [
                    {
                        "code": "QuotaExceeded",
                        "message": "You exceeded your quota for the requested resource.",
                        "details": "",
                    }
                ]
            }
            return JSONResponse(body, 429, headers)
        params = _params(request)
        canned = spec.static_case(
            api_name,
            operation_id,
            {**{k: ",".join(v) for k, v in params.items()}, **(path_params or {})},
        )
        try:
            if canned is not None:
                status, body = canned
            elif json_body:
                status, body = handler(seller, at, _parse_json(raw))
            else:
                status, body = handler(seller, at)
        except SandboxApiError as err:
            status, body = err.status, err.body()
        state.count(seller.seller_id, operation, "ok" if status < 400 else "invalid")
        if status in _RATE_HEADER_STATUSES:
            headers["x-amzn-RateLimit-Limit"] = f"{state.rate_of(operation):g}"
        _LOGGER.debug("%s %s -> %s (%s)", request.method, operation, status, request_id)
        if status == 204 or body is None:
            return Response(b"", status, headers)
        return JSONResponse(body, status, headers)

    # --- Login with Amazon -----------------------------------------------------------------

    @app.post("/auth/o2/token")
    async def lwa_token(request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        try:
            return JSONResponse(state.grant(form, now()))
        except LwaError as err:
            return JSONResponse(
                {"error": err.error, "error_description": err.description}, err.status
            )

    # --- Orders v0 --------------------------------------------------------------------------

    @app.get("/orders/v0/orders")
    async def get_orders(request: Request) -> Response:
        params, region = _params(request), _region(request)
        return await api(
            request,
            "ordersV0",
            "getOrders",
            lambda s, at: (200, orders_api.get_orders(state, s, params, at, region)),
        )

    @app.get("/orders/v0/orders/{order_id}")
    async def get_order(request: Request, order_id: str) -> Response:
        return await api(
            request,
            "ordersV0",
            "getOrder",
            lambda s, at: (
                200,
                {"payload": orders_api.render_v0(orders_api.find_order(state, s, order_id, at))},
            ),
            path_params={"orderId": order_id},
        )

    @app.get("/orders/v0/orders/{order_id}/orderItems")
    async def get_order_items(request: Request, order_id: str) -> Response:
        params = _params(request)

        def handle(seller: Seller, at: datetime) -> tuple[int, Any]:
            if params.get("NextToken"):
                raise invalid_input("We could not decode your NextToken.")
            order = orders_api.find_order(state, seller, order_id, at)
            return 200, {
                "payload": {
                    "AmazonOrderId": order.order_id,
                    "OrderItems": orders_api.render_items_v0(order),
                }
            }

        return await api(
            request, "ordersV0", "getOrderItems", handle, path_params={"orderId": order_id}
        )

    @app.post("/orders/v0/orders/{order_id}/shipmentConfirmation")
    async def confirm_shipment(request: Request, order_id: str) -> Response:
        def handle(seller: Seller, at: datetime, body: Any) -> tuple[int, Any]:
            orders_api.confirm_shipment(state, seller, order_id, body, at)
            return 204, None

        return await api(
            request,
            "ordersV0",
            "confirmShipment",
            handle,
            path_params={"orderId": order_id},
            json_body=True,
        )

    # --- Orders 2026-01-01 ------------------------------------------------------------------

    @app.get("/orders/2026-01-01/orders")
    async def search_orders(request: Request) -> Response:
        params, region = _params(request), _region(request)
        return await api(
            request,
            "orders2026",
            "searchOrders",
            lambda s, at: (200, orders_api.search_orders(state, s, params, at, region)),
        )

    @app.get("/orders/2026-01-01/orders/{order_id}")
    async def get_order_2026(request: Request, order_id: str) -> Response:
        params = _params(request)
        return await api(
            request,
            "orders2026",
            "getOrder",
            lambda s, at: (200, orders_api.get_order_2026(state, s, order_id, params, at)),
            path_params={"orderId": order_id},
        )

    # --- Listings Items 2021-08-01 ----------------------------------------------------------

    @app.get("/listings/2021-08-01/items/{seller_id}/{sku:path}")
    async def get_listings_item(request: Request, seller_id: str, sku: str) -> Response:
        params, region = _params(request), _region(request)
        return await api(
            request,
            "listings",
            "getListingsItem",
            lambda s, at: (
                200,
                listings_api.get_listings_item(state, s, seller_id, sku, params, region),
            ),
            path_params={"sellerId": seller_id, "sku": sku},
        )

    @app.patch("/listings/2021-08-01/items/{seller_id}/{sku:path}")
    async def patch_listings_item(request: Request, seller_id: str, sku: str) -> Response:
        params, region = _params(request), _region(request)

        def handle(seller: Seller, at: datetime, body: Any) -> tuple[int, Any]:
            return 200, listings_api.patch_listings_item(
                state, seller, seller_id, sku, params, body, at, region
            )

        return await api(
            request,
            "listings",
            "patchListingsItem",
            handle,
            path_params={"sellerId": seller_id, "sku": sku},
            json_body=True,
        )

    # --- Feeds 2021-06-30 -------------------------------------------------------------------

    @app.post("/feeds/2021-06-30/documents")
    async def create_feed_document(request: Request) -> Response:
        base = _base_url(request)
        return await api(
            request,
            "feeds",
            "createFeedDocument",
            lambda s, at, body: (201, listings_api.create_feed_document(state, s, body, at, base)),
            json_body=True,
        )

    @app.get("/feeds/2021-06-30/documents/{document_id}")
    async def get_feed_document(request: Request, document_id: str) -> Response:
        base = _base_url(request)
        return await api(
            request,
            "feeds",
            "getFeedDocument",
            lambda s, at: (200, listings_api.get_feed_document(state, s, document_id, at, base)),
            path_params={"feedDocumentId": document_id},
        )

    @app.post("/feeds/2021-06-30/feeds")
    async def create_feed(request: Request) -> Response:
        region = _region(request)
        return await api(
            request,
            "feeds",
            "createFeed",
            lambda s, at, body: (202, listings_api.create_feed(state, s, body, at, region)),
            json_body=True,
        )

    @app.get("/feeds/2021-06-30/feeds/{feed_id}")
    async def get_feed(request: Request, feed_id: str) -> Response:
        return await api(
            request,
            "feeds",
            "getFeed",
            lambda s, at: (200, listings_api.get_feed(state, s, feed_id)),
            path_params={"feedId": feed_id},
        )

    @app.delete("/feeds/2021-06-30/feeds/{feed_id}")
    async def cancel_feed(request: Request, feed_id: str) -> Response:
        def handle(seller: Seller, at: datetime) -> tuple[int, Any]:
            listings_api.cancel_feed(state, seller, feed_id)
            return 200, None

        return await api(request, "feeds", "cancelFeed", handle, path_params={"feedId": feed_id})

    # --- Reports 2021-06-30 -----------------------------------------------------------------

    @app.get("/reports/2021-06-30/reports")
    async def get_reports(request: Request) -> Response:
        params = _params(request)
        return await api(
            request,
            "reports",
            "getReports",
            lambda s, at: (200, reports_api.get_reports(state, s, params, at)),
        )

    @app.post("/reports/2021-06-30/reports")
    async def create_report(request: Request) -> Response:
        return await api(
            request,
            "reports",
            "createReport",
            lambda s, at, body: (202, reports_api.create_report(state, s, body, at)),
            json_body=True,
        )

    @app.get("/reports/2021-06-30/reports/{report_id}")
    async def get_report(request: Request, report_id: str) -> Response:
        return await api(
            request,
            "reports",
            "getReport",
            lambda s, at: (200, reports_api.get_report(state, s, report_id)),
            path_params={"reportId": report_id},
        )

    @app.get("/reports/2021-06-30/documents/{document_id}")
    async def get_report_document(request: Request, document_id: str) -> Response:
        base = _base_url(request)
        return await api(
            request,
            "reports",
            "getReportDocument",
            lambda s, at: (200, reports_api.get_report_document(state, s, document_id, at, base)),
            path_params={"reportDocumentId": document_id},
        )

    # --- Sellers v1 -------------------------------------------------------------------------

    @app.get("/sellers/v1/marketplaceParticipations")
    async def marketplace_participations(request: Request) -> Response:
        region = _region(request)

        def handle(seller: Seller, at: datetime) -> tuple[int, Any]:
            rows = []
            for mid in seller.marketplace_ids:
                mp = MARKETPLACES_BY_ID[mid]
                if region is not None and mp.region != region:
                    continue
                rows.append(
                    {
                        "marketplace": {
                            "id": mid,
                            "name": mp.sales_channel,
                            "countryCode": mp.country_code,
                            "defaultCurrencyCode": mp.currency,
                            "defaultLanguageCode": mp.language,
                            "domainName": "www." + mp.sales_channel.lower(),
                        },
                        "storeName": seller.store_name,
                        "participation": {"isParticipating": True, "hasSuspendedListings": False},
                    }
                )
            return 200, {"payload": rows}

        return await api(request, "sellers", "getMarketplaceParticipations", handle)

    # --- presigned documents ----------------------------------------------------------------

    @app.put("/_s3/{document_id}")
    async def upload_document(request: Request, document_id: str) -> Response:
        try:
            doc = listings_api.check_presigned(
                state, document_id, dict(request.query_params), now()
            )
            listings_api.upload_document(
                state, doc, request.headers.get("content-type", ""), await request.body()
            )
        except PermissionError as err:
            return _s3_error(str(err))
        return Response(b"", 200, {"ETag": f'"{uuid.uuid4().hex}"'})

    @app.get("/_s3/{document_id}")
    async def download_document(request: Request, document_id: str) -> Response:
        try:
            doc = listings_api.check_presigned(
                state, document_id, dict(request.query_params), now()
            )
        except PermissionError as err:
            return _s3_error(str(err))
        if doc.content_b64 is None:
            return _s3_error("NoSuchKey", 404)
        return Response(listings_api.document_bytes(doc), 200, media_type=doc.content_type)

    _add_scenario_routes(app, state, now)
    app.add_middleware(_RegionPrefix)
    return app


def _s3_error(code: str, status: int = 403) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{code}</Message></Error>"
    )
    return Response(body.encode(), status, media_type="application/xml")


# --- the scenario API -----------------------------------------------------------------------------


def _scenario_error(err: Exception) -> JSONResponse:
    if isinstance(err, SandboxApiError):
        return JSONResponse({"error": err.message}, err.status)
    return JSONResponse({"error": str(err)}, 400)


def _mids(values: list[str]) -> list[str]:
    return [marketplace(v).marketplace_id for v in values]


def _add_scenario_routes(app: FastAPI, state: SandboxState, now: Callable[[], datetime]) -> None:
    """Routes under ``/_sandbox``: sellers, listings, orders, faults, clock, read-backs."""

    async def body_of(request: Request) -> dict[str, Any]:
        data = _parse_json(await request.body())
        return data if isinstance(data, dict) else {}

    def guarded(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(fn)
        async def run(*args: Any, **kwargs: Any) -> Response:
            state.advance(now())
            try:
                result = await fn(*args, **kwargs)
            except (SandboxApiError, UnknownMarketplace, KeyError, ValueError, TypeError) as err:
                return _scenario_error(err)
            return result if isinstance(result, Response) else JSONResponse(result)

        return run

    def route(method: str, path: str) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        def register(fn: Callable[..., Awaitable[Any]]) -> Any:
            app.add_api_route(f"/_sandbox{path}", guarded(fn), methods=[method])
            return fn

        return register

    @route("GET", "/health")
    async def health() -> dict[str, Any]:
        """Liveness of the sandbox, with its clock."""
        return {"ok": True, "now": iso(now())}

    @route("POST", "/sellers")
    async def add_seller(request: Request) -> dict[str, Any]:
        """Create a seller who authorized the application; returns the LWA credentials."""
        spec_ = await body_of(request)
        seller, refresh = state.add_seller(
            seller_id=spec_.get("seller_id"),
            marketplace_ids=_mids(spec_.get("marketplaces") or ["US"]),
            store_name=str(spec_.get("store_name") or ""),
            access_token_ttl_s=spec_.get("access_token_ttl_s"),
        )
        return {
            "seller_id": seller.seller_id,
            "marketplace_ids": seller.marketplace_ids,
            "client_id": state.client_id,
            "client_secret": state.client_secret,
            "refresh_token": refresh,
        }

    @route("GET", "/sellers/{seller_id}")
    async def get_seller(seller_id: str) -> dict[str, Any]:
        """A seller, its authorizations and token state."""
        seller = state.seller(seller_id)
        at = now()
        return {
            "seller_id": seller.seller_id,
            "store_name": seller.store_name,
            "marketplace_ids": seller.marketplace_ids,
            "refresh_tokens": [{"revoked": rt.revoked} for rt in seller.refresh_tokens],
            "live_access_tokens": sum(
                1
                for t in state.access_tokens.values()
                if t.seller_id == seller_id and t.expires_at > at
            ),
        }

    @route("POST", "/sellers/{seller_id}/revoke")
    async def revoke(seller_id: str) -> dict[str, Any]:
        """Revoke the seller's authorization: refresh tokens answer invalid_grant."""
        return {"revoked_access_tokens": state.revoke(seller_id)}

    @route("POST", "/sellers/{seller_id}/reauthorize")
    async def reauthorize(seller_id: str) -> dict[str, Any]:
        """The seller authorizes again: a new refresh token."""
        return {"refresh_token": state.reauthorize(seller_id)}

    @route("POST", "/tokens/expire")
    async def expire_tokens(request: Request) -> dict[str, Any]:
        """Expire live access tokens now (all, or one seller's)."""
        spec_ = await body_of(request)
        return {"expired": state.expire_access_tokens(now(), spec_.get("seller_id"))}

    @route("POST", "/sellers/{seller_id}/listings")
    async def upsert_listing(seller_id: str, request: Request) -> dict[str, Any]:
        """Create or change a listing (quantity applies at once)."""
        spec_ = await body_of(request)
        if spec_.get("marketplace"):
            spec_["marketplace_id"] = marketplace(spec_["marketplace"]).marketplace_id
        listing = listings_api.upsert_listing(state, state.seller(seller_id), spec_, now())
        return listings_api.listing_view(listing)

    @route("GET", "/sellers/{seller_id}/listings")
    async def get_listings(seller_id: str) -> dict[str, Any]:
        """Every listing of the seller with listed, accepted and pending quantities."""
        state.seller(seller_id)
        return {
            "listings": [
                listings_api.listing_view(li)
                for li in state.listings.values()
                if li.seller_id == seller_id
            ]
        }

    @route("POST", "/sellers/{seller_id}/orders")
    async def create_orders(seller_id: str, request: Request) -> dict[str, Any]:
        """Create one order, or ``count`` alike ones (for pagination scenarios)."""
        spec_ = await body_of(request)
        if spec_.get("marketplace"):
            spec_["marketplace_id"] = marketplace(spec_["marketplace"]).marketplace_id
        seller = state.seller(seller_id)
        count = int(spec_.pop("count", 1))
        if not 1 <= count <= 5000:
            raise ValueError("count must be between 1 and 5000")
        at = now()
        created = [orders_api.create_order(state, seller, dict(spec_), at) for _ in range(count)]
        return {"orders": [orders_api.render_v0(o) for o in created]}

    @route("GET", "/sellers/{seller_id}/orders")
    async def list_orders(seller_id: str) -> dict[str, Any]:
        """Every order of the seller, visible or not yet, as Orders v0 objects."""
        state.seller(seller_id)
        return {
            "orders": [
                orders_api.render_v0(o) for o in state.orders.values() if o.seller_id == seller_id
            ]
        }

    @route("POST", "/orders/{order_id}/status")
    async def order_status(order_id: str, request: Request) -> dict[str, Any]:
        """Move an order to another status (``at``: backdate the update)."""
        spec_ = await body_of(request)
        at = parse_iso(spec_["at"], "at") if spec_.get("at") else None
        return orders_api.render_v0(
            orders_api.set_status(state, order_id, str(spec_.get("status")), now(), at)
        )

    @route("POST", "/orders/{order_id}/cancel")
    async def cancel_order(order_id: str, request: Request) -> dict[str, Any]:
        """The buyer (or Amazon) cancels an order (``at``: backdate the update)."""
        spec_ = await body_of(request)
        at = parse_iso(spec_["at"], "at") if spec_.get("at") else None
        return orders_api.render_v0(orders_api.set_status(state, order_id, "Canceled", now(), at))

    @route("GET", "/sellers/{seller_id}/shipments")
    async def shipments(seller_id: str) -> dict[str, Any]:
        """Every package the seller confirmed."""
        state.seller(seller_id)
        out = []
        for order in state.orders.values():
            if order.seller_id != seller_id:
                continue
            for p in order.packages:
                out.append(
                    {
                        "order_id": order.order_id,
                        "order_status": order.status,
                        "package_reference_id": p.package_reference_id,
                        "carrier_code": p.carrier_code,
                        "carrier_name": p.carrier_name,
                        "shipping_method": p.shipping_method,
                        "tracking_number": p.tracking_number,
                        "ship_date": iso(p.ship_date),
                        "confirmed_at": iso(p.confirmed_at),
                        "items": [
                            {"order_item_id": i.order_item_id, "quantity": i.quantity}
                            for i in p.items
                        ],
                    }
                )
        return {"shipments": out}

    @route("GET", "/sellers/{seller_id}/pushes")
    async def pushes(seller_id: str) -> dict[str, Any]:
        """Quantities the seller pushed and Amazon accepted, and the latest per SKU."""
        state.seller(seller_id)
        records = [p for p in state.pushes if p.seller_id == seller_id]
        latest: dict[str, dict[str, int]] = {}
        for p in records:
            latest.setdefault(p.sku, {})[p.marketplace_id] = p.quantity
        return {
            "latest": latest,
            "records": [
                {
                    "sku": p.sku,
                    "marketplace_id": p.marketplace_id,
                    "quantity": p.quantity,
                    "via": p.via,
                    "reference": p.reference,
                    "at": iso(p.at),
                }
                for p in records
            ],
        }

    @route("POST", "/sellers/{seller_id}/settlements")
    async def settlement(seller_id: str, request: Request) -> dict[str, Any]:
        """Close a settlement period: a V2 settlement report appears in getReports."""
        spec_ = await body_of(request)
        if spec_.get("marketplace"):
            spec_["marketplace_id"] = marketplace(spec_["marketplace"]).marketplace_id
        report = reports_api.create_settlement(state, state.seller(seller_id), spec_, now())
        return reports_api.render_report(report)

    @route("POST", "/faults")
    async def add_fault(request: Request) -> dict[str, Any]:
        """Inject faults: ``kind`` error (5xx), throttle (429) or slow; ``count`` calls."""
        spec_ = await body_of(request)
        kind = spec_.get("kind")
        if kind not in ("error", "throttle", "slow"):
            raise ValueError("kind must be error, throttle or slow")
        fault = state.add_fault(
            Fault(
                fault_id=uuid.uuid4().hex[:12],
                kind=kind,
                remaining=int(spec_.get("count", 1)),
                operation=spec_.get("operation"),
                seller_id=spec_.get("seller_id"),
                status=int(spec_.get("status", 500 if kind == "error" else 429)),
                delay_s=float(spec_.get("delay_s", 0.0)),
                empty_body=bool(spec_.get("empty_body", False)),
                probability=float(spec_.get("probability", 1.0)),
            )
        )
        return {"fault_id": fault.fault_id}

    @route("GET", "/faults")
    async def list_faults() -> dict[str, Any]:
        """Faults still armed."""
        return {"faults": [f.__dict__ for f in state.faults]}

    @route("DELETE", "/faults")
    async def clear_faults() -> dict[str, Any]:
        """Disarm every fault."""
        count = len(state.faults)
        state.faults.clear()
        state.dirty = True
        return {"cleared": count}

    @route("GET", "/clock")
    async def get_clock() -> dict[str, Any]:
        """The sandbox's clock and its offset from the host clock."""
        return {"now": iso(now()), "offset_s": state.clock_offset_s}

    @route("POST", "/clock")
    async def move_clock(request: Request) -> dict[str, Any]:
        """Move the sandbox's clock forward by ``advance_s`` seconds."""
        spec_ = await body_of(request)
        state.clock_offset_s += float(spec_.get("advance_s", 0))
        state.dirty = True
        state.advance(now())
        return {"now": iso(now()), "offset_s": state.clock_offset_s}

    @route("GET", "/settings")
    async def get_settings() -> dict[str, Any]:
        """Emulation settings (rate scale, delays, token lifetime)."""
        return dict(state.settings.__dict__)

    @route("POST", "/settings")
    async def set_settings(request: Request) -> dict[str, Any]:
        """Change emulation settings; a new rate scale starts fresh buckets."""
        spec_ = await body_of(request)
        known = set(Settings.__dataclass_fields__)
        for key, value in spec_.items():
            if key not in known:
                raise ValueError(f"unknown setting {key}")
            setattr(state.settings, key, type(getattr(state.settings, key))(value))
        state.reset_buckets()
        state.dirty = True
        return dict(state.settings.__dict__)

    @route("GET", "/stats")
    async def stats(request: Request) -> dict[str, Any]:
        """Answered SP-API calls per operation and outcome (optionally one seller's)."""
        seller_id = request.query_params.get("seller_id")
        out: dict[str, dict[str, int]] = {}
        for key, counts in state.stats.items():
            sid, _, operation = key.partition("|")
            if seller_id and sid != seller_id:
                continue
            agg = out.setdefault(operation, {})
            for outcome, n in counts.items():
                agg[outcome] = agg.get(outcome, 0) + n
        return {"operations": out}
