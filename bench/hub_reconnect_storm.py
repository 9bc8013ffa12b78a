"""Reconnect storm: N stores come back at once, each with a backlog of queued events.

Run: .venv/bin/python bench/hub_reconnect_storm.py [--stores 1000] [--events 100]
                                                   [--per-message 100] [--db sqlite]

Every simulated store is a lightweight MQTT 5 client (paho, driven by one selector
loop in a child process, not a full edge agent) with its own broker credentials
(Mosquitto password file and the Acorn ACL, one user per store). It behaves as an
agent does after an outage: connect (clean_start off, session expiry, Last Will),
subscribe to its ``down/#``, publish its retained birth, then publish its queued
``sale.completed`` events as protocol-valid batches (the real codec,
``--per-message`` events per message, the agent's default of 100, at most 10
batches in flight), and wait for the hub's ``down/ack`` of its last seq.

All N clients connect at once (one connect() after the other, as fast as the loop
goes; the spread is printed). Measured in the same run, each on a fresh broker:

1. ceiling: the raw broker with the same N connections, births and event messages,
   received by a plain paho subscriber (QoS 1) in its own process: seconds from
   "go" to the last event message received;
2. hub: ``acorn hub serve --no-api`` (its own process, shared subscription, real
   database) applies them: seconds from "go" until the database holds every
   event (sum of the stores' contiguous seq, polled every 50 ms), and until the
   last store received its final ack.

File descriptors: the broker holds one socket per store, the simulator another; the
script raises its soft RLIMIT_NOFILE to the hard limit (children inherit it) and sets
Mosquitto's ``max_connections`` to N + 50. Both are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import add_quick, apply_defaults, figure, load_line, pct, run_sink  # noqa: E402

FULL = {
    "stores": 1000,
    "events": 100,
    "per_message": 100,
    "db": "sqlite",
    "procs": 1,
    "timeout": 900.0,
}
QUICK = {"stores": 40, "events": 20, "per_message": 10, "timeout": 120.0}
SKUS = 20
MAX_INFLIGHT_BATCHES = 10  # as edge_agent.sync.service
UP_FILTER = "acorn/v1/store/+/up/events"


def store_id(i: int) -> str:
    """The id of simulated store number i."""
    return f"r-{i:04d}"


def password(store: str) -> str:
    """Each store's own broker password."""
    return f"{store}-secret"


# --- child: the simulated stores ----------------------------------------------------------


def build_batches(store: str, events: int, per_message: int) -> list[bytes]:
    """The store's queued events, encoded as the agent's outbox would send them."""
    from bench.hub_ingest import sale_batches

    return sale_batches(store, events, per_message, skus=SKUS)


@dataclass
class Sim:
    """One simulated store's connection state."""

    store: str
    batches: list[bytes]
    birth: bytes
    events: int
    wait_ack: bool
    client: Any = None
    next: int = 0
    inflight: set[int] = field(default_factory=set)
    pubacked: int = 0
    refused: int = 0
    connack_at: float | None = None
    done_at: float | None = None
    failed: str | None = None


def _pump(sim: Sim) -> None:
    from protocol import topics

    while len(sim.inflight) < MAX_INFLIGHT_BATCHES and sim.next < len(sim.batches):
        info = sim.client.publish(topics.up_events(sim.store), sim.batches[sim.next], qos=1)
        sim.inflight.add(info.mid)
        sim.next += 1


def role_stores(args: argparse.Namespace) -> None:
    """Simulate stores first..first+count-1; print 'ready', wait for 'go', report JSON."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from protocol import topics
    from protocol.codec import decode_down, encode
    from protocol.messages import AckMessage, StatusMessage

    wait_ack = args.mode == "hub"
    sims: list[Sim] = []
    for i in range(args.first, args.first + args.count):
        s = store_id(i)
        birth = StatusMessage(
            store=s,
            online=True,
            bdSeq=1,
            agent_version="bench",
            outbox_depth=args.events,
            oldest_unsynced_age_s=3600.0,
            last_seq=args.events,
            at=datetime.now(UTC),
        )
        sims.append(
            Sim(
                s,
                build_batches(s, args.events, args.per_message),
                encode(birth),
                args.events,
                wait_ack,
            )
        )

    def on_connect(client: Any, sim: Sim, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            sim.failed = f"CONNACK {reason}"
            return
        sim.connack_at = time.time()
        client.subscribe(topics.store_down_filter(sim.store), qos=1)
        client.publish(topics.up_status(sim.store), sim.birth, qos=1, retain=True)
        _pump(sim)

    def on_publish(_client: Any, sim: Sim, mid: int, reason: Any, _props: Any) -> None:
        if mid not in sim.inflight:
            return  # the birth
        sim.inflight.discard(mid)
        sim.pubacked += 1
        if reason.is_failure:
            sim.refused += 1
        _pump(sim)
        if not sim.wait_ack and sim.pubacked == len(sim.batches):
            sim.done_at = time.time()

    def on_message(_client: Any, sim: Sim, msg: Any) -> None:
        if not msg.topic.endswith("/down/ack"):
            return
        ack = decode_down(msg.topic, msg.payload)
        if isinstance(ack, AckMessage) and ack.seq >= sim.events and sim.done_at is None:
            sim.done_at = time.time()

    print("ready", flush=True)
    sys.stdin.readline()
    t_go = time.time()
    sel = selectors.DefaultSelector()
    for sim in sims:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{sim.store}-till",
            protocol=mqtt.MQTTv5,
            userdata=sim,
        )
        c.username_pw_set(sim.store, password(sim.store))
        death = StatusMessage(store=sim.store, online=False, bdSeq=1, at=datetime.now(UTC))
        c.will_set(topics.up_status(sim.store), encode(death), qos=1, retain=True)
        c.on_connect = on_connect
        c.on_publish = on_publish
        c.on_message = on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        sim.client = c
        try:
            c.connect(args.host, args.port, keepalive=60, clean_start=False, properties=props)
        except OSError as err:
            sim.failed = f"connect: {err}"
            continue
        sock = c.socket()
        if sock is None:
            sim.failed = "no socket after connect"
            continue
        sel.register(sock, selectors.EVENT_READ, sim)
    connects_issued = time.time()
    deadline = time.monotonic() + args.timeout
    last_misc = time.monotonic()
    lost = 0
    while time.monotonic() < deadline:
        if all(s.done_at is not None or s.failed for s in sims):
            break
        for key, _ in sel.select(timeout=0.02):
            sim = key.data
            if sim.client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                sim.failed = sim.failed or "connection lost"
                lost += 1
                sel.unregister(key.fileobj)
        for sim in sims:
            if sim.client is not None and sim.client.want_write():
                sim.client.loop_write()
        if time.monotonic() - last_misc > 1.0:
            last_misc = time.monotonic()
            for sim in sims:
                if sim.client is not None and sim.failed is None:
                    sim.client.loop_misc()
    for sim in sims:
        if sim.client is not None and sim.client.socket() is not None:
            sim.client.disconnect()
            sim.client.loop_write()
    connacks = [s.connack_at for s in sims if s.connack_at is not None]
    print(
        json.dumps(
            {
                "t_go": t_go,
                "connects_issued": connects_issued,
                "connack_last": max(connacks) if connacks else None,
                "connack_count": len(connacks),
                "done": [s.done_at for s in sims if s.done_at is not None],
                "failed": [f"{s.store}: {s.failed}" for s in sims if s.failed][:10],
                "failed_count": sum(1 for s in sims if s.failed),
                "refused": sum(s.refused for s in sims),
                "messages": sum(len(s.batches) for s in sims),
                "lost": lost,
            }
        ),
        flush=True,
    )


def role_sink(args: argparse.Namespace) -> None:
    """Receive ``--expect`` event messages (QoS 1) as the hub user; print the last time."""
    run_sink(
        args.host,
        args.port,
        UP_FILTER,
        expect=args.expect,
        timeout=args.timeout,
        auth=("hub", password("hub")),
        mqtt5=True,
    )


# --- orchestration ------------------------------------------------------------------------


def _argv(role: str, args: argparse.Namespace, **extra: object) -> list[str]:
    argv = [sys.executable, __file__, "--role", role, "--host", args.host, "--port", str(args.port)]
    argv += ["--events", str(args.events), "--per-message", str(args.per_message)]
    argv += ["--timeout", str(args.timeout)]
    for k, v in extra.items():
        argv += [f"--{k}", str(v)]
    return argv


def _read_line(proc: subprocess.Popen[str], what: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{what} exited (code {proc.wait()}) without answering")
    return line.strip()


def run_stores(args: argparse.Namespace, mode: str) -> tuple[list[subprocess.Popen[str]], float]:
    """Start the simulator processes; once all are ready, say go. Returns them and the go time."""
    procs = []
    per = -(-args.stores // args.procs)
    for first in range(0, args.stores, per):
        count = min(per, args.stores - first)
        procs.append(
            subprocess.Popen(
                _argv("stores", args, mode=mode, first=first, count=count),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        if _read_line(p, "store simulator") != "ready":
            raise SystemExit("store simulator did not get ready")
    go = time.time()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs, go


def collect(procs: list[subprocess.Popen[str]]) -> dict[str, Any]:
    """Merge the simulators' reports."""
    merged: dict[str, Any] = {
        "t_go": [],
        "connack_last": [],
        "connects_issued": [],
        "done": [],
        "failed": [],
        "failed_count": 0,
        "refused": 0,
        "messages": 0,
        "connack_count": 0,
    }
    for p in procs:
        r = json.loads(_read_line(p, "store simulator"))
        p.wait(30)
        merged["t_go"].append(r["t_go"])
        merged["connects_issued"].append(r["connects_issued"])
        if r["connack_last"] is not None:
            merged["connack_last"].append(r["connack_last"])
        merged["done"] += r["done"]
        merged["failed"] += r["failed"]
        for key in ("failed_count", "refused", "messages", "connack_count"):
            merged[key] += r[key]
    return merged


def start_broker(tmp: Path, args: argparse.Namespace) -> Any:
    """A fresh Mosquitto: one user per store plus the hub, the Acorn ACL, no persistence."""
    from tests.fixtures.brokers import make_mosquitto

    users = {"hub": password("hub")}
    users.update({store_id(i): password(store_id(i)) for i in range(args.stores)})
    return make_mosquitto(
        tmp,
        users=users,
        acl=True,
        persistence=False,
        extra_conf=f"max_connections {args.stores + 50}",
    )


def measure_raw(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The ceiling: the same connections and messages into a plain subscriber."""
    broker = start_broker(tmp, args)
    args.port = broker.port
    expect = args.stores * -(-args.events // args.per_message)
    sink = subprocess.Popen(_argv("sink", args, expect=expect), stdout=subprocess.PIPE, text=True)
    try:
        if _read_line(sink, "raw sink") != "ready":
            raise SystemExit("raw sink did not get ready")
        procs, go = run_stores(args, "raw")
        stores = collect(procs)
        result = json.loads(_read_line(sink, "raw sink"))
        sink.wait(30)
    finally:
        if sink.poll() is None:
            sink.kill()
        broker.stop()
    if result["received"] < expect:
        raise SystemExit(f"raw: the sink received {result['received']} of {expect} messages")
    return {"go": go, "seconds": result["last"] - go, **stores}


def prepare_hub_db(url: str, n_stores: int) -> None:
    """Migrate; create the stores with a counted opening stock (no sale goes below zero)."""
    from hub.db import stores
    from hub.db.engine import make_engine, make_sessionmaker
    from hub.db.ledger import LedgerWriter, MovementContext
    from hub.db.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        for i in range(n_stores):
            stores.create_store(
                s,
                store_id=store_id(i),
                name=f"Storm {i}",
                timezone="Europe/Berlin",
                currency="EUR",
                now=now,
            )
        ledger = LedgerWriter(s, now=now)
        keys = [(store_id(i), f"SKU-{sku:04d}") for i in range(n_stores) for sku in range(SKUS)]
        ledger.load(keys)  # one bulk read instead of one per (store, SKU)
        for key in keys:
            ledger.count(*key, 1_000_000, MovementContext(at=now))
        ledger.flush()
    engine.dispose()


def measure_hub(tmp: Path, args: argparse.Namespace, url: str) -> dict[str, Any]:
    """The hub: seconds from go until every event is applied, and until the last final ack."""
    from sqlalchemy import func, select

    from hub.db.engine import make_engine, make_sessionmaker
    from hub.db.models import StoreSync

    broker = start_broker(tmp, args)
    args.port = broker.port
    t = time.perf_counter()
    prepare_hub_db(url, args.stores)
    print(f"  hub database prepared in {time.perf_counter() - t:.1f} s ({args.stores} stores)")
    log = tmp / "hub.log"
    env = {
        **os.environ,
        "ACORN_HUB_DATABASE_URL": url,
        "ACORN_HUB_MQTT_HOST": args.host,
        "ACORN_HUB_MQTT_PORT": str(args.port),
        "ACORN_HUB_MQTT_USERNAME": "hub",
        "ACORN_HUB_MQTT_PASSWORD": password("hub"),
        "ACORN_HUB_LOG_LEVEL": "INFO",
        "ACORN_HUB_WORKER_ID": f"storm-{uuid.uuid4().hex[:6]}",
    }
    hub = subprocess.Popen(
        [sys.executable, "-m", "acorn.cli", "hub", "serve", "--no-api"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    target = args.stores * args.events
    procs: list[subprocess.Popen[str]] = []
    try:
        started = time.monotonic()
        while "subscribed to" not in log.read_text(errors="replace"):
            if time.monotonic() - started > 120 or hub.poll() is not None:
                raise SystemExit(f"the hub did not subscribe; log tail:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        procs, go = run_stores(args, "hub")
        deadline = time.monotonic() + args.timeout
        applied = 0
        applied_at = None
        while time.monotonic() < deadline:
            with sessions() as s:
                applied = int(s.scalar(select(func.sum(StoreSync.contiguous_seq))) or 0)
            if applied >= target:
                applied_at = time.time()
                break
            time.sleep(0.05)
        if applied_at is None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the hub applied {applied} of {target} events; log tail:\n{tail}")
        stores = collect(procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        hub.terminate()
        try:
            hub.wait(30)
        except subprocess.TimeoutExpired:
            hub.kill()
        engine.dispose()
        broker.stop()
    return {"go": go, "seconds": applied_at - go, "applied": applied, **stores}


def raise_fd_limit(needed: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; fail early if that is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the hard limit of open files is {hard}, {needed} needed (ulimit -Hn)")
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def main() -> None:
    """Parse arguments; run a child role or the whole benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.epilog = "\n".join(__doc__.splitlines()[2:])
    add_quick(parser)
    parser.add_argument("--stores", type=int, help=f"simulated stores (default {FULL['stores']})")
    parser.add_argument("--events", type=int, help="queued events per store (default 100)")
    parser.add_argument(
        "--per-message", type=int, help="events per MQTT message (default 100, the agent's batch)"
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], help="hub database (sqlite)")
    parser.add_argument("--procs", type=int, help="simulator processes (default 1)")
    parser.add_argument("--timeout", type=float, help="seconds to wait for the drain (900)")
    parser.add_argument("--role", default="main", choices=["main", "stores", "sink"])
    parser.add_argument("--mode", default="hub", choices=["hub", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = apply_defaults(parser.parse_args(), FULL, QUICK)
    if args.role == "stores":
        role_stores(args)
        return
    if args.role == "sink":
        role_sink(args)
        return

    soft, hard = raise_fd_limit(args.stores * 2 + 200)
    messages = args.stores * -(-args.events // args.per_message)
    total = args.stores * args.events
    print(
        f"reconnect storm: {args.stores} stores x {args.events} queued events = {total:,} "
        f"sale events, {args.per_message} per message ({messages:,} event messages + "
        f"{args.stores} births), MQTT 5, QoS 1, per-store credentials and ACL, hub on {args.db}"
    )
    print(
        f"  open files limit {soft} (hard {hard}); Mosquitto max_connections {args.stores + 50}; "
        f"{args.procs} simulator process(es)"
    )
    print("  " + load_line("at start"))
    with tempfile.TemporaryDirectory(prefix="bench-storm-") as tmp_name:
        tmp = Path(tmp_name)
        raw = measure_raw(tmp, args)
        pg = None
        try:
            if args.db == "sqlite":
                url = f"sqlite:///{tmp}/hub.db"
            else:
                from tests.fixtures.postgres import start_pg_server

                pg = start_pg_server()
                url = pg.url(pg.create_database("storm"))
            hub = measure_hub(tmp, args, url)
        finally:
            if pg is not None:
                pg.destroy()
    for name, r in (("raw broker", raw), ("hub", hub)):
        connack = max(r["connack_last"]) - r["go"] if r["connack_last"] else float("nan")
        issued = max(r["connects_issued"]) - r["go"]
        done = [d - r["go"] for d in r["done"]]
        print(
            f"  {name:10s}: {r['connack_count']}/{args.stores} CONNACKs, connect() calls done "
            f"{issued:.2f} s, last CONNACK {connack:.2f} s after go; failures {r['failed_count']}"
            f"{' ' + '; '.join(r['failed']) if r['failed'] else ''}; PUBACK refusals "
            f"{r['refused']}"
        )
        if done:
            what = "final ack" if name == "hub" else "all PUBACKs"
            print(
                f"  {'':10s}  per store, go -> {what}: p50 {pct(done, 0.5):.2f} s, "
                f"p95 {pct(done, 0.95):.2f} s, max {max(done):.2f} s ({len(done)} stores)"
            )
    print(
        f"  raw broker: last event message at the subscriber {raw['seconds']:.2f} s after go "
        f"({messages / raw['seconds']:,.0f} msgs/s, {total / raw['seconds']:,.0f} events/s)"
    )
    last_ack = max(hub["done"]) - hub["go"] if hub["done"] else float("nan")
    print(
        f"  hub:        all {hub['applied']:,} events applied {hub['seconds']:.2f} s after go "
        f"({total / hub['seconds']:,.0f} events/s); last store's final ack {last_ack:.2f} s"
    )
    print("  " + load_line("at the end"))
    figure(
        f"reconnect storm, {args.stores} stores x {args.events} events, time to apply all",
        hub["seconds"],
        "s",
        ceiling="raw broker, same connections and messages",
        ceiling_value=raw["seconds"],
        higher_is_better=False,
    )
    if hub["failed_count"] or raw["failed_count"] or len(hub["done"]) < args.stores:
        raise SystemExit("some stores failed or were never acked (see above)")


if __name__ == "__main__":
    main()
