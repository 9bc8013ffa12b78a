"""Store sale to Amazon listing: latency through the whole chain.

A real edge agent rings one-unit sales at its till (cashier JSON API); its outbox
publishes over Mosquitto; the hub's ingest worker applies the event to the ledger;
the channel worker sees the new stock movement, recomputes the channel quantity and
patches the listing in the SP-API sandbox. The figure is the time from the sale's
completion request to the sandbox reporting the accepted quantity (the sandbox's
own "accepted -> visible" delay is set to 0 here: Amazon adds its own on top, see
bench/amazon_push.py).

The floor it is compared with, measured in the same run on the same broker and
sandbox: one MQTT QoS 1 hop (a bare paho publish -> the subscriber's callback) plus
one direct patchListingsItem through an SP-API client of the same account on a
second listing until the sandbox shows it. Everything above that sum is the chain's
own work and waits (the edge pump, hub batching, the channel worker's tick).

Run: ``.venv/bin/python bench/amazon_store_to_listing.py [--samples 30] [--quick]``.
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
import paho.mqtt.client as paho
from _common import add_quick, apply_defaults, figure, load_line
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from edge_agent.app import EdgeAgent
from edge_agent.config import BrokerConfig, EdgeSettings, UiConfig
from edge_agent.store.cashiers import Role
from hub.channels.amazon.account import CredentialCipher, LwaCredentials, SellerAccount
from hub.channels.amazon.client import SpApiClient
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


def mqtt_hop(port: int, samples: int) -> list[float]:
    """Seconds from a bare QoS 1 publish to the subscriber's callback, one at a time."""
    import threading

    got = threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"floor-sub-{uuid.uuid4().hex[:6]}")
    sub.on_message = lambda *_: got.set()
    ready = threading.Event()
    sub.on_subscribe = lambda *_: ready.set()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("bench/floor", qos=1)
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"floor-pub-{uuid.uuid4().hex[:6]}")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    ready.wait(10)
    out = []
    try:
        for _ in range(samples):
            got.clear()
            t = time.monotonic()
            pub.publish("bench/floor", b"x" * 1000, qos=1)
            if got.wait(10):
                out.append(time.monotonic() - t)
            time.sleep(0.01)
    finally:
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--samples", type=int, help="one-unit sales to time (30)")
    parser.add_argument(
        "--tick-s",
        type=float,
        default=ChannelWorkerPolicy().tick_s,
        help="the channel worker's tick (its default)",
    )
    args = apply_defaults(parser.parse_args(), {"samples": 30}, {"samples": 4})
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
    http.post(f"/_sandbox/sellers/{sid}/listings", json={"sku": "AZ-FLOOR", "quantity": 0})
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

    def listed(sku: str = f"AZ-{SKU}") -> int:
        rows = http.get(f"/_sandbox/sellers/{sid}/listings").json()["listings"]
        row = next(r for r in rows if r["sku"] == sku)
        return int(row["offers"][US]["listed_quantity"])

    def wait_for(quantity: int, timeout: float = 30.0, sku: str = f"AZ-{SKU}") -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if listed(sku) == quantity:
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
        hops = mqtt_hop(port, args.samples)
        direct = SpApiClient(account)
        patches: list[float] = []
        try:
            for n in range(1, args.samples + 1):
                started = time.monotonic()
                direct.patch_listings_item(
                    "AZ-FLOOR",
                    [US],
                    {
                        "productType": "PRODUCT",
                        "patches": [
                            {
                                "op": "replace",
                                "path": "/attributes/fulfillment_availability",
                                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": n}],
                            }
                        ],
                    },
                )
                patches.append(wait_for(n, sku="AZ-FLOOR") - started)
        finally:
            direct.close()
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
    floor50 = pct(hops, 0.5) + pct(patches, 0.5)
    floor95 = pct(hops, 0.95) + pct(patches, 0.95)
    print(
        f"  floor: MQTT QoS 1 hop p50 {pct(hops, 0.5) * 1000:.1f} ms / p95 "
        f"{pct(hops, 0.95) * 1000:.1f} ms + direct SP-API patch to visible p50 "
        f"{pct(patches, 0.5) * 1000:.1f} ms / p95 {pct(patches, 0.95) * 1000:.1f} ms"
    )
    print(load_line("at the end"))
    figure(
        "store sale -> marketplace quantity, p50",
        pct(latencies, 0.5),
        "s",
        ceiling="MQTT hop + direct SP-API patch, p50",
        ceiling_value=floor50,
        higher_is_better=False,
    )
    figure(
        "store sale -> marketplace quantity, p95",
        pct(latencies, 0.95),
        "s",
        ceiling="MQTT hop + direct SP-API patch, p95",
        ceiling_value=floor95,
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
