"""The one module that talks to python-amazon-sp-api: endpoints, tokens, rate limits, retries.

python-amazon-sp-api (``sp_api``) builds every request: paths, query normalisation,
headers and the LWA form. This wrapper fixes what it leaves to its users
(SPAPI-NOTES.md section 12):

- **Endpoint and LWA URL per account.** The library has no endpoint argument; a
  ``marketplace`` object with ``endpoint``/``marketplace_id``/``region`` is passed and
  the attributes are set again after construction, because ``SP_API_DEFAULT_MARKETPLACE``
  would override the argument. The LWA URL comes from a per-account subclass of
  ``AccessTokenClient``. The bogus ``host`` header (``endpoint[8:]``) is dropped.
- **Token cache.** The library caches access tokens for a fixed TTL keyed by refresh
  token, ignoring ``expires_in``. Here each client keeps its own token until
  ``expires_in`` minus a margin, and refreshes once more on a 401/403.
- **No retries.** Every call waits for a token of the operation's bucket (usage plans,
  adopting the rate Amazon reports in ``x-amzn-RateLimit-Limit``), and retries 429,
  5xx and network failures with exponential backoff and jitter.
- **A 429 with an empty body raises nothing in the library.** Our transport sees every
  response first and turns any status >= 400 into one of our exceptions.
- **Datetimes sent as ``str(dt)`` with a space.** Our methods take aware datetimes and
  send ISO 8601 UTC with ``Z``.

Every call is logged with its operation, status, time and ``x-amzn-RequestId``, and
counted in :class:`ClientStats` for channel health. A client is safe to share
between threads (calls are serialised per client).
"""

from __future__ import annotations

import functools
import gzip
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from sp_api.api.feeds.feeds_2021_06_30 import FeedsV20210630
from sp_api.api.listings_items.listings_items_2021_08_01 import ListingsItemsV20210801
from sp_api.api.orders.orders_2026_01_01 import OrdersV20260101
from sp_api.api.orders.orders_v0 import OrdersV0
from sp_api.api.reports.reports import Reports
from sp_api.api.sellers.sellers import Sellers
from sp_api.auth import AccessTokenClient, AccessTokenResponse
from sp_api.base import Client as LibraryClient
from sp_api.base._transport_httpx import HttpxTransport

from hub.channels.amazon.account import SellerAccount
from hub.channels.amazon.errors import (
    AccessDeniedError,
    AuthError,
    InvalidInputError,
    LwaUnavailableError,
    NotFoundError,
    RefreshTokenRevokedError,
    ServerError,
    SpApiError,
    ThrottledError,
    TransportError,
)
from hub.channels.amazon.health import ClientStats, TokenState
from hub.channels.amazon.ratelimit import RateLimiter

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S: Final = 30.0
JSON_CONTENT_TYPE: Final = "application/json; charset=UTF-8"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry throttled and failed calls."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    jitter: float = 0.25
    token_refresh_margin_s: float = 300.0


def backoff_delay(policy: RetryPolicy, attempt: int, rand: float) -> float:
    """Exponential backoff for ``attempt`` (1-based), capped, spread by +-jitter (rand in [0,1))."""
    raw = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** max(0, attempt - 1))
    return raw * (1.0 - policy.jitter + 2.0 * policy.jitter * rand)


def iso_utc(at: datetime) -> str:
    """An aware datetime as SP-API wants it: ``2026-11-27T10:00:00Z``."""
    if at.tzinfo is None:
        raise ValueError("SP-API times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _HttpFailure(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _TransportFailure(Exception):
    pass


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for every client (building one per client costs ~0.1 s)."""
    return httpx.create_ssl_context()


class _Transport(HttpxTransport):  # type: ignore[misc]
    """The library's transport, seeing every response before the library does."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(timeout=timeout_s, verify=_tls())
        self.last: httpx.Response | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        data: Any = None,
        content: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        # the library sends host = endpoint[8:], wrong for http:// URLs; httpx sets it right
        clean = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
        try:
            response: httpx.Response = self._client.request(
                method, url, params=params, data=data, content=content, headers=clean
            )
        except httpx.HTTPError as err:
            raise _TransportFailure(f"{type(err).__name__}: {err}") from err
        self.last = response
        if response.status_code >= 400:
            raise _HttpFailure(response)
        return response


class _AccessTokens:
    """Access tokens of one account, kept until ``expires_in`` minus a margin."""

    def __init__(
        self,
        transport: _Transport,
        token_url: str,
        monotonic: Callable[[], float],
        margin_s: float,
        stats: ClientStats,
    ) -> None:
        self._transport = transport
        self._url = token_url
        self._monotonic = monotonic
        self._margin_s = margin_s
        self._stats = stats
        self._token: str | None = None
        self._valid_until = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the current token (Amazon said 401/403)."""
        with self._lock:
            self._token = None

    def get(self, data: dict[str, str], headers: dict[str, str]) -> AccessTokenResponse:
        """The current access token, refreshed through LWA when needed."""
        with self._lock:
            now = self._monotonic()
            if self._token is None or now >= self._valid_until:
                self._refresh(data, headers, now)
            return AccessTokenResponse(access_token=self._token, token_type="bearer")

    def _refresh(self, data: dict[str, str], headers: dict[str, str], now: float) -> None:
        try:
            response = self._transport.request("POST", self._url, data=data, headers=headers)
        except _TransportFailure as err:
            self._stats.token_state = TokenState.FAILING
            raise LwaUnavailableError(f"LWA token endpoint unreachable: {err}") from err
        except _HttpFailure as failure:
            self._fail(failure.response)
        body = response.json()
        expires_in = float(body.get("expires_in") or 3600)
        self._token = str(body["access_token"])
        self._valid_until = now + max(expires_in - self._margin_s, expires_in / 2)
        self._stats.token_state = TokenState.VALID
        self._stats.token_refreshes += 1
        _LOGGER.info("LWA access token refreshed (valid %.0f s)", expires_in)

    def _fail(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = str(body.get("error", "")) if isinstance(body, dict) else ""
        text = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        status = response.status_code
        if status == 429 or status >= 500:
            self._stats.token_state = TokenState.FAILING
            raise LwaUnavailableError(f"LWA answered HTTP {status}", error_code=code, status=status)
        if code == "invalid_grant":
            self._stats.token_state = TokenState.REVOKED
            _LOGGER.error(
                "LWA refused the refresh token (invalid_grant): the seller must "
                "authorize the application again"
            )
            raise RefreshTokenRevokedError(
                text or "refresh token revoked", error_code=code, status=status
            )
        self._stats.token_state = TokenState.FAILING
        raise AuthError(text or f"LWA answered HTTP {status}", error_code=code, status=status)


def _translate(operation: str, response: httpx.Response) -> SpApiError:
    code = message = details = ""
    try:
        body = response.json()
        first = (body.get("errors") or [{}])[0] if isinstance(body, dict) else {}
        code, message = str(first.get("code", "")), str(first.get("message", ""))
        details = str(first.get("details", "") or "")
    except ValueError:
        pass
    status = response.status_code
    cls: type[SpApiError] = SpApiError
    if status == 400:
        cls = InvalidInputError
    elif status == 404:
        cls = NotFoundError
    elif status in (401, 403):
        cls = AccessDeniedError
    elif status == 429:
        cls = ThrottledError
    elif status >= 500:
        cls = ServerError
    return cls(
        message or f"HTTP {status} with no error body",
        status=status,
        code=code,
        details=details,
        operation=operation,
        request_id=response.headers.get("x-amzn-RequestId"),
    )


class SpApiClient:
    """SP-API for one seller account, over python-amazon-sp-api, with the gaps closed."""

    def __init__(
        self,
        account: SellerAccount,
        *,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.account = account
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter()
        self.stats = ClientStats()
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._transport = _Transport(timeout_s)
        self._documents = httpx.Client(timeout=timeout_s, verify=_tls())
        self.tokens = _AccessTokens(
            self._transport,
            account.lwa_token_url,
            monotonic,
            self.retry.token_refresh_margin_s,
            self.stats,
        )
        self._orders_v0 = self._library(OrdersV0)
        self._orders_2026 = self._library(OrdersV20260101)
        self._listings = self._library(ListingsItemsV20210801)
        self._feeds = self._library(FeedsV20210630)
        self._reports = self._library(Reports)
        self._sellers = self._library(Sellers)

    def _library(self, cls: type[LibraryClient]) -> Any:
        account, tokens = self.account, self.tokens
        url = urlsplit(account.lwa_token_url)

        class _Lwa(AccessTokenClient):  # type: ignore[misc]
            scheme = f"{url.scheme}://"
            host = url.netloc
            path = url.path or "/auth/o2/token"

            def get_auth(self) -> AccessTokenResponse:
                return tokens.get(self.data, self.headers)

        market = SimpleNamespace(
            endpoint=account.endpoint,
            marketplace_id=account.marketplace_ids[0],
            region=account.region.aws_region,
        )
        client = cls(
            marketplace=market,
            refresh_token=account.credentials.refresh_token,
            credentials={
                "lwa_app_id": account.credentials.client_id,
                "lwa_client_secret": account.credentials.client_secret,
                "refresh_token": account.credentials.refresh_token,
            },
            auth_token_client_class=_Lwa,
            verify=_tls(),
        )
        # SP_API_DEFAULT_MARKETPLACE overrides the constructor argument: set them again.
        client.endpoint = market.endpoint
        client.marketplace_id = market.marketplace_id
        client.region = market.region
        client._transport = self._transport
        return client

    def close(self) -> None:
        """Close the HTTP connections."""
        self._transport.close()
        self._documents.close()

    # --- the call loop ----------------------------------------------------------------------

    def monotonic(self) -> float:
        """The client's monotonic clock (seconds), the time base of its rate limiter."""
        return self._monotonic()

    def call(self, operation: str, invoke: Callable[[], Any]) -> dict[str, Any]:
        """Run one SP-API operation with rate limiting, token refresh and retries.

        ``operation`` is ``"<api>/<operationId>"`` (see usage_plans); ``invoke`` calls
        the library. Returns the decoded JSON body ({} for 204).
        """
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            wait = self.limiter.reserve(operation, self.monotonic())
            if wait > 0:
                self._sleep(wait)
            started = self.monotonic()
            response: httpx.Response | None = None
            failure: Exception | None = None
            with self._lock:
                self._transport.last = None
                try:
                    invoke()
                    response = self._transport.last
                except _HttpFailure as err:
                    response, failure = err.response, err
                except (_TransportFailure, LwaUnavailableError) as err:
                    failure = err
            elapsed_ms = (self.monotonic() - started) * 1000
            counters = self.stats.of(operation)
            counters.calls += 1
            request_id = response.headers.get("x-amzn-RequestId") if response is not None else None
            status = response.status_code if response is not None else 0
            self.stats.last_request_id = request_id or self.stats.last_request_id
            _LOGGER.info(
                "SP-API %s %s -> %s in %.0f ms (request id %s, attempt %d)",
                self.account.name,
                operation,
                status or type(failure).__name__,
                elapsed_ms,
                request_id,
                attempt,
            )
            if failure is None and response is not None:
                counters.ok += 1
                self.stats.last_success_at = datetime.now(UTC)
                self._adopt_rate(operation, response)
                if not response.content:
                    return {}
                body = response.json()
                return body if isinstance(body, dict) else {"payload": body}
            delay = backoff_delay(self.retry, attempt, self._rng.random())
            if response is None:
                counters.transport_errors += 1
                error: Exception = (
                    failure
                    if isinstance(failure, LwaUnavailableError)
                    else TransportError(f"{operation}: {failure}")
                )
            elif status == 429:
                counters.throttled += 1
                self.limiter.bucket(operation, self.monotonic()).drain(self.monotonic())
                error = _translate(operation, response)
            elif status >= 500:
                counters.server_errors += 1
                error = _translate(operation, response)
            elif status in (401, 403) and not refreshed:
                # an expired or invalidated access token: get a fresh one and try again now
                self.tokens.invalidate()
                refreshed = True
                continue
            else:
                counters.client_errors += 1
                raise _translate(operation, response)
            self.stats.last_error = str(error)
            if attempt >= self.retry.max_attempts:
                raise error
            _LOGGER.warning(
                "SP-API %s %s: %s; retrying in %.1f s", self.account.name, operation, error, delay
            )
            self._sleep(delay)

    def _adopt_rate(self, operation: str, response: httpx.Response) -> None:
        header = response.headers.get("x-amzn-RateLimit-Limit")
        if not header:
            return
        try:
            rate = float(header)
        except ValueError:
            return
        bucket = self.limiter.bucket(operation, self.monotonic())
        if rate > 0 and abs(bucket.rate - rate) > 1e-9:
            _LOGGER.debug("adopting rate %s/s for %s", rate, operation)
            bucket.set_rate(rate)

    # --- Orders v0 ----------------------------------------------------------------------------

    def get_orders(
        self,
        marketplace_ids: Sequence[str],
        *,
        last_updated_after: datetime | None = None,
        last_updated_before: datetime | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        order_statuses: Sequence[str] = (),
        fulfillment_channels: Sequence[str] = (),
        max_results: int = 100,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """getOrders: one page (``payload``: Orders, NextToken, LastUpdatedBefore...)."""
        params: dict[str, Any] = {"MarketplaceIds": ",".join(marketplace_ids)}
        if next_token:
            params["NextToken"] = next_token
        else:
            for name, value in (
                ("LastUpdatedAfter", last_updated_after),
                ("LastUpdatedBefore", last_updated_before),
                ("CreatedAfter", created_after),
                ("CreatedBefore", created_before),
            ):
                if value is not None:
                    params[name] = iso_utc(value)
            if order_statuses:
                params["OrderStatuses"] = ",".join(order_statuses)
            if fulfillment_channels:
                params["FulfillmentChannels"] = ",".join(fulfillment_channels)
        params["MaxResultsPerPage"] = max_results
        body = self.call("ordersV0/getOrders", lambda: self._orders_v0.get_orders(**params))
        return dict(body.get("payload") or {})

    def get_order(self, order_id: str) -> dict[str, Any]:
        """getOrder (v0): the Order object."""
        body = self.call("ordersV0/getOrder", lambda: self._orders_v0.get_order(order_id))
        return dict(body.get("payload") or {})

    def get_order_items(self, order_id: str) -> list[dict[str, Any]]:
        """getOrderItems (v0): every item of the order, following NextToken."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs = {"NextToken": token} if token else {}
            body = self.call(
                "ordersV0/getOrderItems",
                lambda kw=kwargs: self._orders_v0.get_order_items(order_id, **kw),  # type: ignore[misc]
            )
            payload = body.get("payload") or {}
            items.extend(payload.get("OrderItems") or [])
            token = payload.get("NextToken") or None
            if not token:
                return items

    def confirm_shipment(self, order_id: str, request: dict[str, Any]) -> None:
        """confirmShipment (v0): 204 on success; raises on refusal."""
        self.call(
            "ordersV0/confirmShipment",
            lambda: self._orders_v0.confirm_shipment(order_id, **request),
        )

    # --- Orders 2026-01-01 --------------------------------------------------------------------

    def search_orders(
        self,
        marketplace_ids: Sequence[str],
        *,
        last_updated_after: datetime | None = None,
        last_updated_before: datetime | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        included_data: Sequence[str] = (),
        max_results: int = 100,
        pagination_token: str | None = None,
    ) -> dict[str, Any]:
        """searchOrders: one page (orders, pagination.nextToken, lastUpdatedBefore...).

        With a ``pagination_token`` every other parameter must be repeated unchanged.
        """
        params: dict[str, Any] = {"marketplaceIds": ",".join(marketplace_ids)}
        for name, value in (
            ("lastUpdatedAfter", last_updated_after),
            ("lastUpdatedBefore", last_updated_before),
            ("createdAfter", created_after),
            ("createdBefore", created_before),
        ):
            if value is not None:
                params[name] = iso_utc(value)
        if included_data:
            params["includedData"] = ",".join(included_data)
        if pagination_token:
            params["paginationToken"] = pagination_token
        params["maxResultsPerPage"] = max_results
        return self.call(
            "orders2026/searchOrders", lambda: self._orders_2026.search_orders(**params)
        )

    def get_order_2026(self, order_id: str, included_data: Sequence[str] = ()) -> dict[str, Any]:
        """getOrder (2026-01-01): the Order object."""
        kwargs = {"includedData": ",".join(included_data)} if included_data else {}
        body = self.call(
            "orders2026/getOrder", lambda: self._orders_2026.get_order(order_id, **kwargs)
        )
        return dict(body.get("order") or {})

    # --- Listings Items 2021-08-01 -----------------------------------------------------------

    def get_listings_item(
        self,
        sku: str,
        marketplace_ids: Sequence[str],
        included_data: Sequence[str] = ("summaries",),
    ) -> dict[str, Any]:
        """getListingsItem for this account's seller id (the SKU is URL-encoded by the library)."""
        return self.call(
            "listings/getListingsItem",
            lambda: self._listings.get_listings_item(
                self.account.seller_id,
                sku,
                marketplaceIds=",".join(marketplace_ids),
                includedData=",".join(included_data),
            ),
        )

    def patch_listings_item(
        self,
        sku: str,
        marketplace_ids: Sequence[str],
        body: dict[str, Any],
        *,
        validation_preview: bool = False,
    ) -> dict[str, Any]:
        """patchListingsItem: ACCEPTED, INVALID (HTTP 200 with issues) or VALID (preview)."""
        extra = {"mode": "VALIDATION_PREVIEW"} if validation_preview else {}
        return self.call(
            "listings/patchListingsItem",
            lambda: self._listings.patch_listings_item(
                self.account.seller_id,
                sku,
                body=body,
                marketplaceIds=",".join(marketplace_ids),
                **extra,
            ),
        )

    # --- Feeds 2021-06-30 ----------------------------------------------------------------------

    def create_feed_document(self, content_type: str = JSON_CONTENT_TYPE) -> dict[str, Any]:
        """createFeedDocument: ``feedDocumentId`` and the presigned upload ``url``."""
        return self.call(
            "feeds/createFeedDocument",
            lambda: self._feeds.create_feed_document(None, content_type),
        )

    def upload_document(
        self, url: str, content: bytes, content_type: str = JSON_CONTENT_TYPE
    ) -> None:
        """PUT a feed document to its presigned URL, with the Content-Type it was created with."""
        self._document_request("PUT", url, content=content, content_type=content_type)

    def create_feed(self, feed_type: str, marketplace_ids: Sequence[str], document_id: str) -> str:
        """createFeed: returns the feed id."""
        body = self.call(
            "feeds/createFeed",
            lambda: self._feeds.create_feed(
                feed_type, document_id, marketplaceIds=list(marketplace_ids)
            ),
        )
        return str(body["feedId"])

    def get_feed(self, feed_id: str) -> dict[str, Any]:
        """getFeed: the Feed object (processingStatus, resultFeedDocumentId...)."""
        return self.call("feeds/getFeed", lambda: self._feeds.get_feed(feed_id))

    def get_feed_result(self, document_id: str) -> bytes:
        """getFeedDocument plus the download, gunzipped when the document says GZIP."""

        def invoke() -> Any:
            return self._feeds._request(
                f"/feeds/2021-06-30/documents/{document_id}",
                params={"method": "GET"},
                add_marketplace=False,
            )

        meta = self.call("feeds/getFeedDocument", invoke)
        return self.download_document(meta["url"], meta.get("compressionAlgorithm"))

    # --- Reports 2021-06-30 ---------------------------------------------------------------------

    def get_reports(
        self,
        report_types: Sequence[str],
        *,
        created_since: datetime | None = None,
        page_size: int = 100,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """getReports: one page; with ``next_token`` the token is sent alone, as required."""
        params: dict[str, Any]
        if next_token:
            params = {"nextToken": next_token}
        else:
            params = {"reportTypes": ",".join(report_types), "pageSize": page_size}
            if created_since is not None:
                params["createdSince"] = iso_utc(created_since)
        return self.call("reports/getReports", lambda: self._reports.get_reports(**params))

    def get_report_content(self, document_id: str) -> tuple[bytes, str | None]:
        """getReportDocument plus the download: the raw bytes and the charset, if declared."""
        meta = self.call(
            "reports/getReportDocument", lambda: self._reports.get_report_document(document_id)
        )
        response = self._document_request("GET", meta["url"])
        content = response.content
        if meta.get("compressionAlgorithm") == "GZIP":
            content = gzip.decompress(content)
        return content, response.charset_encoding

    # --- Sellers v1 ---------------------------------------------------------------------------

    def marketplace_participations(self) -> list[dict[str, Any]]:
        """getMarketplaceParticipations: the connection check after adding an account."""
        body = self.call(
            "sellers/getMarketplaceParticipations",
            lambda: self._sellers.get_marketplace_participation(),
        )
        payload = body.get("payload")
        return list(payload) if isinstance(payload, list) else []

    # --- presigned documents ------------------------------------------------------------------

    def download_document(self, url: str, compression: str | None) -> bytes:
        """GET a presigned document; gunzip when ``compression`` is GZIP."""
        content = self._document_request("GET", url).content
        return gzip.decompress(content) if compression == "GZIP" else content

    def _document_request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._documents.request(method, url, content=content, headers=headers)
            except httpx.HTTPError as err:
                if attempt >= self.retry.max_attempts:
                    raise TransportError(f"document {method} failed: {err}") from err
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500 or attempt >= self.retry.max_attempts:
                    raise SpApiError(
                        f"document {method} answered HTTP {response.status_code}",
                        status=response.status_code,
                        operation=f"document {method}",
                    )
            self._sleep(backoff_delay(self.retry, attempt, self._rng.random()))
