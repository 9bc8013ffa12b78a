"""The SP-API client wrapper against the sandbox: tokens, throttling, retries, logging, config."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.channels.amazon.account import (
    CredentialCipher,
    LwaCredentials,
    SellerAccount,
)
from hub.channels.amazon.client import RetryPolicy, backoff_delay, iso_utc
from hub.channels.amazon.errors import (
    ConfigError,
    NotFoundError,
    RefreshTokenRevokedError,
    ServerError,
)
from hub.channels.amazon.health import TokenState
from hub.channels.amazon.marketplaces import Region
from hub.channels.amazon.ratelimit import RateLimiter, TokenBucket
from hub.channels.amazon.usage_plans import UsagePlan
from tests.channels.amazon.conftest import ClientFactory, Scenario, ago

US = "ATVPDKIKX0DER"
DE = "A1PA6795UKMFR9"


class SteppedClock:
    """A monotonic clock the test moves; the client's sleeps move it too."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_calls_are_logged_with_request_ids_and_iso_dates(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scenario.add_orders(seller["seller_id"], count=3, purchase_date=ago(minutes=20))
    client = make_client(seller)
    with caplog.at_level(logging.INFO, logger="hub.channels.amazon.client"):
        # a datetime argument: the library alone would send "2026-... 00:00:00+00:00" (refused)
        payload = client.get_orders([US], last_updated_after=datetime.now(UTC) - timedelta(hours=1))
    assert len(payload["Orders"]) == 3
    request_id = client.stats.last_request_id
    assert request_id
    assert any(
        request_id in r.getMessage() and "ordersV0/getOrders" in r.getMessage()
        for r in caplog.records
    )
    assert client.limiter.bucket("ordersV0/getOrders", client.monotonic()).rate == pytest.approx(
        1.67
    )


def test_expired_access_token_is_refreshed_in_the_middle_of_a_run(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    order = scenario.add_orders(seller["seller_id"])[0]["AmazonOrderId"]
    client = make_client(seller)
    assert client.get_order(order)["AmazonOrderId"] == order
    scenario.call("POST", "/tokens/expire", {"seller_id": seller["seller_id"]})
    assert client.get_order(order)["AmazonOrderId"] == order
    assert client.stats.token_refreshes == 2
    assert client.stats.token_state is TokenState.VALID


def test_token_is_renewed_before_expires_in_without_a_403(
    scenario: Scenario, make_client: ClientFactory
) -> None:
    short = scenario.add_seller(["US"], access_token_ttl_s=600)
    order = scenario.add_orders(short["seller_id"])[0]["AmazonOrderId"]
    clock = SteppedClock()
    client = make_client(short, monotonic=clock, sleep=clock.sleep)
    client.get_order(order)
    clock.now += 200  # 600 s token, 300 s margin: still fresh at 200 s
    client.get_order(order)
    assert client.stats.token_refreshes == 1
    clock.now += 150  # past 600 - 300: renewed before Amazon would say 403
    client.get_order(order)
    assert client.stats.token_refreshes == 2
    assert "denied" not in scenario.stats(short["seller_id"]).get("ordersV0/getOrder", {})


def test_throttle_with_empty_body_is_retried(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    order = scenario.add_orders(seller["seller_id"])[0]["AmazonOrderId"]
    client = make_client(seller)
    client.get_order(order)  # learns the (fast-mode) rate from x-amzn-RateLimit-Limit
    scenario.fault(
        kind="throttle",
        operation="ordersV0/getOrder",
        seller_id=seller["seller_id"],
        count=2,
        empty_body=True,
    )
    assert client.get_order(order)["OrderStatus"] == "Unshipped"
    counters = client.stats.of("ordersV0/getOrder")
    assert (counters.calls, counters.throttled, counters.ok) == (4, 2, 2)


def test_server_errors_are_retried_then_raised(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    order = scenario.add_orders(seller["seller_id"])[0]["AmazonOrderId"]
    client = make_client(seller, retry=RetryPolicy(max_attempts=3, base_delay_s=0.01))
    scenario.fault(
        kind="error", operation="ordersV0/getOrder", seller_id=seller["seller_id"], count=1
    )
    assert client.get_order(order)["AmazonOrderId"] == order
    scenario.fault(
        kind="error",
        operation="ordersV0/getOrder",
        seller_id=seller["seller_id"],
        count=5,
        status=503,
    )
    with pytest.raises(ServerError) as caught:
        client.get_order(order)
    assert caught.value.status == 503
    assert caught.value.request_id
    assert client.stats.of("ordersV0/getOrder").server_errors == 4
    scenario.call("DELETE", "/faults")
    with pytest.raises(NotFoundError):
        client.get_order("111-0000000-0000001")


def test_revoked_refresh_token_raises_and_marks_the_token_state(
    scenario: Scenario, seller: dict[str, Any], make_client: ClientFactory
) -> None:
    order = scenario.add_orders(seller["seller_id"])[0]["AmazonOrderId"]
    client = make_client(seller)
    client.get_order(order)
    scenario.call("POST", f"/sellers/{seller['seller_id']}/revoke")
    with pytest.raises(RefreshTokenRevokedError):
        client.get_order(order)
    assert client.stats.token_state is TokenState.REVOKED


def test_eu_account_uses_the_eu_endpoint(scenario: Scenario, make_client: ClientFactory) -> None:
    eu = scenario.add_seller(["UK", "DE"])
    scenario.add_orders(eu["seller_id"], marketplace="DE", purchase_date=ago(minutes=30))
    client = make_client(eu)
    assert client.account.region is Region.EU
    assert client.account.endpoint.endswith("/eu")
    orders = client.get_orders([DE], created_after=datetime.now(UTC) - timedelta(hours=1))["Orders"]
    assert [o["MarketplaceId"] for o in orders] == [DE]
    codes = sorted(p["marketplace"]["countryCode"] for p in client.marketplace_participations())
    assert codes == ["DE", "GB"]


def test_account_configuration_is_checked_and_credentials_sealed() -> None:
    creds = LwaCredentials("amzn1.application-oa2-client.x", "s3cret", "Atzr|refresh")
    assert "s3cret" not in repr(creds)
    assert "Atzr" not in repr(creds)
    with pytest.raises(ConfigError):
        SellerAccount("x", "A1", Region.NA, (DE,), creds)
    with pytest.raises(ConfigError):
        SellerAccount("x", "A1", Region.NA, (US,), creds, endpoint_url="ftp://nope")
    with pytest.raises(ConfigError):
        SellerAccount("x", "A1", Region.NA, (US,), creds, orders_api="v1")
    account = SellerAccount("x", "A1", Region.FE, ("A1VC38T7YXB528",), creds)
    assert account.endpoint == "https://sellingpartnerapi-fe.amazon.com"
    cipher = CredentialCipher(CredentialCipher.generate_key())
    sealed = cipher.seal(creds)
    assert "s3cret" not in sealed
    assert "Atzr" not in sealed
    assert cipher.open(sealed) == creds
    with pytest.raises(ConfigError):
        CredentialCipher(CredentialCipher.generate_key()).open(sealed)


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [(1, 0.5, 1.0), (2, 0.5, 2.0), (3, 0.0, 3.0), (4, 1.0, 10.0), (10, 0.5, 60.0)],
)
def test_backoff_is_exponential_capped_and_jittered(
    attempt: int, rand: float, expected: float
) -> None:
    assert backoff_delay(RetryPolicy(), attempt, rand) == pytest.approx(expected)


def test_token_bucket_burst_then_refill() -> None:
    bucket = TokenBucket.full(UsagePlan(rate=0.5, burst=2), now=0.0)
    assert bucket.try_take(0.0)
    assert bucket.try_take(0.0)
    assert not bucket.try_take(0.0)
    assert bucket.seconds_until_available(0.0) == pytest.approx(2.0)
    assert bucket.try_take(2.0)
    limiter = RateLimiter({"x/op": UsagePlan(rate=1.0, burst=1)})
    assert limiter.reserve("x/op", 0.0) == 0.0
    assert limiter.reserve("x/op", 0.0) == pytest.approx(1.0)
    assert limiter.reserve("x/op", 0.0) == pytest.approx(2.0)  # reservations queue up
    assert limiter.budget("x/op", 10.0, within_s=3.0) == 4


def test_iso_utc_refuses_naive_times() -> None:
    assert iso_utc(datetime(2026, 3, 8, 1, 2, 3, tzinfo=UTC)) == "2026-03-08T01:02:03Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_utc(datetime(2026, 3, 8))  # noqa: DTZ001 - the point of the test
