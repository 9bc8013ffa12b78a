"""Fuzzed MQTT payloads into the hub's ingest (``IngestWorker.process``, the path every
message from the broker takes) on a real, migrated SQLite file.

Each example is one store's story: good event batches delivered out of order, split
and duplicated, births and deaths, interleaved with broken payloads whose dead-letter
reason is known, the wrong store or topic, and blind mutations of another store's
traffic. Properties: nothing raises; every message is accounted for (applied,
duplicate, status or dead letter, with a documented reason and nothing the hub failed
on); every good event is applied exactly once, and the store's stock is what its good
events say.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.config import HubSettings
from hub.db import stores
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.models import AppliedEvent, DeadLetter, StockLevel, Store, StoreSync
from hub.ingest.apply import MAX_RAW_EXCERPT
from hub.ingest.mqtt import Delivery
from hub.ingest.worker import IngestWorker
from protocol import topics
from tests.fuzz import generators as gen
from tests.fuzz.conftest import count_payloads
from tests.fuzz.generators import FUZZ_PHASES
from tests.fuzz.oracles import HUB_FAILURES, HUB_REASONS, expected_on_hand, hub_verdict

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
OTHER = "fz-other"  # a known store that never sends in these tests
CHAFF = "fz-chaff"  # a known store whose traffic is mutated blindly
INACTIVE = "fz-gone"  # a deactivated store
UNKNOWN = "fz-nobody"  # never created
BAD_TOPICS = (
    "acorn/v1/store/{s}/up/weird",
    "acorn/v2/store/{s}/up/events",
    "acorn/v1/store/{s}/down/ack",
    "acorn/v1/store/{s}/up/events/extra",
    "acorn/v1/store/S_{s}/up/events",
    "acorn/v1/hub/status",
    "",
)
UNCERTAIN = frozenset({"seq_conflict", "duplicate_event_id"})  # blind mutations may cause these


@dataclass
class World:
    """The hub under test: database, worker, and a counter for fresh store ids."""

    sessions: sessionmaker[Session]
    worker: IngestWorker
    next_store: int = 0


@pytest.fixture
def world(hub_sqlite_template: Path, tmp_path: Path) -> Iterator[World]:
    """A migrated SQLite hub with the fixed stores, and a worker that is never connected."""
    shutil.copyfile(hub_sqlite_template, tmp_path / "hub.db")
    url = f"sqlite:///{tmp_path}/hub.db"
    engine: Engine = make_engine(url, writer=True)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        for store_id in (OTHER, CHAFF, INACTIVE):
            create(session, store_id)
        gone = session.get(Store, INACTIVE)
        assert gone is not None
        gone.active = False
    worker = IngestWorker(HubSettings(database_url=url), sessions, clock=lambda: NOW)
    try:
        yield World(sessions, worker)
    finally:
        engine.dispose()


def create(session: Session, store_id: str) -> None:
    stores.create_store(
        session,
        store_id=store_id,
        name=store_id,
        timezone="Europe/Berlin",
        currency="EUR",
        now=NOW,
    )


@dataclass
class Plan:
    """The messages of one example and what each should do."""

    deliveries: list[tuple[str, bytes]] = field(default_factory=list)
    exact: Counter[str] = field(default_factory=Counter)  # dead-letter reasons known up front
    payload_level: list[tuple[str, bytes]] = field(default_factory=list)  # dead whole, no seq
    blind: list[tuple[str, bytes]] = field(default_factory=list)
    good_duplicates: int = 0
    statuses: int = 0

    def add(self, topic: str, payload: bytes, *reasons: str, whole: bool = False) -> None:
        self.deliveries.append((topic, payload))
        self.exact.update(reasons)
        if whole:
            self.payload_level.append((topic, payload))


def _retarget(envelopes: list[dict[str, Any]], store: str) -> list[dict[str, Any]]:
    return [{**e, "store": store} for e in envelopes]


def plan_example(data: st.DataObject, store: str, good: list[dict[str, Any]]) -> Plan:
    """Good batches of ``store`` with everything that can go wrong around them."""
    plan = Plan()
    draw = data.draw
    chunks: list[list[dict[str, Any]]] = []
    order = draw(st.permutations(good))
    while order:
        size = draw(st.integers(1, len(order)))
        chunks.append(order[:size])
        order = order[size:]
    for chunk in chunks:
        items: list[Any] = list(chunk)
        # broken items inside a good batch: the good ones still apply
        reasons = []
        for _ in range(draw(st.integers(0, 2))):
            broken = draw(gen.broken_envelope(draw(st.sampled_from(good)), OTHER))
            items.insert(draw(st.integers(0, len(items))), broken.value)
            reasons.append(broken.reason)
        payload = gen.dumps(items)
        if draw(st.integers(0, 39)) == 0:
            payload = gen.at_limit(payload)  # exactly 256 KiB: still accepted
        plan.add(topics.up_events(store), payload, *reasons)
        for _ in range(draw(st.integers(0, 2))):  # QoS 1: delivered again
            plan.add(topics.up_events(store), payload, *reasons)
            plan.good_duplicates += len(chunk)
    # the store's presence: births (last_seq a hint at most N) and deaths
    for bd_seq in range(draw(st.integers(0, 3))):
        last_seq = draw(st.none() | st.integers(0, len(good)))
        birth = gen.status(store, bd_seq, online=draw(st.booleans()), last_seq=last_seq)
        plan.deliveries.append((topics.up_status(store), gen.dumps(birth)))
        plan.statuses += 1
    # broken payloads as a whole
    for _ in range(draw(st.integers(2, 10))):
        chunk = draw(st.sampled_from(chunks))
        broken = draw(gen.broken_payload(gen.dumps(chunk)))
        plan.add(topics.up_events(store), broken.value, broken.reason, whole=True)
    # good envelopes on the wrong topic, or of stores the hub does not take events from
    for _ in range(draw(st.integers(0, 3))):
        chunk = draw(st.sampled_from(chunks))
        kind = draw(st.sampled_from(["other_topic", "unknown", "inactive", "bad_topic"]))
        if kind == "other_topic":
            plan.add(topics.up_events(OTHER), gen.dumps(chunk), *["store_mismatch"] * len(chunk))
        elif kind == "unknown":
            moved = _retarget(chunk, UNKNOWN)
            plan.add(topics.up_events(UNKNOWN), gen.dumps(moved), *["unknown_store"] * len(chunk))
        elif kind == "inactive":
            moved = _retarget(chunk, INACTIVE)
            plan.add(topics.up_events(INACTIVE), gen.dumps(moved), *["store_inactive"] * len(chunk))
        else:
            topic = draw(st.sampled_from(BAD_TOPICS)).format(s=store)
            plan.add(topic, gen.dumps(chunk), "invalid_topic", whole=True)
    # broken status messages
    for _ in range(draw(st.integers(0, 3))):
        birth = gen.status(store, 9, online=True, last_seq=1)
        kind = draw(
            st.sampled_from(["version", "missing", "negative", "huge", "mismatch", "whole", "who"])
        )
        topic = topics.up_status(store)
        if kind == "version":
            plan.add(topic, gen.dumps({**birth, "v": 2}), "unsupported_version")
        elif kind == "missing":
            name = draw(st.sampled_from(["bdSeq", "online", "at", "store"]))
            plan.add(
                topic, gen.dumps({k: v for k, v in birth.items() if k != name}), "invalid_message"
            )
        elif kind == "negative":
            name = draw(st.sampled_from(["bdSeq", "outbox_depth", "last_seq"]))
            plan.add(topic, gen.dumps({**birth, name: -1}), "invalid_message")
        elif kind == "huge":
            name = draw(st.sampled_from(["bdSeq", "outbox_depth", "last_seq"]))
            plan.add(topic, gen.dumps({**birth, name: 2**64}), "invalid_message")
        elif kind == "mismatch":
            plan.add(topic, gen.dumps({**birth, "store": OTHER}), "store_mismatch")
        elif kind == "who":
            who = draw(st.sampled_from([UNKNOWN, INACTIVE]))
            reason = "unknown_store" if who == UNKNOWN else "store_inactive"
            plan.add(topics.up_status(who), gen.dumps({**birth, "store": who}), reason)
        else:
            broken = draw(gen.broken_payload(gen.dumps(birth)))
            plan.add(topic, broken.value, broken.reason, whole=True)
    # blind mutations of another store's traffic
    bases: list[tuple[str, Any]] = [
        (topics.up_status(CHAFF), gen.status(CHAFF, 1, online=True, last_seq=3)),
        *(
            (topics.up_events(CHAFF), [draw(gen.envelopes(CHAFF, seq))])
            for seq in range(1, draw(st.integers(1, 4)) + 1)
        ),
    ]
    rng = random.Random(draw(st.integers(0, 2**32), label="seed of the blind mutations"))
    for _ in range(draw(st.integers(40, 120))):
        topic, value = rng.choice(bases)
        payload = gen.mutate_blindly(rng, value)
        plan.deliveries.append((topic, payload))
        plan.blind.append((topic, payload))
    return plan


@settings(
    max_examples=gen.examples(35),
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
def test_hub_ingest_takes_fuzzed_payloads(world: World, data: st.DataObject) -> None:
    world.next_store += 1
    store = f"fz-s{world.next_store:05d}"
    with world.sessions.begin() as session:
        create(session, store)
        first_letter = session.scalar(select(func.max(DeadLetter.id))) or 0
    n = data.draw(st.integers(1, 12), label="good events")
    good = [data.draw(gen.envelopes(store, seq)) for seq in range(1, n + 1)]
    plan = plan_example(data, store, good)
    # Everything is drawn before anything runs: the database outlives the example.
    deliveries = data.draw(st.permutations(plan.deliveries))
    batches = []
    while deliveries:
        size = data.draw(st.integers(1, 25))
        batches.append(deliveries[:size])
        deliveries = deliveries[size:]
    # the same seqs again under other ids, and the same ids under other seqs
    conflicts = []
    for k, env in enumerate(data.draw(st.lists(st.sampled_from(good), max_size=2))):
        other_id = {**env, "id": gen.new_id()}
        conflicts.append((gen.dumps([other_id]), "seq_conflict"))
        conflicts.append((gen.dumps([{**env, "seq": n + 100 + k}]), "duplicate_event_id"))

    results = [
        world.worker.process(
            [Delivery(t, p, mid, 1, 0, 0.0) for mid, (t, p) in enumerate(batch, start=1)]
        )
        for batch in batches
    ]
    if conflicts:
        results.append(
            world.worker.process(
                [Delivery(topics.up_events(store), p, 1, 1, 0, 0.0) for p, _ in conflicts]
            )
        )
        plan.exact.update(reason for _, reason in conflicts)
    count_payloads("hub ingest", len(plan.deliveries) + len(conflicts))

    applied = sum(r.applied for r in results)
    duplicates = sum(r.duplicates for r in results)
    statuses = sum(r.statuses for r in results)
    dead: Counter[str] = Counter()
    per_store: Counter[str] = Counter()
    for r in results:
        dead.update(r.dead_reasons)
        per_store.update(r.applied_per_store)
    dead = +dead

    # every message accounted for: nothing vanished, nothing was counted twice
    items = sum(hub_verdict(t, p)[0] for t, p in plan.deliveries) + len(conflicts)
    assert applied + duplicates + statuses + sum(dead.values()) == items
    # dead letters: documented reasons, none from a failure of the hub itself
    assert set(dead) <= HUB_REASONS
    assert not set(dead) & HUB_FAILURES, dead
    blind = Counter[str]()
    for t, p in plan.blind:
        blind.update(hub_verdict(t, p)[1])
    for reason in set(dead) | set(plan.exact) | set(blind):
        expected = plan.exact[reason] + blind[reason]
        if reason in UNCERTAIN:
            assert dead[reason] >= expected, reason
        else:
            assert dead[reason] == expected, (reason, dead, plan.exact, blind)
    # every good event exactly once, and only the good ones of this store
    assert per_store[store] == n
    assert not {OTHER, UNKNOWN, INACTIVE} & set(per_store)
    assert duplicates >= plan.good_duplicates
    assert statuses >= plan.statuses
    with world.sessions() as session:
        rows = session.execute(
            select(AppliedEvent.seq, AppliedEvent.event_id).where(AppliedEvent.store_id == store)
        ).all()
        assert sorted((int(seq), str(eid)) for seq, eid in rows) == [
            (e["seq"], e["id"]) for e in good
        ]
        levels = {
            row.sku: row.on_hand
            for row in session.scalars(select(StockLevel).where(StockLevel.location_id == store))
        }
        expected = expected_on_hand(good)
        assert {k: v for k, v in levels.items() if v or k in expected} == expected
        sync = session.get(StoreSync, store)
        assert sync is not None
        assert sync.contiguous_seq == n
        letters = session.scalars(select(DeadLetter).where(DeadLetter.id > first_letter)).all()
        assert len(letters) <= sum(dead.values())
        assert bool(letters) == bool(dead)
        for letter in letters:
            assert letter.reason in HUB_REASONS
            assert letter.detail.strip()
            assert letter.payload is not None
            assert letter.status == "open"
        kept = {(letter.topic, bytes(letter.payload)) for letter in letters}
        for topic, payload in plan.payload_level:
            # an oversized payload is kept as its head only (it cannot be replayed)
            assert (topic[:256], payload[:MAX_RAW_EXCERPT]) in kept
