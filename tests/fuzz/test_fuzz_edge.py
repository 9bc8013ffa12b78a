"""Fuzzed MQTT payloads into the edge's inbound handler (``InboundHandler.handle``, what
the sync client calls for every message) on a real, migrated edge SQLite file.

Each example is a fresh store: a catalog snapshot, then catalog deltas, routed orders,
cancellations, acks, commands and the store's own status, shuffled and duplicated,
interleaved with broken copies whose reason is known and with blind mutations judged by
the protocol decoder. Properties: ``handle`` never raises and never asks for a retry;
every bad message becomes exactly one dead letter with a documented reason (never
``handler_error``); every good message is applied once (later copies are duplicates),
and the catalog, the reservations and the hooks show exactly the good messages.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.store.db import Synchronous
from edge_agent.store.facade import EdgeStore, open_store
from edge_agent.store.models import DeadLetter, InboundMessage, Product, RoutedOrder, Stock
from edge_agent.sync.inbound import HandlerHooks, InboundHandler, Outcome
from protocol import topics
from protocol.codec import decode_down, decode_status
from protocol.errors import ProtocolError
from protocol.messages import CatalogMessage
from tests.fuzz import generators as gen
from tests.fuzz.conftest import count_payloads
from tests.fuzz.generators import FUZZ_PHASES
from tests.fuzz.oracles import EDGE_FAILURES, EDGE_REASONS

STORE = "fz-edge"
OTHER = "fz-other"
CURRENCY = "GBP"
REQUIRED = {
    "ack": ["store", "seq"],
    "orders": ["id", "store", "kind", "order_id", "channel", "lines", "at"],
    "catalog": ["id", "store", "version", "kind", "currency", "at"],
    "cmd": ["id", "store", "kind", "at"],
}


@dataclass
class Calls:
    """What the handler asked the sync service to do."""

    acks: list[int] = field(default_factory=list)
    resends: list[int] = field(default_factory=list)
    pings: int = 0
    statuses: int = 0


@dataclass
class Edge:
    """A fresh edge store per example, copied from a migrated template."""

    template: Path
    folder: Path
    n: int = 0

    def open(self) -> EdgeStore:
        self.n += 1
        path = self.folder / f"edge-{self.n}.db"
        shutil.copyfile(self.template, path)
        return open_store(path, STORE, synchronous=Synchronous.NORMAL)


@pytest.fixture
def edge(tmp_path: Path) -> Edge:
    template = tmp_path / "template.db"
    open_store(template, STORE).close()
    return Edge(template, tmp_path)


def handler_for(store: EdgeStore, calls: Calls) -> InboundHandler:
    """The real handler, with hooks that do what the sync service does to the outbox."""

    def on_ack(seq: int) -> None:
        calls.acks.append(seq)
        store.outbox.acknowledge(seq)

    def on_status(_status: Any) -> None:
        calls.statuses += 1

    def on_ping() -> None:
        calls.pings += 1

    return InboundHandler(
        store,
        CURRENCY,
        HandlerHooks(
            on_ack=on_ack,
            on_resend_from=calls.resends.append,
            on_ping=on_ping,
            on_status=on_status,
        ),
    )


def _product(draw: Any, sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": draw(gen.ids),
        "price_minor": draw(st.integers(0, 10**6)),
        "tax_class": "standard",
        "active": draw(st.booleans()),
        "barcodes": [gen.gtin14(gen.SKUS.index(sku) + 1)],
    }


def catalog(
    draw: Any, version: int, kind: str, products: list[str], removed: list[str]
) -> dict[str, Any]:
    return {
        "v": 1,
        "id": gen.new_id(),
        "store": STORE,
        "version": version,
        "kind": kind,
        "currency": CURRENCY,
        "products": [_product(draw, sku) for sku in products],
        "removed_skus": removed,
        "at": gen.AT,
    }


def order(draw: Any, order_id: str, kind: str) -> dict[str, Any]:
    return {
        "v": 1,
        "id": gen.new_id(),
        "store": STORE,
        "kind": kind,
        "order_id": order_id,
        "channel": "amazon-uk",
        "lines": (
            [
                {"sku": draw(st.sampled_from(gen.SKUS)), "name": "x", "qty": draw(gen.small_qty)}
                for _ in range(draw(st.integers(1, 2)))
            ]
            if kind == "routed"
            else []
        ),
        "at": gen.AT,
    }


def command(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["resend_from", "ping", "stock_count", "config"]))
    args: dict[str, Any] = {
        "resend_from": {"seq": draw(st.integers(1, 99))},
        "ping": {},
        "stock_count": {"sku": "SKU-A"},
        "config": {"receipt_footer": draw(gen.text)},
    }[kind]
    return {"v": 1, "id": gen.new_id(), "store": STORE, "kind": kind, "args": args, "at": gen.AT}


def broken_down(draw: Any, channel: str, message: dict[str, Any]) -> tuple[str, bytes, str]:
    """A good down message broken in one way whose dead-letter reason is known."""
    topic = f"acorn/v1/store/{STORE}/down/{channel}"
    kind = draw(
        st.sampled_from(
            [
                "payload",
                "version",
                "future",
                "missing",
                "store",
                "other_topic",
                "channel",
                "huge",
                "negative",
                "surrogate",
                "specific",
            ]
        )
    )
    if kind == "payload":
        broken = draw(gen.broken_payload(gen.dumps(message)))
        return topic, broken.value, broken.reason
    if kind == "version":
        return (
            topic,
            gen.dumps({**message, "v": draw(st.sampled_from([0, "1", None]))}),
            ("invalid_message"),
        )
    if kind == "future":
        return topic, gen.dumps({**message, "v": 2}), "unsupported_version"
    if kind == "missing":
        name = draw(st.sampled_from(REQUIRED[channel]))
        body = {k: v for k, v in message.items() if k != name}
        return topic, gen.dumps(body), "invalid_message"
    if kind == "store":
        return topic, gen.dumps({**message, "store": OTHER}), "store_mismatch"
    if kind == "other_topic":
        return f"acorn/v1/store/{OTHER}/down/{channel}", gen.dumps(message), "store_mismatch"
    if kind == "channel":
        bad = draw(st.sampled_from(["weird", "acks", "catalogue"]))
        return f"acorn/v1/store/{STORE}/down/{bad}", gen.dumps(message), "invalid_topic"
    numeric = {"ack": "seq", "catalog": "version", "orders": "lines", "cmd": "args"}[channel]
    if kind == "huge":
        value: Any = 2**63
        if channel == "orders":
            value = [{"sku": "SKU-A", "name": "x", "qty": 2**63}]
        elif channel == "cmd":
            value = {"seq": 2**64}
        return topic, gen.dumps({**message, numeric: value}), "invalid_message"
    if kind == "negative":
        value = -1
        if channel == "orders":
            value = [{"sku": "SKU-A", "name": "x", "qty": -1}]
        elif channel == "cmd":
            return (
                topic,
                gen.dumps({**message, "kind": "resend_from", "args": {}}),
                ("invalid_message"),
            )
        return topic, gen.dumps({**message, numeric: value}), "invalid_message"
    if kind == "surrogate":
        text = draw(st.sampled_from(["\udc00", "\x00", "a\ud800\x00"]))
        return topic, gen.dumps({**message, "note": text}), "invalid_message"
    # channel-specific: catalog in another currency or with a bad barcode, a routed
    # order without lines, an unknown command
    if channel == "catalog":
        if draw(st.booleans()):
            return topic, gen.dumps({**message, "currency": "EUR"}), "currency_mismatch"
        bad_product = {**_product(draw, "SKU-A"), "barcodes": ["4006381333932"]}
        return topic, gen.dumps({**message, "products": [bad_product]}), "invalid_message"
    if channel == "orders":
        return topic, gen.dumps({**message, "kind": "routed", "lines": []}), "invalid_message"
    if channel == "cmd":
        return topic, gen.dumps({**message, "kind": "reboot"}), "invalid_message"
    return topic, gen.dumps({**message, "seq": "7"}), "invalid_message"


def edge_verdict(topic: str, payload: bytes) -> str | None:
    """The reason a message must be dead-lettered for, by the decoder (None: it is good)."""
    try:
        if topic.endswith("/up/status"):
            decode_status(topic, payload)
            return None
        message = decode_down(topic, payload)
    except ProtocolError as err:
        return err.reason
    if isinstance(message, CatalogMessage) and message.currency != CURRENCY:
        return "currency_mismatch"
    return None


@settings(
    max_examples=gen.examples(70),
    deadline=None,
    derandomize=True,
    database=None,
    phases=FUZZ_PHASES,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_edge_inbound_takes_fuzzed_payloads(edge: Edge, data: st.DataObject) -> None:
    draw = data.draw
    # good messages: (channel, message); the snapshot goes first, everything else shuffled
    snapshot = catalog(draw, 1, "snapshot", list(gen.SKUS), [])
    good: list[tuple[str, dict[str, Any]]] = []
    for version in range(2, draw(st.integers(2, 7)) + 1):
        products = draw(st.lists(st.sampled_from(gen.SKUS), unique=True, max_size=3))
        removed = draw(st.lists(st.sampled_from(gen.SKUS), unique=True, max_size=2))
        removed = [sku for sku in removed if sku not in products]
        good.append(("catalog", catalog(draw, version, "delta", products, removed)))
    order_ids = [f"ord-{i}" for i in range(draw(st.integers(0, 4)))]
    good += [("orders", order(draw, oid, "routed")) for oid in order_ids]
    cancelled = draw(st.lists(st.sampled_from([*order_ids, "ord-unknown"]), max_size=2))
    good += [("orders", order(draw, oid, "cancelled")) for oid in cancelled]
    good += [("cmd", command(draw)) for _ in range(draw(st.integers(0, 4)))]
    good += [
        ("ack", {"v": 1, "store": STORE, "seq": draw(st.integers(0, 5))})
        for _ in range(draw(st.integers(0, 3)))
    ]
    deliveries: list[tuple[str, bytes, str | None]] = []  # topic, payload, expected reason
    for channel, message in good:
        topic = f"acorn/v1/store/{STORE}/down/{channel}"
        for _ in range(draw(st.integers(1, 3))):  # at least once
            deliveries.append((topic, gen.dumps(message), None))
    for _ in range(draw(st.integers(0, 2))):
        status = gen.status(STORE, draw(st.integers(0, 9)), online=draw(st.booleans()))
        deliveries.append((topics.up_status(STORE), gen.dumps(status), None))
    deliveries.append((topics.up_events(STORE), b"[]", None))  # its own events: ignored
    # structured breaks of good messages, and blind mutations judged by the decoder
    sources = [("catalog", snapshot), *good]
    for _ in range(draw(st.integers(5, 25))):
        channel, message = draw(st.sampled_from(sources))
        if "id" in message:
            message = {**message, "id": gen.new_id()}
        deliveries.append(broken_down(draw, channel, message))
    blind: list[tuple[str, bytes]] = []
    rng = random.Random(draw(st.integers(0, 2**32), label="seed of the blind mutations"))
    for _ in range(draw(st.integers(60, 160))):
        channel, message = rng.choice(sources)
        if "id" in message:  # a copy under its own id: if it still decodes it is a new message
            message = {**message, "id": gen.new_id()}
        topic = f"acorn/v1/store/{STORE}/down/{channel}"
        blind.append((topic, gen.mutate_blindly(rng, message)))
    order_of = draw(st.permutations(range(len(deliveries) + len(blind))))

    store = edge.open()
    calls = Calls()
    handler = handler_for(store, calls)
    outcomes: list[Outcome] = [handler.handle(topics.down_catalog(STORE), gen.dumps(snapshot))]
    blind_good = last_letter = 0
    for index in order_of:
        if index < len(deliveries):
            topic, payload, reason = deliveries[index]
        else:
            topic, payload = blind[index - len(deliveries)]
            reason = edge_verdict(topic, payload) or "?"
            if reason == "?" and topic.endswith(("/catalog", "/orders")):
                continue  # still a valid catalog or order: it would change what is checked
        outcome = handler.handle(topic, payload)
        outcomes.append(outcome)
        letters = store.db.execute_sql(
            "SELECT id, reason, detail, payload FROM dead_letter WHERE id > ?", (last_letter,)
        ).fetchall()
        last_letter = max([last_letter, *(row[0] for row in letters)])
        if reason is None:
            assert outcome in (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.IGNORED), topic
            assert not letters
        elif reason == "?":  # a blind mutation the decoder accepts: applied, or a no-op
            assert outcome in (Outcome.APPLIED, Outcome.DUPLICATE), (topic, payload)
            blind_good += 1
        else:
            assert outcome is Outcome.DEAD_LETTER, (topic, payload, reason)
            assert len(letters) == 1
            _, kept_reason, detail, kept = letters[0]
            assert kept_reason == reason, (kept_reason, detail)
            assert detail.strip()
            assert bytes(kept) == payload[:65536]
    count_payloads("edge inbound", len(outcomes))

    assert Outcome.RETRY not in outcomes
    reasons = Counter(d.reason for d in DeadLetter.select())
    assert set(reasons) <= EDGE_REASONS
    assert not set(reasons) & EDGE_FAILURES, reasons
    assert Counter(outcomes)[Outcome.DEAD_LETTER] == sum(reasons.values())
    # every good message with an id applied exactly once
    applied_ids = {row.id for row in InboundMessage.select()}
    good_ids = {m["id"] for _, m in [("catalog", snapshot), *good] if "id" in m}
    assert good_ids <= applied_ids
    assert len(applied_ids - good_ids) <= blind_good
    # the catalog: per product, the newest version that named it wins
    expected: dict[str, tuple[int, bool, int, str]] = {}
    for channel, message in [("catalog", snapshot), *good]:
        if channel != "catalog":
            continue
        for product in message["products"]:
            current = expected.get(product["sku"])
            if current is None or current[0] < message["version"]:
                expected[product["sku"]] = (
                    message["version"],
                    product["active"],
                    product["price_minor"],
                    product["name"],
                )
        for sku in message["removed_skus"]:
            current = expected.get(sku)
            if current is not None and current[0] < message["version"]:
                # price and name stay as they were when it arrived: not checked
                expected[sku] = (message["version"], False, -1, "")
    products = {
        p.sku: (p.catalog_version, bool(p.active), p.price_minor, p.name) for p in Product.select()
    }
    assert {
        sku: row if expected.get(sku, (0, 0, 0))[2] != -1 else (*row[:2], -1, "")
        for sku, row in products.items()
    } == expected
    assert store.catalog.version() == max(
        m["version"] for c, m in good + [("catalog", snapshot)] if c == "catalog"
    )
    # orders: a cancelled order is cancelled whatever the order of arrival; the others
    # reserve their lines once
    statuses = {row.order_id: row.status for row in RoutedOrder.select()}
    assert statuses == {
        **dict.fromkeys(order_ids, "routed"),
        **dict.fromkeys(cancelled, "cancelled"),
    }
    reserved: Counter[str] = Counter()
    for channel, message in good:
        if (
            channel == "orders"
            and message["kind"] == "routed"
            and message["order_id"] not in cancelled
        ):
            for line in message["lines"]:
                reserved[line["sku"]] += line["qty"]
    assert {s.sku: s.reserved for s in Stock.select() if s.reserved} == dict(reserved)
    # hooks: every ack and status delivery reached the service; commands once per id
    # (blind mutations that still decode may add calls of their own)
    good_deliveries = Counter(t.rsplit("/", 2)[-2:][1] for t, _, r in deliveries if r is None)
    assert len(calls.acks) >= good_deliveries["ack"]
    assert calls.statuses >= good_deliveries["status"]
    commands = [m for c, m in good if c == "cmd"]
    resends = Counter(m["args"]["seq"] for m in commands if m["kind"] == "resend_from")
    assert resends <= Counter(calls.resends)
    assert calls.pings >= sum(1 for m in commands if m["kind"] == "ping")
    assert store.outbox.acked_seq() <= store.last_seq()
    store.close()
