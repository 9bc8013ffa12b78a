"""Outbox drain to Mosquitto (events/s), with the raw broker rate of the same run beside it.

Run: .venv/bin/python bench/edge_outbox_drain.py [--events 20000] [--batch 100]

Starts a private Mosquitto on 127.0.0.1 (passwords, persistence off), then in one
process (so both sides pay the same GIL and CPU):

1. raw: a bare paho client publishes the same number of one-event payloads at
   QoS 1 (default inflight window of 20) to a subscriber; then the same events
   packed ``--batch`` per message. Rate = received / (last receive - first publish).
2. drain: an edge outbox holding ``--events`` sale.completed events (about 1 KB
   each) is drained by the real SyncService to a test client playing the hub, which
   acks the highest contiguous seq as batches arrive. Rate = events / (time until
   the outbox is empty, i.e. acked and deleted).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.store.db import Synchronous, write_transaction
from edge_agent.store.facade import open_store
from edge_agent.sync.service import BrokerSettings, MqttVersion, SyncService, SyncTuning
from protocol import topics

STORE = "s-001"
USERS = {"hub": "hub-pw", STORE: "store-pw"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
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
            return proc, port
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


def sale_body(i: int) -> dict[str, Any]:
    lines = [
        {
            "line_no": n,
            "sku": f"SKU-{n}",
            "gtin": "05000000000016",
            "name": f"Item {n}",
            "qty": 1,
            "unit_price_minor": 199,
            "discount_minor": 0,
            "tax_class": "standard",
            "tax_rate_bp": 2000,
            "tax_minor": 33,
            "total_minor": 199,
        }
        for n in range(1, 4)
    ]
    return {
        "sale_id": str(uuid.uuid4()),
        "receipt_no": f"{STORE}-{i:06d}",
        "cashier_id": "c1",
        "shift_id": None,
        "business_day": "2026-11-27",
        "currency": "GBP",
        "prices_include_tax": True,
        "lines": lines,
        "discounts": [],
        "subtotal_minor": 597,
        "tax_minor": 99,
        "total_minor": 597,
        "tenders": [{"kind": "cash", "amount_minor": 1000, "reference": None, "change_minor": 403}],
        "completed_at": datetime.now(UTC).isoformat(),
    }


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


def drain_rate(
    folder: Path, port: int, n: int, batch: int, mode: Synchronous
) -> tuple[float, int, float]:
    """Events per second until the outbox is empty; also batches seen and fill time."""
    store = open_store(folder / f"edge-{mode}.db", STORE, synchronous=mode)
    t = time.perf_counter()
    with write_transaction(store.db):
        for i in range(n):
            store.outbox.append("sale.completed", sale_body(i))
    fill_s = time.perf_counter() - t
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
        c.publish(topics.down_ack(STORE), json.dumps({"v": 1, "store": STORE, "seq": ack}), qos=1)

    hub = client(port, "hub", on_message)
    hub.subscribe(topics.up_events(STORE), qos=1)
    time.sleep(0.2)
    service = SyncService(
        store,
        BrokerSettings(
            host="127.0.0.1",
            port=port,
            username=STORE,
            password=USERS[STORE],
            mqtt_version=MqttVersion.V5,
        ),
        currency="GBP",
        agent_version="bench",
        tuning=SyncTuning(batch_events=batch, ack_timeout_s=30, status_interval_s=60),
    )
    start = time.perf_counter()
    service.start()
    deadline = time.monotonic() + 600
    while store.outbox.stats().depth and time.monotonic() < deadline:
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    service.stop()
    hub.disconnect()
    hub.loop_stop()
    store.close()
    return n / elapsed, batches[0], fill_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="edge-drain-bench-"))
    proc, port = start_mosquitto(folder)
    try:
        one = [
            json.dumps(
                {
                    "v": 1,
                    "id": str(uuid.uuid4()),
                    "store": STORE,
                    "seq": i + 1,
                    "type": "sale.completed",
                    "at": "2026-11-27T10:00:00.000Z",
                    "body": sale_body(i),
                }
            ).encode()
            for i in range(args.events)
        ]
        packed = [
            b"[" + b",".join(one[i : i + args.batch]) + b"]" for i in range(0, len(one), args.batch)
        ]
        raw_single = raw_rate(port, one)
        raw_packed = raw_rate(port, packed)
        drains = {
            mode: drain_rate(folder, port, args.events, args.batch, mode)
            for mode in (Synchronous.FULL, Synchronous.NORMAL)
        }
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    size = len(one[0])
    print(
        f"edge outbox drain to Mosquitto: {args.events} sale.completed events of ~{size} B, "
        f"batches of {args.batch}"
    )
    print(f"{'what':<44}{'events/s':>10}{'msgs/s':>10}")
    print(f"{'raw paho QoS 1, one event per message':<44}{raw_single:>10.0f}{raw_single:>10.0f}")
    print(
        f"{f'raw paho QoS 1, {args.batch} events per message':<44}"
        f"{raw_packed * args.batch:>10.0f}{raw_packed:>10.0f}"
    )
    for mode, (drain, batches, fill_s) in drains.items():
        label = f"edge outbox drain, synchronous={mode}"
        print(
            f"{label:<44}{drain:>10.0f}{drain / args.batch:>10.0f}"
            f"   (hub saw {batches} batches; outbox filled in {fill_s:.1f} s)"
        )


if __name__ == "__main__":
    main()
