"""Hub ingest throughput: events applied per second from N simulated stores through Mosquitto.

Run: .venv/bin/python bench/hub_ingest.py [--stores 10] [--events 3000] [--per-message 10]
                                           [--db sqlite,postgres] [--workers 1] [--quick]

For each database the script starts a fresh Mosquitto (anonymous, no persistence) and,
for PostgreSQL, a throw-away cluster (fsync off, as the test fixture runs it). Then, in
the same run:

1. raw ceiling: a plain paho subscriber (QoS 1, its own process) receives exactly the
   messages the stores publish; events/s = events / (last receive - first publish);
2. hub: `acorn hub serve --no-api` (its own process, MQTT 5 shared subscription, manual
   PUBACK after commit) applies the same stream; events/s = events / (moment every
   store's contiguous seq reached its last seq - first publish), polled every 20 ms.

Every event is a sale.completed of two lines (two stock movements, two sales facts).
Prints both rates and hub/raw. Timing lives here, never in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import add_quick, apply_defaults, figure, load_line, run_sink  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402

from hub.db import stores  # noqa: E402
from hub.db.engine import make_engine, make_sessionmaker  # noqa: E402
from hub.db.ledger import LedgerWriter, MovementContext  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.db.models import StoreSync  # noqa: E402

TOPIC_FILTER = "acorn/v1/store/+/up/events"


# --- child roles ---------------------------------------------------------------------------


def sale_batches(store: str, events: int, per_message: int, *, skus: int = 500) -> list[bytes]:
    """One store's ``events`` two-line sales (seq 1..), encoded as outbox batches would be."""
    from datetime import UTC, datetime

    from protocol.codec import encode_batch
    from protocol.envelope import new_envelope

    at = datetime.now(UTC)
    envs = []
    for seq in range(1, events + 1):
        body = {
            "sale_id": str(uuid.uuid4()),
            "receipt_no": f"{store}-{seq:06d}",
            "cashier_id": "c-1",
            "business_day": at.date().isoformat(),
            "currency": "EUR",
            "prices_include_tax": True,
            "lines": [
                {
                    "line_no": i,
                    "sku": f"SKU-{(seq * 7 + i) % skus:04d}",
                    "name": "Item",
                    "qty": 1,
                    "unit_price_minor": 250,
                    "tax_class": "standard",
                    "tax_rate_bp": 2000,
                    "tax_minor": 42,
                    "total_minor": 250,
                }
                for i in (1, 2)
            ],
            "subtotal_minor": 500,
            "tax_minor": 84,
            "total_minor": 500,
            "tenders": [{"kind": "card", "amount_minor": 500}],
            "completed_at": at.isoformat(),
        }
        envs.append(new_envelope(store, seq, "sale.completed", body, at=at))
    return [encode_batch(envs[i : i + per_message]) for i in range(0, events, per_message)]


def _payloads(n_stores: int, events: int, per_message: int) -> list[tuple[str, bytes]]:
    """Every store's stream, as (topic, payload) in publishing order, interleaved by store."""
    from protocol import topics

    streams = []
    for s in range(n_stores):
        store = f"b-{s:03d}"
        batches = sale_batches(store, events, per_message)
        streams.append([(topics.up_events(store), batch) for batch in batches])
    out = []
    for i in range(max(len(m) for m in streams)):
        for msgs in streams:
            if i < len(msgs):
                out.append(msgs[i])
    return out


def role_publish(args: argparse.Namespace) -> None:
    """Publish every store's stream (one client per store, QoS 1); print the first publish time."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    payloads = _payloads(args.stores, args.events, args.per_message)
    clients = {}
    for s in range(args.stores):
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{s}-{uuid.uuid4().hex[:6]}")
        c.connect(args.host, args.port)
        c.loop_start()
        clients[f"b-{s:03d}"] = c
    time.sleep(0.2)
    infos = []
    first = time.time()
    for topic, payload in payloads:
        store = topic.split("/")[3]
        infos.append(clients[store].publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    print(json.dumps({"first": first, "published": time.time(), "messages": len(payloads)}))
    for c in clients.values():
        c.disconnect()
        c.loop_stop()


def role_sink(args: argparse.Namespace) -> None:
    """Receive ``--expect`` messages (QoS 1); print the time of the last one."""
    run_sink(args.host, args.port, TOPIC_FILTER, expect=args.expect, timeout=300)


# --- orchestration -------------------------------------------------------------------------


def _child(role: str, args: argparse.Namespace, **extra: object) -> list[str]:
    argv = [sys.executable, __file__, "--role", role, "--host", args.host, "--port", str(args.port)]
    argv += ["--stores", str(args.stores), "--events", str(args.events)]
    argv += ["--per-message", str(args.per_message)]
    for k, v in extra.items():
        argv += [f"--{k}", str(v)]
    return argv


def measure_raw(args: argparse.Namespace) -> float:
    """Raw broker ceiling in events per second."""
    messages = args.stores * -(-args.events // args.per_message)
    sink = subprocess.Popen(
        _child("sink", args, expect=messages), stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None
        assert sink.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        pub = subprocess.run(_child("publish", args), capture_output=True, text=True, check=True)
        first = json.loads(pub.stdout)["first"]
        result = json.loads(sink.stdout.readline())
    finally:
        sink.terminate()
        sink.wait(10)
    return float(args.stores * args.events / (result["last"] - first))


def measure_hub(args: argparse.Namespace, url: str, log: Path) -> tuple[float, float]:
    """Hub rate in events per second, and seconds from the last publish to the last apply."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    from datetime import UTC, datetime

    with sessions.begin() as s:
        now = datetime.now(UTC)
        ledger = LedgerWriter(s, now=now)
        for i in range(args.stores):
            stores.create_store(
                s,
                store_id=f"b-{i:03d}",
                name=f"Bench {i}",
                timezone="Europe/Berlin",
                currency="EUR",
                now=now,
            )
            # Opening stock, as counted before the first sale: no SKU goes below zero.
            for sku in range(500):
                ledger.count(f"b-{i:03d}", f"SKU-{sku:04d}", 1_000_000, MovementContext(at=now))
        ledger.flush()
    env = {
        **os.environ,
        "ACORN_HUB_DATABASE_URL": url,
        "ACORN_HUB_MQTT_HOST": args.host,
        "ACORN_HUB_MQTT_PORT": str(args.port),
        "ACORN_HUB_LOG_LEVEL": "INFO",
    }
    workers = []
    for w in range(args.workers):
        env_w = {**env, "ACORN_HUB_WORKER_ID": f"bench-{w}-{uuid.uuid4().hex[:6]}"}
        out = log.open("ab")
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "acorn.cli", "hub", "serve", "--no-api"],
                env=env_w,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    target = args.stores * args.events
    try:
        # Publish only once every worker has subscribed: earlier messages have no session.
        started = time.time()
        while log.read_text(errors="replace").count("subscribed to") < args.workers:
            if time.time() - started > 120 or any(p.poll() is not None for p in workers):
                raise SystemExit(
                    f"hub workers did not subscribe; log tail:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        pub = subprocess.Popen(_child("publish", args), stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 900
        applied = 0
        while time.time() < deadline:
            with sessions() as s:
                applied = int(s.scalar(select(func.sum(StoreSync.contiguous_seq))) or 0)
            if applied >= target:
                break
            time.sleep(0.02)
        end = time.time()
        out_text, _ = pub.communicate(timeout=60)
        timing = json.loads(out_text)
        if applied < target:
            tail = log.read_text(errors="replace")[-4000:]
            raise SystemExit(f"hub applied only {applied} of {target} events; log tail:\n{tail}")
    finally:
        for p in workers:
            p.terminate()
            p.wait(20)
        engine.dispose()
    return target / (end - timing["first"]), end - timing["published"]


def seeded_engine(url: str, stores_n: int) -> Engine:
    """A migrated hub database with stores b-000.. and 1,000,000 units of 500 SKUs each."""
    from datetime import UTC, datetime

    engine = make_engine(url, writer=True)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        ledger = LedgerWriter(s, now=now)
        for i in range(stores_n):
            stores.create_store(
                s, store_id=f"b-{i:03d}", name="cpu", timezone="UTC", currency="EUR", now=now
            )
            for sku in range(500):
                ledger.count(f"b-{i:03d}", f"SKU-{sku:04d}", 1_000_000, MovementContext(at=now))
        ledger.flush()
    return engine


def measure_cpu(url: str, *, stores_n: int = 2, events: int = 1000) -> float:
    """The applier alone, in this process: events per CPU-second of the hub (no broker).

    Only this process's CPU counts (for PostgreSQL the server's work is not in it).
    Hooks that other parts add in `acorn hub serve` (routing) are not attached here.
    """
    from hub.ingest.apply import BatchApplier, InboundMessage

    engine = seeded_engine(url, stores_n)
    sessions = make_sessionmaker(engine)
    messages = [InboundMessage(t, p) for t, p in _payloads(stores_n, events, 10)]
    applier = BatchApplier(sessions)
    started = time.process_time()
    for i in range(0, len(messages), 20):
        applier.apply(messages[i : i + 20])
    cpu = time.process_time() - started
    engine.dispose()
    return stores_n * events / cpu


def main() -> None:
    """Parse arguments; run a child role or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--stores", type=int, help="stores publishing (10)")
    parser.add_argument("--events", type=int, help="events per store (3000)")
    parser.add_argument("--per-message", type=int, help="events per MQTT message (10)")
    parser.add_argument("--db", help="comma-separated: sqlite,postgres (both)")
    parser.add_argument("--workers", type=int, help="hub ingest workers (1)")
    parser.add_argument("--role", default="main", choices=["main", "publish", "sink"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--expect", type=int, default=0)
    args = apply_defaults(
        parser.parse_args(),
        {"stores": 10, "events": 3000, "per_message": 10, "db": "sqlite,postgres", "workers": 1},
        {"stores": 2, "events": 300, "db": "sqlite"},
    )
    if args.role == "publish":
        role_publish(args)
        return
    if args.role == "sink":
        role_sink(args)
        return

    from tests.fixtures.brokers import make_mosquitto
    from tests.fixtures.postgres import start_pg_server

    total = args.stores * args.events
    print(
        f"hub ingest: {args.stores} stores x {args.events} events = {total} sale events "
        f"(2 lines each), {args.per_message} events per MQTT message, QoS 1, "
        f"{args.workers} hub worker(s); nproc={os.cpu_count()}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        for db in args.db.split(","):
            broker = make_mosquitto(
                Path(tmp), users={}, acl=False, allow_anonymous=True, persistence=False
            )
            pg = None
            try:
                args.port = broker.port
                raw = measure_raw(args)
                if db == "sqlite":
                    url = f"sqlite:///{tmp}/hub-{uuid.uuid4().hex[:6]}.db"
                else:
                    pg = start_pg_server()
                    url = pg.url(pg.create_database("bench"))
                hub_rate, tail = measure_hub(args, url, Path(tmp) / f"hub-{db}.log")
                if db == "sqlite":
                    cpu_url = f"sqlite:///{tmp}/cpu-{uuid.uuid4().hex[:6]}.db"
                else:
                    assert pg is not None
                    cpu_url = pg.url(pg.create_database("bench_cpu"))
                cpu_rate = measure_cpu(cpu_url, events=min(1000, args.events))
            finally:
                broker.stop()
                if pg is not None:
                    pg.destroy()
            rows.append((db, raw, hub_rate, tail))
            print(
                f"  {db:9s} raw broker {raw:9,.0f} events/s | hub applied {hub_rate:8,.0f} "
                "events/s "
                f"| hub/raw {hub_rate / raw:5.1%} | last apply {tail:.2f} s after last publish"
                f" | applier alone {cpu_rate:,.0f} events per CPU-second"
            )
    print(load_line("at the end"))
    for db, raw, hub_rate, _tail in rows:
        figure(
            f"hub ingest on {db}, {args.workers} worker(s)",
            hub_rate,
            "events/s",
            ceiling="raw broker to one paho subscriber, same stream",
            ceiling_value=raw,
        )


if __name__ == "__main__":
    main()
