"""End to end: a store sale changes the sandbox's listed quantity within seconds.

Real parts only: the edge agent (its SQLite store, outbox, MQTT sync and cashier JSON
API), Mosquitto, the hub's ingest worker and channel worker on a SQLite hub database,
and the SP-API sandbox over HTTP. No timing assertion: the wait has a generous
deadline; bench/amazon_push.py --e2e measures the latency.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from edge_agent.app import EdgeAgent
from edge_agent.config import BrokerConfig, EdgeSettings, UiConfig
from edge_agent.store.cashiers import Role
from hub.channels.amazon.mapping import SkuMapping
from hub.channels.worker import ChannelWorker, ChannelWorkerPolicy
from hub.config import HubSettings
from hub.db import channels as repo
from hub.db import stores
from hub.db.engine import make_engine, make_sessionmaker
from hub.ingest.worker import IngestWorker
from tests.channels.amazon.conftest import CIPHER, Scenario, account_for, fast_client
from tests.fixtures.brokers import BrokerInfo
from tests.fixtures.util import wait_until

STORE = "s-001"
SKU = "TEA-01"
EAN = "4006381333931"
PIN = "2468"
US = "ATVPDKIKX0DER"


@dataclass
class Chain:
    """A hub (ingest + channel worker), one store's edge agent and a sandbox seller."""

    sessions: sessionmaker[Session]
    agent: EdgeAgent
    till: httpx.Client
    seller: dict[str, Any]
    scenario: Scenario

    def listed(self) -> int:
        """The quantity Amazon shows for the SKU's listing."""
        offer = self.scenario.listings(self.seller["seller_id"])[f"AZ-{SKU}"]["offers"][US]
        return int(offer["listed_quantity"])

    def sell(self, qty: int) -> None:
        """Ring a sale at the till: scan the barcode ``qty`` times over, pay by card."""
        cart = self.till.post("/api/cart/scan", json={"code": EAN, "qty": qty})
        assert cart.status_code == 200, cart.text
        body = cart.json()["cart"]
        done = self.till.post(
            "/api/cart/complete",
            json={
                "cart_id": body["cart_id"],
                "tenders": [
                    {"kind": "card", "amount_minor": body["total"]["minor"], "reference": "t-1"}
                ],
            },
        )
        assert done.status_code == 201, done.text


def _edge_settings(tmp_path: Path, broker: BrokerInfo) -> EdgeSettings:
    return EdgeSettings(
        store_id=STORE,
        store_name="Store 1",
        tz="America/New_York",
        currency="USD",
        database=tmp_path / "edge.db",
        broker=BrokerConfig(
            host=broker.host,
            port=broker.port,
            username=STORE,
            password=SecretStr(broker.users[STORE]),
            backoff_initial_s=0.2,
            backoff_max_s=1.0,
        ),
        ui=UiConfig(host="127.0.0.1", port=0),
    )


@pytest.fixture
def chain(
    mosquitto: BrokerInfo,
    hub_sqlite_template: Path,
    tmp_path: Path,
    sandbox: Any,
    scenario: Scenario,
) -> Iterator[Chain]:
    """Everything from the till to the marketplace, started in this process."""
    shutil.copyfile(hub_sqlite_template, tmp_path / "hub.db")
    url = f"sqlite:///{tmp_path}/hub.db"
    engine: Engine = make_engine(url, writer=True)
    sessions = make_sessionmaker(engine)
    seller = scenario.add_seller(["US"])
    scenario.add_listing(seller["seller_id"], f"AZ-{SKU}", 0)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        stores.create_store(
            session,
            store_id=STORE,
            name="Store 1",
            timezone="America/New_York",
            currency="USD",
            now=now,
        )
        account = repo.add_account(session, account_for(sandbox, seller), CIPHER, now=now)
        repo.import_mappings(
            session, account.id, [SkuMapping(SKU, US, f"AZ-{SKU}", "B000000001")], now=now
        )
    settings = HubSettings(
        database_url=url,
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
        mqtt_username="hub",
        mqtt_password=mosquitto.users["hub"],
        worker_id=f"w-{uuid.uuid4().hex[:8]}",
        scheduler_interval_s=0.2,
    )
    ingest = IngestWorker(settings, sessions)
    channels = ChannelWorker(
        sessions,
        CIPHER,
        worker_id=settings.worker_id,
        policy=ChannelWorkerPolicy(tick_s=0.1),
        client_factory=fast_client,
    )
    edge = _edge_settings(tmp_path, mosquitto)
    agent = EdgeAgent(edge)
    agent.store.cashiers.add("ann", "Ann Till", PIN, role=Role("cashier"))
    agent.store.catalog.upsert(SKU, "Green tea", 450, "standard", barcodes=[EAN])
    ingest.start()
    channels.start()
    agent.start()
    till = httpx.Client(base_url=agent.ui_url, timeout=10)
    try:
        assert till.post("/api/login", json={"cashier_id": "ann", "pin": PIN}).status_code == 200
        opened = till.post("/api/shift/open", json={"opening_float_minor": 0})
        assert opened.status_code in (200, 201), opened.text
        yield Chain(sessions, agent, till, seller, scenario)
    finally:
        till.close()
        agent.stop()
        channels.stop()
        ingest.stop()
        engine.dispose()


def test_a_store_sale_changes_the_listed_quantity_within_seconds(chain: Chain) -> None:
    """GIVEN a store with 5 units of a SKU listed on Amazon WHEN the cashier sells 2
    THEN the edge's event reaches the hub's ledger and the listing shows 3."""
    chain.agent.store.stock.receive(SKU, 5, reference="goods in")  # stock.received -> hub
    wait_until(lambda: chain.listed() == 5, timeout=20, interval=0.1, message="5 listed")
    chain.sell(2)
    wait_until(lambda: chain.listed() == 3, timeout=20, interval=0.1, message="3 listed")
    chain.sell(3)  # the last units: zero jumps the queue
    wait_until(lambda: chain.listed() == 0, timeout=20, interval=0.1, message="sold out")
