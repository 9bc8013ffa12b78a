"""Store sale to Amazon listing: latency through the whole chain.

A real edge agent rings one-unit sales at its till (cashier JSON API); its outbox
publishes over Mosquitto; the hub's ingest worker applies the event to the ledger;
the channel worker sees the new stock movement, recomputes the channel quantity and
patches the listing in the SP-API sandbox. The figure is the time from the sale's
completion request to the sandbox reporting the accepted quantity (the sandbox's
own "accepted -> visible" delay is set to 0 here: Amazon adds its own on top, see
bench/amazon_push.py).

Run: ``.venv/bin/python bench/amazon_store_to_listing.py [--samples 30]``.
Needs /usr/sbin/mosquitto. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from edge_agent.app import EdgeAgent
from edge_agent.config import BrokerConfig, EdgeSettings, UiConfig
from edge_agent.store.cashiers import Role
from hub.channels.amazon.account import CredentialCipher, LwaCredentials, SellerAccount
from hub.channels.amazon.mapping import SkuMapping
from hub.channels.amazon.marketplaces import Region
from hub.channels.amazon.sandbox import SandboxServer, SandboxState, Settings
from hub.channels.worker import ChannelWorker, ChannelWorkerPolicy
from hub.config import HubSettings
from hub.db import channels as repo
from hub.db import stores
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.migrate import upgrade
from hub.ingest.worker import IngestWorker

US = "ATVPDKIKX0DER"
STORE = "s-001"
SKU = "TEA-01"
EAN = "4006381333931"
PIN = "2468"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false"]
    if os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("mosquitto did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--tick-s", type=float, default=ChannelWorkerPolicy().tick_s)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per till request
    folder = Path(tempfile.mkdtemp(prefix="acorn-bench-e2e-"))
    broker, port = start_mosquitto(folder)
    settings = dataclasses.replace(Settings.fast_mode(), listing_apply_delay_s=0.0)
    sandbox = SandboxServer(SandboxState(settings=settings)).start()
    http = httpx.Client(base_url=sandbox.url, timeout=10)
    url = f"sqlite:///{folder / 'hub.db'}"
    engine = make_engine(url, writer=True)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    seller = http.post("/_sandbox/sellers", json={"marketplaces": ["US"]}).json()
    sid = seller["seller_id"]
    http.post(f"/_sandbox/sellers/{sid}/listings", json={"sku": f"AZ-{SKU}", "quantity": 0})
    cipher = CredentialCipher(CredentialCipher.generate_key())
    account = SellerAccount(
        "bench",
        sid,
        Region.NA,
        (US,),
        LwaCredentials(seller["client_id"], seller["client_secret"], seller["refresh_token"]),
        endpoint_url=f"{sandbox.url}/na",
        lwa_token_url=sandbox.token_url,
    )
    now = datetime.now(UTC)
    with sessions.begin() as session:
        stores.create_store(
            session, store_id=STORE, name="S1", timezone="UTC", currency="USD", now=now
        )
        row = repo.add_account(session, account, cipher, now=now)
        repo.import_mappings(
            session, row.id, [SkuMapping(SKU, US, f"AZ-{SKU}", "B000000001")], now=now
        )
    hub_settings = HubSettings(
        database_url=url,
        mqtt_host="127.0.0.1",
        mqtt_port=port,
        mqtt_username="hub",
        worker_id=f"bench-{uuid.uuid4().hex[:6]}",
        log_level="WARNING",
    )
    ingest = IngestWorker(hub_settings, sessions)
    channels = ChannelWorker(
        sessions, cipher, worker_id="bench", policy=ChannelWorkerPolicy(tick_s=args.tick_s)
    )
    agent = EdgeAgent(
        EdgeSettings(
            store_id=STORE,
            currency="USD",
            tz="UTC",
            database=folder / "edge.db",
            broker=BrokerConfig(
                host="127.0.0.1", port=port, username=STORE, password=SecretStr("x")
            ),
            ui=UiConfig(port=0),
        )
    )
    agent.store.cashiers.add("ann", "Ann", PIN, role=Role("cashier"))
    agent.store.catalog.upsert(SKU, "Green tea", 450, "standard", barcodes=[EAN])
    stock = args.samples + 5
    agent.store.stock.receive(SKU, stock, reference="bench")
    ingest.start()
    channels.start()
    agent.start()
    till = httpx.Client(base_url=agent.ui_url, timeout=10)

    def listed() -> int:
        rows = http.get(f"/_sandbox/sellers/{sid}/listings").json()["listings"]
        return int(rows[0]["offers"][US]["listed_quantity"])

    def wait_for(quantity: int, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if listed() == quantity:
                return time.monotonic()
            time.sleep(0.005)
        raise SystemExit(f"the listing never showed {quantity}")

    latencies: list[float] = []
    try:
        till.post("/api/login", json={"cashier_id": "ann", "pin": PIN}).raise_for_status()
        till.post("/api/shift/open", json={"opening_float_minor": 0}).raise_for_status()
        wait_for(stock)
        for _ in range(args.samples):
            cart = till.post("/api/cart/scan", json={"code": EAN, "qty": 1}).json()["cart"]
            started = time.monotonic()
            till.post(
                "/api/cart/complete",
                json={
                    "cart_id": cart["cart_id"],
                    "tenders": [
                        {"kind": "card", "amount_minor": cart["total"]["minor"], "reference": "b"}
                    ],
                },
            ).raise_for_status()
            stock -= 1
            latencies.append(wait_for(stock) - started)
            time.sleep(0.2)
    finally:
        till.close()
        agent.stop()
        channels.stop()
        ingest.stop()
        engine.dispose()
        sandbox.stop()
        http.close()
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"store sale -> Amazon accepted quantity, through Mosquitto, hub ingest and the channel "
        f"worker (tick {args.tick_s} s), {len(latencies)} one-unit sales:"
    )
    print(
        f"  p50 {pct(latencies, 0.5):.2f} s, p95 {pct(latencies, 0.95):.2f} s, "
        f"max {max(latencies):.2f} s, mean {statistics.mean(latencies):.2f} s"
    )


if __name__ == "__main__":
    main()
