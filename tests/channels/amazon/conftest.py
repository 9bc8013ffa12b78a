"""Fixtures for the Amazon channel: a real sandbox on a loopback port, sellers, schema checks."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hub.channels.amazon.account import CredentialCipher, LwaCredentials, SellerAccount
from hub.channels.amazon.client import RetryPolicy, SpApiClient
from hub.channels.amazon.marketplaces import marketplace
from hub.channels.amazon.sandbox import SandboxServer, SandboxState, Settings
from hub.channels.amazon.sandbox import spec as model_spec
from hub.db import channels as channel_repo
from hub.db.channels import DbChannelStore
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models_channels import ChannelAccount

# freezegun must not freeze the sandbox's event loop (it runs in a thread of this process).
FREEZE_IGNORE = ["asyncio", "uvicorn", "starlette", "fastapi", "anyio", "h11", "httpx", "httpcore"]

# Short, bounded retries: the sandbox answers in milliseconds.
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.02, max_delay_s=0.3)


class Scenario:
    """The sandbox's scenario API (``/_sandbox``) over real HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def add_seller(self, marketplaces: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        return self.call("POST", "/sellers", {"marketplaces": marketplaces or ["US"], **extra})

    def add_listing(self, seller_id: str, sku: str, quantity: int, **extra: Any) -> dict[str, Any]:
        return self.call(
            "POST", f"/sellers/{seller_id}/listings", {"sku": sku, "quantity": quantity, **extra}
        )

    def add_orders(self, seller_id: str, **spec: Any) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.call("POST", f"/sellers/{seller_id}/orders", spec)[
            "orders"
        ]
        return orders

    def fault(self, **spec: Any) -> str:
        fault_id: str = self.call("POST", "/faults", spec)["fault_id"]
        return fault_id

    def listings(self, seller_id: str) -> dict[str, dict[str, Any]]:
        rows = self.call("GET", f"/sellers/{seller_id}/listings")["listings"]
        return {r["sku"]: r for r in rows}

    def stats(self, seller_id: str) -> dict[str, dict[str, int]]:
        ops: dict[str, dict[str, int]] = self.http.get(
            "/_sandbox/stats", params={"seller_id": seller_id}
        ).json()["operations"]
        return ops


class SpApiHttp:
    """Raw SP-API calls with an access token, for checking the sandbox itself."""

    def __init__(self, url: str, seller: dict[str, Any]) -> None:
        self.http = httpx.Client(base_url=url, timeout=10.0)
        self.seller = seller
        self.token = self.fresh_token()

    def fresh_token(self) -> str:
        response = self.http.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.seller["refresh_token"],
                "client_id": self.seller["client_id"],
                "client_secret": self.seller["client_secret"],
            },
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"x-amz-access-token": self.token, **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)


def ago(**delta: float) -> str:
    """An ISO instant in the past, e.g. ago(minutes=10)."""
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strict(node: Any) -> Any:
    """Forbid properties the model does not declare, so a misspelt field fails validation."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@functools.cache
def _validator(api: str, operation_id: str, status: int) -> jsonschema.Draft4Validator | None:
    schema = model_spec.response_schema(api, operation_id, status)
    if schema is None:
        return None
    return jsonschema.Draft4Validator(_strict(copy.deepcopy(schema)))


def validate_response(api: str, operation_id: str, response: httpx.Response) -> Any:
    """Check a sandbox answer against the published model's schema for its status code."""
    assert response.headers.get("x-amzn-RequestId"), "every answer carries x-amzn-RequestId"
    validator = _validator(api, operation_id, response.status_code)
    if validator is None:
        assert response.content == b"", f"{operation_id} {response.status_code} has no body"
        return None
    body = response.json()
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{operation_id} {response.status_code}: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors[:5]
    )
    return body


def validate_json_schema(file_name: str, document: Any) -> None:
    """Validate a document against one of the listings-feed JSON Schemas (draft 7)."""
    schema = json.loads(json.dumps(model_spec.load_model(file_name)))
    jsonschema.Draft7Validator(schema).validate(document)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """A fast-mode sandbox on 127.0.0.1 per test module (sellers keep tests apart).

    Module scope: the server thread is gone before other packages' tests run, so their
    freezegun cannot stall its event loop.
    """
    server = SandboxServer(SandboxState(settings=Settings.fast_mode()))
    with server:
        yield server


@pytest.fixture(scope="module")
def scenario(sandbox: SandboxServer) -> Scenario:
    return Scenario(sandbox.url)


@pytest.fixture
def seller(scenario: Scenario) -> dict[str, Any]:
    """A fresh seller in US and CA (its own buckets, tokens and orders)."""
    return scenario.add_seller(["US", "CA"])


@pytest.fixture
def spapi(sandbox: SandboxServer, seller: dict[str, Any]) -> SpApiHttp:
    return SpApiHttp(sandbox.url, seller)


def account_for(
    sandbox: SandboxServer, seller: dict[str, Any], *, orders_api: str = "v0", name: str = ""
) -> SellerAccount:
    """A SellerAccount pointed at the sandbox's regional endpoint and LWA URL."""
    mids = tuple(seller["marketplace_ids"])
    region = marketplace(mids[0]).region
    return SellerAccount(
        name=name or f"amazon-{seller['seller_id'].lower()}",
        seller_id=seller["seller_id"],
        region=region,
        marketplace_ids=tuple(m for m in mids if marketplace(m).region == region),
        credentials=LwaCredentials(
            seller["client_id"], seller["client_secret"], seller["refresh_token"]
        ),
        endpoint_url=f"{sandbox.url}/{region.value.lower()}",
        lwa_token_url=sandbox.token_url,
        orders_api=orders_api,
    )


ClientFactory = Callable[..., SpApiClient]


def fast_client(account: SellerAccount) -> SpApiClient:
    """An SP-API client with short retries, for the channel worker under test."""
    return SpApiClient(account, retry=FAST_RETRY)


@pytest.fixture
def make_client(sandbox: SandboxServer, request: pytest.FixtureRequest) -> Iterator[ClientFactory]:
    """Build SP-API clients for sandbox sellers; closed after the test.

    When the test also uses ``channel_store``, each client's account is added to that
    hub database, as ``acorn hub channel add`` would.
    """
    made: list[SpApiClient] = []
    store: DbChannelStore | None = (
        request.getfixturevalue("channel_store")
        if "channel_store" in request.fixturenames
        else None
    )

    def build(
        seller: dict[str, Any],
        *,
        orders_api: str = "v0",
        retry: RetryPolicy = FAST_RETRY,
        **kwargs: Any,
    ) -> SpApiClient:
        client = SpApiClient(
            account_for(sandbox, seller, orders_api=orders_api), retry=retry, **kwargs
        )
        made.append(client)
        if store is not None:
            register(store, client.account)
        return client

    yield build
    for client in made:
        client.close()


CIPHER = CredentialCipher(CredentialCipher.generate_key())
"""The credential key of the test hub databases."""


def register(store: DbChannelStore, account: SellerAccount) -> None:
    """Add the seller account to the store's hub database unless it is there already."""
    with store.sessions.begin() as session:
        known = session.scalar(select(ChannelAccount.id).where(ChannelAccount.name == account.name))
        if known is None:
            channel_repo.add_account(session, account, CIPHER, now=datetime.now(UTC))


@pytest.fixture
def hub_sessions(hub_engine: Engine) -> sessionmaker[Session]:
    """Sessions on a migrated hub database (SQLite, then PostgreSQL)."""
    return make_sessionmaker(hub_engine)


@pytest.fixture
def channel_store(
    hub_sqlite_template: Path,
    tmp_path: Path,
) -> Iterator[DbChannelStore]:
    """The channel state store on a migrated SQLite hub database.

    The importer and pusher tests run on SQLite only; the hub tests
    (test_amazon_hub.py) and the crash-resume test cover PostgreSQL too.
    """
    import shutil

    shutil.copyfile(hub_sqlite_template, tmp_path / "channel-hub.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'channel-hub.db'}", writer=True)
    yield DbChannelStore(make_sessionmaker(engine))
    engine.dispose()


@pytest.fixture
def sqlite_hub(
    hub_sqlite_template: Path,
    tmp_path: Path,
) -> Iterator[Callable[[str], DbChannelStore]]:
    """Separate migrated SQLite hub databases by name (for comparing two stores)."""
    import shutil

    engines: list[Engine] = []

    def build(name: str) -> DbChannelStore:
        path = tmp_path / f"{name}.db"
        shutil.copyfile(hub_sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}", writer=True)
        engines.append(engine)
        return DbChannelStore(make_sessionmaker(engine))

    yield build
    for engine in engines:
        engine.dispose()
