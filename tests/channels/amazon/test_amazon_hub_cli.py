"""``acorn hub channel`` commands and the /api/v1/channels routes, on a SQLite hub database."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.auth import Role
from hub.channels.amazon.account import CredentialCipher
from hub.cli import hub as hub_cli
from hub.config import HubSettings
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models import Product
from hub.db.models_channels import ChannelAccount, MarketplaceOrder
from hub.db.tokens import create_token
from tests.channels.amazon.conftest import Scenario, ago

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"


@pytest.fixture
def hub_url(hub_sqlite_template: Path, tmp_path: Path) -> str:
    shutil.copyfile(hub_sqlite_template, tmp_path / "hub.db")
    return f"sqlite:///{tmp_path}/hub.db"


@pytest.fixture
def cli(hub_url: str, seller: dict[str, Any]) -> Any:
    """Run ``acorn hub ...`` in this process with the key and the seller's credentials set."""
    key = CredentialCipher.generate_key()
    env = {
        "ACORN_HUB_DATABASE_URL": hub_url,
        "ACORN_HUB_SECRETS_KEY": key,
        "ACORN_AMAZON_CLIENT_ID": seller["client_id"],
        "ACORN_AMAZON_CLIENT_SECRET": seller["client_secret"],
        "ACORN_AMAZON_REFRESH_TOKEN": seller["refresh_token"],
    }
    runner = CliRunner()

    def run(*args: str, code: int = 0, **kwargs: Any) -> Any:
        result = runner.invoke(hub_cli, list(args), env=kwargs.pop("env", env), **kwargs)
        assert result.exit_code == code, result.output + str(result.exception or "")
        return result

    run.env = env  # type: ignore[attr-defined]
    return run


def add_account(cli: Any, sandbox: Any, seller: dict[str, Any], name: str = "amazon-na") -> Any:
    return cli(
        "channel", "add", "amazon", "--name", name, "--region", "na",
        "--seller-id", seller["seller_id"], "--marketplace", "US", "--marketplace", "CA",
        "--endpoint", f"{sandbox.url}/na", "--token-url", sandbox.token_url,
    )  # fmt: skip


def test_add_stores_credentials_sealed_and_list_shows_no_secret(
    cli: Any, sandbox: Any, seller: dict[str, Any], hub_url: str
) -> None:
    added = add_account(cli, sandbox, seller)
    assert "added amazon-na" in added.output
    listing = cli("channel", "list").output
    assert "amazon-na" in listing
    assert f"{US},{CA}" in listing
    assert seller["client_secret"] not in listing
    assert seller["refresh_token"] not in listing
    engine = make_engine(hub_url)
    try:
        with make_sessionmaker(engine)() as session:
            row = session.scalars(select(ChannelAccount)).one()
            assert seller["refresh_token"] not in row.credentials_sealed
            assert seller["client_secret"] not in row.credentials_sealed
            assert (row.region, row.marketplace_ids) == ("NA", [US, CA])
    finally:
        engine.dispose()
    duplicate = cli(
        "channel", "add", "amazon", "--name", "amazon-na", "--region", "na",
        "--seller-id", "S2", "--marketplace", "US", code=1,
    )  # fmt: skip
    assert "a channel account named 'amazon-na' exists already" in duplicate.output


def test_add_without_credentials_or_key_says_what_to_set(
    cli: Any, sandbox: Any, seller: dict[str, Any], hub_url: str
) -> None:
    base = [
        "channel", "add", "amazon", "--name", "x", "--region", "na",
        "--seller-id", "S", "--marketplace", "US",
    ]  # fmt: skip
    no_key = cli(*base, code=1, env={"ACORN_HUB_DATABASE_URL": hub_url})
    assert "ACORN_HUB_SECRETS_KEY is not set" in no_key.output
    key = CredentialCipher.generate_key()
    no_secret = cli(
        *base,
        code=1,
        env={"ACORN_HUB_DATABASE_URL": hub_url, "ACORN_HUB_SECRETS_KEY": key},
        input="",
    )
    assert "ACORN_AMAZON_CLIENT_ID" in no_secret.output
    wrong_region = cli(
        *base[:-1], "UK", code=2, env={"ACORN_HUB_DATABASE_URL": hub_url,
        "ACORN_HUB_SECRETS_KEY": key, "ACORN_AMAZON_CLIENT_ID": "a",
        "ACORN_AMAZON_CLIENT_SECRET": "b", "ACORN_AMAZON_REFRESH_TOKEN": "c"},
    )  # fmt: skip
    assert "not in the NA region" in wrong_region.output


def test_map_import_reports_rows_and_unmapped_lists_the_rest(
    cli: Any, sandbox: Any, seller: dict[str, Any], hub_url: str, tmp_path: Path
) -> None:
    add_account(cli, sandbox, seller)
    engine = make_engine(hub_url, writer=True)
    try:
        with make_sessionmaker(engine).begin() as session:
            for sku in ("MUG", "TEA", "LAMP"):
                session.add(
                    Product(
                        sku=sku, name=sku, tax_class="standard", version=1,
                        updated_at=datetime.now(UTC),
                    )
                )  # fmt: skip
    finally:
        engine.dispose()
    csv_file = tmp_path / "map.csv"
    csv_file.write_text(
        "canonical_sku,marketplace,seller_sku,asin\n"
        "MUG,US,AZ-MUG,B000000001\n"
        "MUG,CA,AZ-MUG,B000000001\n"
        "TEA,US,AZ-TEA,nope\n"
        "TEA,UK,AZ-TEA,B000000002\n"
        "LAMP,US,AZ-MUG,B000000003\n",
        encoding="utf-8",
    )
    result = cli("channel", "map", "import", str(csv_file), code=1)
    assert "line 4: asin 'NOPE' is not 10 letters or digits" in result.output
    assert "line 6: seller SKU AZ-MUG is already used in this marketplace on line 2" in (
        result.output
    )
    assert "TEA: marketplace A1F83G8C2ARO7P is not one of amazon-na's" in result.output
    assert "2 mapping(s) added, 0 updated, 3 row(s) refused" in result.output
    unmapped = cli("channel", "unmapped", "amazon-na").output
    assert "LAMP\tUS, CA" in unmapped
    assert "TEA\tUS, CA" in unmapped
    assert "MUG" not in unmapped.split("unmapped SKU")[0]


def test_sync_imports_and_pushes_now_with_progress(
    cli: Any, sandbox: Any, seller: dict[str, Any], scenario: Scenario
) -> None:
    add_account(cli, sandbox, seller)
    scenario.add_orders(seller["seller_id"], count=3, purchase_date=ago(minutes=30))
    result = cli("channel", "sync", "amazon-na")
    assert "importing orders of amazon-na" in result.output
    assert f"{US}: 1 page(s), 3 orders (created 3)" in result.output
    assert "pushing quantities of amazon-na" in result.output
    assert "health: ok" in result.output
    assert "never" not in cli("channel", "list").output
    scenario.call("POST", f"/sellers/{seller['seller_id']}/revoke")
    scenario.call("POST", "/tokens/expire", {"seller_id": seller["seller_id"]})
    refused = cli("channel", "sync", "amazon-na", code=1)
    assert "refresh token" in refused.output.lower()
    assert "did not complete" in refused.output
    fresh = scenario.call("POST", f"/sellers/{seller['seller_id']}/reauthorize")["refresh_token"]
    env = {**cli.env, "ACORN_AMAZON_REFRESH_TOKEN": fresh}
    assert "credentials replaced" in cli("channel", "credentials", "amazon-na", env=env).output
    assert "health: ok" in cli("channel", "sync", "amazon-na").output


def test_api_lists_accounts_without_secrets_health_unmapped_and_orders(
    cli: Any, sandbox: Any, seller: dict[str, Any], scenario: Scenario, hub_url: str
) -> None:
    add_account(cli, sandbox, seller)
    scenario.add_orders(seller["seller_id"], count=2, purchase_date=ago(minutes=30))
    scenario.add_orders(seller["seller_id"], status="Pending", purchase_date=ago(minutes=30))
    cli("channel", "sync", "amazon-na")
    engine = make_engine(hub_url, writer=True)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        _, new = create_token(
            session, name="reader", roles=frozenset({Role.READER}), now=datetime.now(UTC)
        )
        token = new.plaintext
    from hub.app import create_app

    app = create_app(HubSettings(database_url=hub_url), engine=engine)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(app) as client:
            accounts = client.get("/api/v1/channels", headers=headers)
            assert accounts.status_code == 200
            text = accounts.text
            assert seller["refresh_token"] not in text
            assert seller["client_secret"] not in text
            assert "credentials" not in text
            [account] = accounts.json()
            assert account["name"] == "amazon-na"
            assert {i["marketplace_id"] for i in account["imports"]} == {US, CA}
            health = client.get("/api/v1/channels/amazon-na/health", headers=headers).json()
            assert (health["status"], health["token_state"]) == ("ok", "valid")
            assert client.get("/api/v1/channels/amazon-na/unmapped", headers=headers).json() == []
            to_route = client.get(
                "/api/v1/channels/orders", params={"routing_state": "to_route"}, headers=headers
            ).json()
            assert to_route["total"] == 2
            assert {o["routing_state"] for o in to_route["items"]} == {"to_route"}
            every = client.get("/api/v1/channels/orders", headers=headers).json()
            assert every["total"] == 3
            assert client.get("/api/v1/channels/nope/health", headers=headers).status_code == 404
            assert client.get("/api/v1/channels", headers={}).status_code == 401
        with sessions() as session:
            assert session.scalar(select(MarketplaceOrder.id).limit(1)) is not None
    finally:
        engine.dispose()
