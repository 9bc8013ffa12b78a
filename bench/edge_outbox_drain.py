"""Outbox catch-up: sales rung offline, then the agent reconnects and drains (events/s).

Run: .venv/bin/python bench/edge_outbox_drain.py [--sales 10000] [--batch 100] [--quick]

For each durability mode (synchronous FULL, then NORMAL), in one process (so both
sides pay the same GIL and CPU):

1. offline: the real SyncService runs against a port where no broker listens yet
   (connection refused, backoff), while ``--sales`` sales of 3 lines are rung
   through the real sale path (``SalesRepository.complete``: sale, lines, tender,
   stock and the sale.completed outbox event in one transaction each);
2. reconnect: Mosquitto (passwords, persistence off) starts on that port, a test
   client playing the hub subscribes to the store's ``up/events`` and acks the
   highest contiguous seq as batches arrive; ``retry()`` (the till's "retry now")
   ends the agent's backoff (set to an hour here, so it cannot reconnect on its own
   before the hub listens). Catch-up rate = sales / (outbox empty, i.e. every
   event acked and deleted - "retry now"), the reconnect included (printed apart);
3. ceiling, on the same broker: a bare paho client publishes exactly the outbox's
   payloads at QoS 1 (default inflight window of 20) to a subscriber, one event per
   message and then ``--batch`` per message. Rate = received / (last receive - first
   publish).

Prints events/s and messages/s. Needs /usr/sbin/mosquitto and mosquitto_passwd.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from _common import add_quick, apply_defaults, figure, load_line
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.domain.sale import Cart
from edge_agent.domain.tender import Tender
from edge_agent.store.db import Synchronous
from edge_agent.store.facade import EdgeStore, open_store
from edge_agent.store.models import Stock
from edge_agent.store.outbox import PendingEvent, join_batch
from edge_agent.sync.service import (
    BrokerSettings,
    LinkState,
    MqttVersion,
    SyncService,
    SyncTuning,
)
from protocol import topics
from protocol.money import Money

STORE = "s-001"
USERS = {"hub": "hub-pw", STORE: "store-pw"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SKUS = [("MILK", 129, "zero"), ("WINE", 899, "standard"), ("SOAP", 350, "standard")]


def start_mosquitto(folder: Path, port: int) -> subprocess.Popen[bytes]:
    passwd = folder / "passwd"
    passwd.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True)
    conf = folder / "mosquitto.conf"
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous false",
        f"password_file {passwd}",
        "persistence false",
        "max_queued_messages 200000",
        "set_tcp_nodelay true",
        "log_dest stderr",
        "log_type error",
    ]
    if os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def client(port: int, user: str, on_message: Any = None) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    c.username_pw_set(user, USERS[user])
    if on_message is not None:
        c.on_message = on_message
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not connected.wait(10):
        raise RuntimeError("no CONNACK")
    return c


def raw_rate(port: int, payloads: list[bytes]) -> float:
    """Messages per second from first publish to last receive, QoS 1 both ways."""
    done = threading.Event()
    count = [0]
    last = [0.0]

    def on_message(c: Any, u: Any, m: Any) -> None:
        count[0] += 1
        if count[0] == len(payloads):
            last[0] = time.perf_counter()
            done.set()

    topic = f"bench/raw/{uuid.uuid4().hex[:6]}"
    sub = client(port, "hub", on_message)
    sub.subscribe(topic, qos=1)
    time.sleep(0.2)  # let SUBACK land before the clock starts
    pub = client(port, "hub")
    start = time.perf_counter()
    for payload in payloads:
        pub.publish(topic, payload, qos=1)
    if not done.wait(300):
        raise RuntimeError(f"raw: only {count[0]} of {len(payloads)} arrived")
    rate = len(payloads) / (last[0] - start)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return rate


def ring_offline(store: EdgeStore, n: int) -> float:
    """Ring n three-line sales through the real sale path; return the seconds it took."""
    for sku, price, tax_class in SKUS:
        store.catalog.upsert(sku, sku.title(), price, tax_class)
    Stock.update(on_hand=1_000_000).execute()
    items = [store.catalog.get(sku).as_item("GBP") for sku, _, _ in SKUS]
    tender = [Tender.cash(Money(5000, "GBP"))]
    t = time.perf_counter()
    for _ in range(n):
        cart = Cart.start(uuid.uuid4(), store.policy)
        for item in items:
            cart = cart.add(item)
        store.sales.complete(cart, cashier_id="c1", tenders=tender)
    return time.perf_counter() - t


def wait(predicate: Any, timeout: float, what: str) -> None:
    """Poll every 5 ms until predicate() is true; SystemExit at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)


@dataclass
class Catchup:
    """One mode's run: ring time, reconnect time, drain time, what the hub saw."""

    mode: Synchronous
    sales: int
    ring_s: float
    reconnect_s: float
    drain_s: float
    batches: int
    payloads: list[bytes]

    @property
    def rate(self) -> float:
        """Events per second from "retry now" (broker back) to outbox empty, reconnect included."""
        return self.sales / (self.reconnect_s + self.drain_s)


def catch_up(folder: Path, n: int, batch: int, mode: Synchronous) -> tuple[Catchup, Any, int]:
    """Ring offline, start the broker, reconnect, drain. Returns the run, the broker, its port."""
    port = free_port()
    store = open_store(folder / f"edge-{mode}.db", STORE, synchronous=mode)
    service = SyncService(
        store,
        BrokerSettings(
            host="127.0.0.1",
            port=port,
            username=STORE,
            password=USERS[STORE],
            mqtt_version=MqttVersion.V5,
            # After the first refused attempt the agent waits for retry(), not a backoff
            # timer, so the clock starts when the broker is back and the hub listens.
            backoff_initial_s=3600.0,
            backoff_max_s=3600.0,
        ),
        currency="GBP",
        agent_version="bench",
        tuning=SyncTuning(batch_events=batch, ack_timeout_s=30, status_interval_s=60),
    )
    service.start()
    broker = None
    try:
        ring_s = ring_offline(store, n)
        stats = store.outbox.stats()
        if stats.depth != n or service.status().state is LinkState.ONLINE:
            raise SystemExit(f"expected {n} events queued offline, found {stats.depth}")
        payloads = [e.payload for e in store.outbox.pending(0, limit=n)]
        broker = start_mosquitto(folder, port)
        highest = [0]
        batches = [0]
        lock = threading.Lock()
        received: set[int] = set()

        def on_message(c: mqtt.Client, u: Any, m: Any) -> None:
            items = json.loads(m.payload)
            with lock:
                batches[0] += 1
                received.update(e["seq"] for e in items)
                while highest[0] + 1 in received:
                    highest[0] += 1
                ack = highest[0]
            c.publish(
                topics.down_ack(STORE), json.dumps({"v": 1, "store": STORE, "seq": ack}), qos=1
            )

        hub = client(port, "hub", on_message)
        hub.subscribe(topics.up_events(STORE), qos=1)
        time.sleep(0.2)
        t_up = time.perf_counter()
        service.retry()
        wait(lambda: service.status().state is LinkState.ONLINE, 60, "the link to come up")
        t_online = time.perf_counter()
        wait(lambda: store.outbox.stats().depth == 0, 600, "the outbox to drain")
        t_empty = time.perf_counter()
        hub.disconnect()
        hub.loop_stop()
    finally:
        service.stop()
        store.close()
    run = Catchup(mode, n, ring_s, t_online - t_up, t_empty - t_online, batches[0], payloads)
    return run, broker, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--sales", type=int, help="sales rung offline (10,000)")
    parser.add_argument("--batch", type=int, help="events per message (100, the agent's default)")
    args = apply_defaults(
        parser.parse_args(), {"sales": 10_000, "batch": 100}, {"sales": 300, "batch": 100}
    )
    folder = Path(tempfile.mkdtemp(prefix="edge-drain-bench-"))
    runs: list[Catchup] = []
    raw_single = raw_packed = 0.0
    try:
        for mode in (Synchronous.FULL, Synchronous.NORMAL):
            run, broker, port = catch_up(folder, args.sales, args.batch, mode)
            runs.append(run)
            try:
                if mode is Synchronous.FULL:
                    one = run.payloads
                    packed = [
                        join_batch_bytes(one[i : i + args.batch])
                        for i in range(0, len(one), args.batch)
                    ]
                    raw_single = raw_rate(port, one)
                    raw_packed = raw_rate(port, packed)
            finally:
                broker.terminate()
                broker.wait(10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    size = len(runs[0].payloads[0])
    print(
        f"edge outbox catch-up: {args.sales} three-line sales rung offline, events of ~{size} B, "
        f"batches of {args.batch}, Mosquitto started after the sales"
    )
    print(f"{'what':<46}{'events/s':>10}{'msgs/s':>10}")
    print(f"{'raw paho QoS 1, one event per message':<46}{raw_single:>10.0f}{raw_single:>10.0f}")
    print(
        f"{f'raw paho QoS 1, {args.batch} events per message':<46}"
        f"{raw_packed * args.batch:>10.0f}{raw_packed:>10.0f}"
    )
    for run in runs:
        label = f"catch-up, synchronous={run.mode}"
        detail = (
            f"link up {run.reconnect_s:.2f} s after retry, then drained in {run.drain_s:.2f} s;"
            f" hub saw {run.batches} batches; sales rung in {run.ring_s:.1f} s,"
            f" {run.sales / run.ring_s:.0f}/s"
        )
        print(f"{label:<46}{run.rate:>10.0f}{run.rate / args.batch:>10.0f}   ({detail})")
    print(load_line("at the end"))
    full = runs[0]
    figure(
        f"outbox catch-up after {args.sales} offline sales (FULL)",
        full.rate,
        "events/s",
        ceiling=f"raw paho QoS 1 publish, {args.batch} events per message, same broker",
        ceiling_value=raw_packed * args.batch,
    )


def join_batch_bytes(payloads: list[bytes]) -> bytes:
    """The batch payload the agent builds from these events."""
    return join_batch([PendingEvent(i, p) for i, p in enumerate(payloads, 1)])


if __name__ == "__main__":
    main()
